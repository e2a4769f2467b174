"""The run loop in-process: the real loop and API client against the emulator over real
HTTP on loopback, on an emulated clock (each sleep moves the clock on at once)."""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from playcanvas_backup import http, playcanvas
from playcanvas_backup.config import load
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.download import Archive
from playcanvas_backup.playcanvas import PlayCanvasApi
from playcanvas_backup.result import ArchiveResult
from playcanvas_backup.run import Upload, run
from playcanvas_backup.workflow import Workflow
from tests.emulator import Emulator

#: A moment at the start of a 60-second rate-limit window (and of a minute).
WINDOW_START = 1_800_000_000.0


class EmulatedClock:
    """Time that moves only when slept."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> EmulatedClock:
    return EmulatedClock(WINDOW_START + 1)


@pytest.fixture
def pc(clock: EmulatedClock) -> Iterator[Emulator]:
    with Emulator(clock=clock.time) as emulator:
        emulator.add_project(1, branches=("main", "dev"))
        emulator.add_project(2)
        yield emulator


class RunClock(Protocol):
    """What a run needs of a clock: the time, and a sleep that moves it."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


def back_up(
    pc: Emulator,
    clock: RunClock,
    folder: Path,
    *,
    upload: Upload | None = None,
    **inputs: str,
) -> tuple[list[ArchiveResult], str]:
    given = {
        "access-token": pc.token,
        "project-id": "1",
        "api-url": pc.api_url,
        "path": str(folder),
        "upload-artifact": "false",
        **{name.replace("_", "-"): value for name, value in inputs.items()},
    }
    settings = load(given, {}, cwd=folder)
    log = io.StringIO()
    workflow = Workflow({}, out=log, err=log)
    with http.session() as api_session, http.session() as download_session:
        api = PlayCanvasApi(
            settings.api_url,
            settings.access_token,
            session=api_session,
            clock=clock.time,
            sleep=clock.sleep,
            log=workflow.info,
        )
        results = run(
            settings,
            api=api,
            session=download_session,
            workflow=workflow,
            upload=upload,
            clock=clock.time,
            sleep=clock.sleep,
            rng=lambda: 1.0,
        )
    return results, log.getvalue()


