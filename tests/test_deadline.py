"""The one clock of record: what a deadline allows, on its own."""

from __future__ import annotations

import pytest

from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import TimedOut


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_deadline_counts_down_from_when_it_was_made() -> None:
    clock = Clock()
    deadline = Deadline.after(5, clock=clock)
    clock.now += 2

    assert deadline.left() == 3 and not deadline.expired()
    clock.now += 3
    assert deadline.expired()


def test_check_fails_once_the_deadline_has_passed() -> None:
    clock = Clock()
    deadline = Deadline.after(5, clock=clock)
    deadline.check("the download")
    clock.now += 5

    with pytest.raises(TimedOut, match=r"the download did not finish within 'timeout' \(5 s\)"):
        deadline.check("the download")


def test_a_socket_timeout_never_reaches_past_the_deadline() -> None:
    clock = Clock()
    deadline = Deadline.after(5, clock=clock)

    assert deadline.timeout(60) == 5
    assert deadline.timeout(2) == 2
    clock.now += 10
    assert deadline.timeout(60) == 0.001  # never 0, which would mean "don't block"


def test_a_wait_that_fits_is_slept() -> None:
    clock = Clock()
    Deadline.after(5, clock=clock).sleep(4, who="PlayCanvas", sleep=clock.sleep)

    assert clock.now == 1004


def test_a_wait_that_would_cross_the_deadline_fails_at_once_saying_why() -> None:
    clock = Clock()
    deadline = Deadline.after(5, clock=clock)

    with pytest.raises(TimedOut) as raised:
        deadline.sleep(86_399, who="PlayCanvas", purpose="for the export limit", sleep=clock.sleep)

    assert clock.now == 1000
    assert str(raised.value).startswith(
        "PlayCanvas asked us to wait 23 h 59 min for the export limit; longer than 'timeout' (5 s)"
    )


def test_no_deadline_allows_any_wait() -> None:
    clock = Clock()
    Deadline.never(clock=clock).sleep(86_400, who="PlayCanvas", sleep=clock.sleep)

    assert clock.now == 1000 + 86_400
