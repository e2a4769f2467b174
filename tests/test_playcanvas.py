"""The PlayCanvas API client against the emulator: rate limits, retries, final errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from playcanvas_backup import retries
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import (
    ApiError,
    ApiUnreachable,
    BackupError,
    RateLimited,
    TimedOut,
    TransientError,
)
from playcanvas_backup.playcanvas import (
    BRANCH_PAGE,
    MAX_ATTEMPTS,
    MAX_BODY,
    MAX_BRANCHES,
    MAX_PAGES,
    ExportJob,
    PlayCanvasApi,
)
from playcanvas_backup.ratelimit import STRICT
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


def later(seconds: float = 60, clock: Callable[[], float] = time.time) -> Deadline:
    return Deadline.after(seconds, clock=clock)


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
    assert api.limits.ready_in(STRICT) == 0
    api.start_export(7, branch_id=None, deadline=later())
    api.start_export(7, branch_id=None, deadline=later())

    assert 0 < api.limits.ready_in(STRICT) <= 1.0


def test_a_429_is_retried_after_a_short_wait(pc: Emulator) -> None:
    job = client(pc).start_export(7, branch_id=None, deadline=later())
    pc.faults.rate_limited = 1
    sleeps = Sleeps()

    assert client(pc, sleeps).get_job(job.id, deadline=later(60, sleeps.clock)).id == job.id
    assert len(sleeps.waits) == 1 and 1 <= sleeps.waits[0] <= 2  # Retry-After 1, backoff 1-2
    assert len(pc.api_requests("GET")) == 2


def test_a_429_waits_as_long_as_retry_after_says(pc: Emulator) -> None:
    pc.hostile.always_429 = {"Retry-After": "45"}
    sleeps = Sleeps()

    with pytest.raises(RateLimited):
        client(pc, sleeps).get_job(1, deadline=later(600, sleeps.clock))

    assert sleeps.waits[0] == 45


@pytest.mark.parametrize(
    "retry_after", ["0", "-3", "nan", "1e400", "\u00b2", "Thu, 01 Jan 1970 00:00:00 GMT"]
)
def test_a_429_waits_at_least_the_growing_backoff(pc: Emulator, retry_after: str) -> None:
    pc.hostile.always_429 = {"Retry-After": retry_after}
    sleeps = Sleeps()

    with pytest.raises(RateLimited):
        client(pc, sleeps).get_job(1, deadline=later(3600, sleeps.clock))

    assert len(pc.api_requests()) == retries.API.uncounted_in_a_row
    assert all(wait >= 1 for wait in sleeps.waits)
    assert sleeps.waits[-1] > 8


def test_a_reset_past_the_deadline_fails_without_waiting(pc: Emulator) -> None:
    pc.hostile.api_headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + 86_400),
    }
    sleeps = Sleeps()
    api = client(pc, sleeps)
    job = api.start_export(7, branch_id=None, deadline=later())
    api.get_job(job.id, deadline=later())

    with pytest.raises(TimedOut, match=r"PlayCanvas asked us to wait 2[34] h [0-9]+ min"):
        api.get_job(job.id, deadline=later(600))

    assert sleeps.waits == []
    assert len(pc.api_requests()) == 2


def test_a_reset_within_the_deadline_is_waited_for(pc: Emulator) -> None:
    pc.hostile.api_headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}
    sleeps = Sleeps()
    api = client(pc, sleeps)
    job = api.start_export(7, branch_id=None, deadline=later())
    api.get_job(job.id, deadline=later())
    api.get_job(job.id, deadline=later(600))

    assert len(sleeps.waits) == 1 and 29 <= sleeps.waits[0] <= 30


@pytest.mark.parametrize(
    "api_url", ["ftp://127.0.0.1/api", "http://127.0.0.1:99999/api", "http://[::1/api"]
)
def test_an_unusable_url_is_final(api_url: str) -> None:
    sleeps = Sleeps()
    api = PlayCanvasApi(api_url, "token-xyz", sleep=sleeps, clock=sleeps.clock)

    with pytest.raises(ApiUnreachable, match="final"):
        api.get_job(1, deadline=later())

    assert sleeps.waits == []


def test_a_429_that_outlasts_the_deadline_gives_up(pc: Emulator) -> None:
    pc.faults.rate_limited = 100
    sleeps = Sleeps()

    with pytest.raises(TimedOut, match="asked us to wait"):
        client(pc, sleeps).start_export(7, branch_id=None, deadline=later(0.5, sleeps.clock))

    assert sleeps.waits == []


def test_server_errors_are_retried_then_given_up(pc: Emulator) -> None:
    pc.faults.server_errors = 100
    sleeps = Sleeps()

    with pytest.raises(TransientError, match="503"):
        client(pc, sleeps).list_branches(7, deadline=later(600, sleeps.clock))

    assert len(pc.api_requests()) == MAX_ATTEMPTS
    assert len(sleeps.waits) == MAX_ATTEMPTS - 1
    assert sleeps.waits[0] < 2 < sleeps.waits[-1] <= 31  # exponential, capped


def test_not_found_is_final(pc: Emulator) -> None:
    with pytest.raises(ApiError) as failure:
        client(pc).start_export(8, branch_id=None, deadline=later())

    assert failure.value.status == 404
    assert '"Project not found"' in str(failure.value)
    assert len(pc.api_requests()) == 1


def test_lists_open_branches_across_pages(pc: Emulator) -> None:
    pc.add_project(9, branches=tuple(f"b{i}" for i in range(5)))
    pc.close_branch(9, "b2")
    pc.faults.branch_page_size = 2

    branches = client(pc).list_branches(9, deadline=later())

    assert [b.name for b in branches] == ["b0", "b1", "b3", "b4"]
    pages = pc.api_requests("GET", "/branches")
    assert [page.query.get("skip") for page in pages] == [None, [branches[1].id]]


def test_asks_the_editors_page_size_of_branches(pc: Emulator) -> None:
    client(pc).list_branches(7, deadline=later())

    (page,) = pc.api_requests("GET", "/branches")
    assert page.query["limit"] == [str(BRANCH_PAGE)] and "closed" not in page.query


def test_lists_closed_branches_only_when_asked_with_closed_true(pc: Emulator) -> None:
    pc.add_project(9, branches=("main", "old", "older"))
    pc.close_branch(9, "old")
    pc.close_branch(9, "older")

    closed = client(pc).list_branches(9, deadline=later(), closed=True)

    assert [(b.name, b.closed) for b in closed] == [("old", True), ("older", True)]
    assert pc.api_requests("GET", "/branches")[0].query["closed"] == ["true"]


# -- a hostile API ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["new", "alternating"])
def test_a_branch_list_that_never_ends_is_an_error(pc: Emulator, mode: str) -> None:
    pc.hostile.endless_branches = mode

    with pytest.raises(ApiError, match="branches of project 7"):
        client(pc).list_branches(7, deadline=later())

    assert len(pc.api_requests()) == (MAX_PAGES if mode == "new" else 3)


def test_a_branch_list_longer_than_the_cap_is_an_error(pc: Emulator) -> None:
    pc.add_project(9, branches=tuple(f"b{i}" for i in range(MAX_BRANCHES + 1)), archive_size=1)
    pc.faults.branch_page_size = 1000

    with pytest.raises(ApiError, match=f"more than {MAX_BRANCHES} branches"):
        client(pc).list_branches(9, deadline=later())


def test_the_branch_list_stops_at_the_deadline(pc: Emulator) -> None:
    pc.hostile.endless_branches = "new"
    start = time.time()

    def clock() -> float:  # every page takes five seconds
        return start + 5 * len(pc.api_requests())

    api = PlayCanvasApi(pc.api_url, pc.token, sleep=Sleeps(), clock=clock)
    with pytest.raises(BackupError, match="timeout"):
        api.list_branches(7, deadline=Deadline(start + 30, clock, 30))

    assert len(pc.api_requests()) < 10


def test_an_answer_over_the_size_cap_is_refused(pc: Emulator) -> None:
    pc.hostile.huge_body = MAX_BODY + 1

    with pytest.raises(ApiError, match="more than 4 MiB"):
        client(pc).get_job(1, deadline=later())

    assert len(pc.api_requests()) == 1


def test_an_answer_over_the_size_cap_without_a_length_is_cut_off_while_read(
    pc: Emulator,
) -> None:
    pc.hostile.huge_body, pc.hostile.huge_body_length = 64 * MAX_BODY, False

    with pytest.raises(ApiError, match="more than 4 MiB"):
        client(pc).get_job(1, deadline=later())

    assert len(pc.api_requests()) == 1


def test_an_answer_within_the_size_cap_is_read(pc: Emulator) -> None:
    pc.hostile.huge_body = MAX_BODY

    with pytest.raises(ApiError, match="not an export job"):
        client(pc).get_job(1, deadline=later())


def test_a_token_echoed_in_an_error_is_redacted(pc: Emulator) -> None:
    pc.hostile.error_status = 403
    pc.hostile.error_text = "bad token {token}"
    pc.hostile.error_count = 1

    with pytest.raises(ApiError) as failure:
        client(pc).get_job(1, deadline=later())

    assert '"bad token ***"' in str(failure.value)
    assert pc.token not in str(failure.value)


def test_an_error_text_is_quoted_on_one_line_and_capped(pc: Emulator) -> None:
    pc.hostile.error_status = 400
    pc.hostile.error_text = "line one\n::warning::x " + "y" * 5000
    pc.hostile.error_count = 1

    with pytest.raises(ApiError) as failure:
        client(pc).get_job(1, deadline=later())

    message = str(failure.value)
    assert "line one\\n::warning::x yyy" in message and "\n" not in message
    assert len(message) < 600


@pytest.mark.parametrize("job_id", [True, 0, -4, 1 << 64, "12", 1.5])
def test_a_job_id_that_is_not_a_plain_id_is_refused(job_id: object) -> None:
    with pytest.raises(ApiError, match="not an export job"):
        ExportJob.from_json({"id": job_id, "status": "running"})