def test_an_unexpected_exception_fails_its_archive_only(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    def upload(archive: Archive, name: str, deadline: Deadline) -> tuple[int, str]:
        if "-1-" in name + "-":
            raise OSError(28, "No space left on device")
        return 7, "https://github.example/artifacts/7"

    results, log = back_up(pc, clock, tmp_path, upload=upload, project_id="1 2")

    first, second = results
    assert first.error is not None and "OSError" in first.error
    assert first.path is not None and first.path.is_file()  # the saved archive stays
    assert second.error is None and second.artifact_id == 7
    assert "error: Backup of project 1 (main) failed: Unexpected error" in log


def test_file_names_and_artifact_names_do_not_collide_with_each_other(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    names: list[str] = []

    def upload(archive: Archive, name: str, deadline: Deadline) -> tuple[int, str]:
        names.append(name)
        return len(names), f"https://github.example/artifacts/{len(names)}"

    results, _ = back_up(
        pc,
        clock,
        tmp_path,
        upload=upload,
        project_id="1 2",
        filename="backup-{project_id}",
        artifact_name="backup-{project_id}",
    )

    assert [r.error for r in results] == [None, None]
    assert names == ["backup-1", "backup-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup-1", "backup-2"]


def test_a_running_job_is_reported_at_most_every_30_seconds(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.job_polls, pc.faults.job_seconds = 0, 95

    (result,), log = back_up(pc, clock, tmp_path)

    assert result.error is None
    still = [line for line in log.splitlines() if "still running" in line]
    job = result.job_id
    assert still == [
        f"project 1 (main): export job {job} still running after 30.0 s",
        f"project 1 (main): export job {job} still running after 1 min 0 s",
        f"project 1 (main): export job {job} still running after 1 min 30 s",
    ]


def test_a_job_complete_at_once_is_downloaded_without_a_poll(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.job_polls = 0  # the export's own answer says complete

    (result,), _ = back_up(pc, clock, tmp_path)

    assert result.error is None
    assert pc.api_requests("GET", "/jobs/") == []
    assert clock.slept == []
    assert pc.downloads()


def test_the_first_poll_comes_after_half_a_second_not_the_poll_interval(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    (result,), _ = back_up(pc, clock, tmp_path, poll_interval="20", max_poll_interval="30")

    assert result.error is None
    export, poll = pc.api_requests("POST", "/export")[0], pc.api_requests("GET", "/jobs/")[0]
    assert poll.at - export.at == pytest.approx(0.5)


def test_a_429_with_only_the_reset_header_waits_for_that_reset(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc._rate_window = 60.0
    pc.faults.rate_limited = 1
    pc.faults.retry_after = False

    (result,), log = back_up(pc, clock, tmp_path)

    assert result.error is None
    # The window resets 59 s from now; exponential backoff would have waited 1-2 s.
    assert "trying again in 59.0 s" in log
    # The first request (the export) met the 429, and was sent again after it.
    exports = pc.api_requests("POST", "/export")
    assert exports[1].at - exports[0].at == pytest.approx(59.0)


def test_removes_part_files_of_earlier_killed_runs(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    stale = tmp_path / ".1-main-20261201T000000Z.zip.x1y2.part"
    stale.write_bytes(b"half an archive")
    old = time.time() - 3600 - 601
    os.utime(stale, (old, old))

    _, log = back_up(pc, clock, tmp_path, timeout="600")

    assert not stale.exists()
    assert f"removed {stale.name}" in log


def test_a_dry_run_removes_no_part_file(pc: Emulator, clock: EmulatedClock, tmp_path: Path) -> None:
    stale = tmp_path / ".1-main-20261201T000000Z.zip.x1y2.part"
    stale.write_bytes(b"half an archive")
    old = time.time() - 30 * 86400
    os.utime(stale, (old, old))

    back_up(pc, clock, tmp_path, dry_run="true")

    assert stale.exists()


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(playcanvas, "API_TIMEOUT", (5.0, 0.2))


@pytest.mark.usefixtures("short_read_timeout")
def test_an_export_whose_answer_was_lost_is_sent_once_more_with_a_warning(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.slow_exports = 1

    (result,), log = back_up(pc, clock, tmp_path)

    assert result.error is None
    assert len(pc.api_requests("POST", "/export")) == 2
    assert "a duplicate export job may exist" in log


@pytest.mark.usefixtures("short_read_timeout")
def test_an_export_whose_answer_is_lost_twice_is_not_sent_a_third_time(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.slow_exports = 5

    (result,), _ = back_up(pc, clock, tmp_path)

    assert result.error is not None and "answer was lost" in result.error
    assert len(pc.api_requests("POST", "/export")) == 2


# -- waiting, on the emulated clock -------------------------------------------------------------


def test_polls_with_growing_waits(pc: Emulator, clock: EmulatedClock, tmp_path: Path) -> None:
    pc.faults.job_never_ends = True

    (result,), _ = back_up(pc, clock, tmp_path, timeout="300", max_poll_interval="30")

    polls = [r.at for r in pc.api_requests("GET", "/jobs/")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert result.error is not None
    # 300 s at a steady 2 s would be 150 polls; growing waits (capped at 30 s) need few.
    assert 10 <= len(polls) <= 40
    assert gaps[:-1] == sorted(gaps[:-1]) and max(gaps) <= 30  # the last one: the deadline


def test_a_job_that_never_ends_times_out(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.job_never_ends = True

    (result,), _ = back_up(pc, clock, tmp_path, timeout="60")

    assert result.error is not None
    assert "still 'running' after 60 s" in result.error and "Raise 'timeout'" in result.error
    assert pc.api_requests("GET", "/jobs/")[-1].at <= WINDOW_START + 1 + 60


def test_a_429_waits_as_long_as_retry_after_says(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc._rate_window = 60.0
    pc.faults.rate_limited = 1
    pc.faults.retry_after = True

    (result,), log = back_up(pc, clock, tmp_path)

    assert result.error is None
    assert "429" in log and "trying again in 59.0 s" in log
    # The first request (the export) met the 429, and was sent again after it.
    exports = pc.api_requests("POST", "/export")
    assert exports[1].at - exports[0].at == pytest.approx(59.0)


def test_paces_exports_within_the_strict_limit(clock: EmulatedClock, tmp_path: Path) -> None:
    with Emulator(clock=clock.time, strict_limit=5, rate_window=60.0) as pc:
        pc.add_project(444, branches=tuple(f"branch-{i}" for i in range(12)), archive_size=4096)

        results, log = back_up(pc, clock, tmp_path, project_id="444", all_branches="true")

        assert [r.error for r in results] == [None] * 12
        assert pc.over_limit == 0
        exports = [r.at for r in pc.api_requests("POST", "/export")]
        assert len(exports) == 12
        assert exports[-1] - exports[0] >= 2 * 59  # three windows of 5
        assert "more exports to start: waiting" in log


def test_a_day_long_export_limit_fails_the_waiting_archive_within_the_timeout(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.export_reset_in = 86_340
    start = clock.now

    results, _ = back_up(pc, clock, tmp_path, project_id="1 2", timeout="5")

    first, second = results
    assert first.error is None and first.path is not None and first.path.is_file()
    assert second.error is not None and second.error.startswith(
        "PlayCanvas asked us to wait 23 h 59 min for the export limit; longer than 'timeout' (5 s)"
    )
    assert len(pc.api_requests("POST", "/export")) == 1
    assert clock.now - start <= 5


def test_a_job_that_completes_at_its_deadline_is_not_downloaded(
    pc: Emulator, clock: EmulatedClock, tmp_path: Path
) -> None:
    pc.faults.job_seconds = 10

    results, _ = back_up(pc, clock, tmp_path, timeout="10")

    (result,) = results
    assert result.error is not None and result.error.startswith(
        "project 1 (main): the steps before its download did not finish within 'timeout' (10 s)"
    )
    assert pc.downloads() == []
    assert list(tmp_path.iterdir()) == []
