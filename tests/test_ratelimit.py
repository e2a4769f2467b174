"""Rate-limit arithmetic over PlayCanvas's headers."""

from __future__ import annotations

import math
from email.utils import formatdate

import pytest

from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import TimedOut
from playcanvas_backup.ratelimit import (
    NORMAL,
    STRICT,
    Limits,
    Window,
    retry_after,
    window_from_headers,
)

NOW = 1_800_000_000.0


def test_reads_the_window_from_the_headers() -> None:
    headers = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 42),
    }
    window = window_from_headers(headers, NOW)
    assert window == Window(limit=10, remaining=0, reset_at=NOW + 42)
    assert window is not None and window.wait(NOW) == 42


def test_no_headers_no_window() -> None:
    assert window_from_headers({}, NOW) is None


def test_remaining_requests_mean_no_wait() -> None:
    assert Window(limit=10, remaining=3, reset_at=NOW + 42).wait(NOW) == 0


def test_spending_the_last_request_means_waiting_for_the_reset() -> None:
    window = Window(limit=10, remaining=1, reset_at=NOW + 5).spend()
    assert window.remaining == 0 and window.wait(NOW) == 5


def test_a_past_reset_means_no_wait() -> None:
    assert Window(limit=10, remaining=0, reset_at=NOW - 1).wait(NOW) == 0


def test_retry_after_in_seconds_wins() -> None:
    assert retry_after({"Retry-After": "7", "X-RateLimit-Reset": str(int(NOW) + 50)}, NOW) == 7


def test_retry_after_as_an_http_date() -> None:
    assert retry_after({"Retry-After": formatdate(NOW + 90, usegmt=True)}, NOW) == 90


def test_without_retry_after_the_reset_tells() -> None:
    assert retry_after({"X-RateLimit-Reset": str(int(NOW) + 30)}, NOW) == 30


def test_a_small_reset_is_seconds_from_now() -> None:
    assert retry_after({"X-RateLimit-Reset": "12"}, NOW) == 12


def test_nothing_said_means_unknown() -> None:
    assert retry_after({"Retry-After": "soon"}, NOW) is None


# -- numbers from a hostile server (issue 9) -------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-5", "\u00b2", "0x10", "", "1" * 70])
def test_a_remaining_count_that_is_not_plain_digits_means_no_window(value: str) -> None:
    assert window_from_headers({"X-RateLimit-Remaining": value}, NOW) is None


def test_an_absurd_limit_is_unknown() -> None:
    window = window_from_headers({"X-RateLimit-Remaining": "3", "X-RateLimit-Limit": "1e400"}, NOW)
    assert window == Window(limit=None, remaining=3, reset_at=None)


@pytest.mark.parametrize("value", ["1e400", "nan", "-99999999999", "999999999999", "\u00b2"])
def test_a_reset_that_is_not_a_sane_time_is_unknown(value: str) -> None:
    window = window_from_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": value}, NOW)
    assert window is not None and window.reset_at is None and window.wait(NOW) == 0


@pytest.mark.parametrize("value", ["0", "-3", "nan", "1e400", formatdate(0, usegmt=True)])
def test_a_retry_after_asking_for_no_wait_is_zero_or_unknown(value: str) -> None:
    wait = retry_after({"Retry-After": value}, NOW)
    assert wait is None or wait == 0


def test_a_retry_after_date_in_a_later_millennium_is_unknown() -> None:
    assert retry_after({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, NOW) is None


def test_a_retry_after_date_a_day_ahead_is_a_day() -> None:
    wait = retry_after({"Retry-After": formatdate(NOW + 86_400, usegmt=True)}, NOW)
    assert wait is not None and math.isclose(wait, 86_400)


# -- Limits: the one record the client waits by and the run asks --------------------------------

USED_UP = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}


def test_a_used_up_window_makes_its_kind_wait_until_the_reset_and_only_its_kind() -> None:
    limits = Limits(clock=lambda: 1000.0)
    limits.heard(STRICT, USED_UP, 1000.0)

    assert limits.ready_in(STRICT) == 30.0
    assert limits.ready_in(NORMAL) == 0.0
    assert limits.limit(STRICT) == 5


def test_a_request_waits_for_its_window_then_counts_against_it() -> None:
    now = [1000.0]
    slept: list[float] = []
    limits = Limits(clock=lambda: now[0])
    limits.heard(NORMAL, {**USED_UP, "X-RateLimit-Remaining": "1"}, now[0])

    limits.wait(NORMAL, Deadline.never(), what="Listing", sleep=slept.append, log=print)
    assert slept == [] and limits.ready_in(NORMAL) == 30.0  # that was the window's last

    limits.wait(NORMAL, Deadline.never(), what="Listing", sleep=slept.append, log=print)
    assert slept == [30.0]


def test_a_window_resetting_after_the_deadline_fails_at_once_without_sleeping() -> None:
    slept: list[float] = []
    limits = Limits(clock=lambda: 1000.0)
    limits.heard(STRICT, {**USED_UP, "X-RateLimit-Reset": "86400"}, 1000.0)

    with pytest.raises(TimedOut, match="for the export limit"):
        limits.wait(
            STRICT,
            Deadline(1005.0, clock=lambda: 1000.0, seconds=5),
            what="Exporting",
            sleep=slept.append,
            log=print,
        )
    assert slept == []
