"""The PlayCanvas API client against the emulator: rate limits, retries, final errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from playcanvas_backup.errors import ApiError, RateLimited, TransientError
from playcanvas_backup.playcanvas import MAX_ATTEMPTS, STRICT, PlayCanvasApi
from tests.emulator import Emulator


@pytest.fixture
def pc() -> Iterator[Emulator]:
    with Emulator(strict_limit=2, rate_window=1.0) as emulator:
        emulator.add_project(7, branches=("main", "dev"))
        yield emulator


class Sleeps:
    """Records the waits asked for instead of waiting; its clock moves on by them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def clock(self) -> float:
        return time.time() + sum(self.waits)


def client(pc: Emulator, sleep: Sleeps | None = None) -> PlayCanvasApi:
    sleep = sleep or Sleeps()
    return PlayCanvasApi(pc.api_url, pc.token, sleep=sleep, clock=sleep.clock)


def later(seconds: float = 60) -> float:
    return time.time() + seconds


def test_accepts_any_2xx_for_an_export(pc: Emulator) -> None:
    job = client(pc).start_export(7, branch_id=None, deadline=later())

    assert job.id > 0 and job.status == "running" and job.url is None


def test_waits_for_the_window_instead_of_going_over_the_limit(pc: Emulator) -> None:
    api = PlayCanvasApi(pc.api_url, pc.token)  # real sleep: the window is one second
    for _ in range(5):
        api.start_export(7, branch_id=None, deadline=later())

    assert pc.over_limit == 0
    assert len(pc.api_requests("POST")) == 5


def test_reports_when_the_strict_window_has_room(pc: Emulator) -> None:
    api = client(pc)
    assert api.ready_in(STRICT) == 0
    api.start_export(7, branch_id=None, deadline=later())
    api.start_export(7, branch_id=None, deadline=later())

    assert 0 < api.ready_in(STRICT) <= 1.0


def test_a_429_waits_as_long_as_retry_after_says(pc: Emulator) -> None:
    job = client(pc).start_export(7, branch_id=None, deadline=later())
    pc.faults.rate_limited = 1
    sleeps = Sleeps()

    assert client(pc, sleeps).get_job(job.id, deadline=later()).id == job.id
    assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 1
    assert len(pc.api_requests("GET")) == 2


def test_a_429_that_outlasts_the_deadline_gives_up(pc: Emulator) -> None:
    pc.faults.rate_limited = 100
    sleeps = Sleeps()

    with pytest.raises(RateLimited):
        client(pc, sleeps).start_export(7, branch_id=None, deadline=later(0.5))

    assert sleeps.waits == []


def test_server_errors_are_retried_then_given_up(pc: Emulator) -> None:
    pc.faults.server_errors = 100
    sleeps = Sleeps()

    with pytest.raises(TransientError, match="503"):
        client(pc, sleeps).list_branches(7, deadline=later(600))

    assert len(pc.api_requests()) == MAX_ATTEMPTS
    assert len(sleeps.waits) == MAX_ATTEMPTS - 1
    assert sleeps.waits[0] < 2 < sleeps.waits[-1] <= 31  # exponential, capped


def test_not_found_is_final(pc: Emulator) -> None:
    with pytest.raises(ApiError) as failure:
        client(pc).start_export(8, branch_id=None, deadline=later())

    assert failure.value.status == 404
    assert '"Project not found"' in str(failure.value)
    assert len(pc.api_requests()) == 1


def test_lists_branches_across_pages_without_closed_ones(pc: Emulator) -> None:
    pc.add_project(9, branches=tuple(f"b{i}" for i in range(5)))
    pc.close_branch(9, "b2")
    pc.faults.branch_page_size = 2

    branches = client(pc).list_branches(9, deadline=later())

    assert [b.name for b in branches] == ["b0", "b1", "b3", "b4"]
    assert len(pc.api_requests("GET", "/branches")) == 3
