"""Waiting: how soon after an export job finishes does the action notice, and how many
API requests does the wait cost?

The real run loop (``playcanvas_backup.run.run``) and the real API client drive real HTTP
requests to the real emulator, on an emulated clock: time passes as it really does, and
each ``sleep`` of the action moves the clock on at once instead of waiting. The emulator
(in this process) is given the same clock (``Emulator(clock=...)``), so its export job
completes when the emulated clock says so, its rate-limit windows run on it, and it records
each request at emulated time.
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass

from bench.context import Context
from bench.measure import median
from bench.table import Table, verdict
from playcanvas_backup import http
from playcanvas_backup.config import load
from playcanvas_backup.playcanvas import PlayCanvasApi
from playcanvas_backup.run import run
from playcanvas_backup.workflow import Workflow
from tests.emulator import Emulator

JOB_SECONDS = (1.0, 10.0, 60.0, 300.0)
PROJECT = 31337
#: PlayCanvas's normal rate limit (job polls count against it), requests a minute.
FREE_PLAN, PAID_PLAN = 120, 240
#: "Far under the rate limit": at most a quarter of the free plan's.
REQUEST_BUDGET = FREE_PLAN // 4


class EmulatedClock:
    """Real time plus every second slept so far (sleeping returns at once)."""

    def __init__(self) -> None:
        self._origin, self._started, self._slept = time.time(), time.perf_counter(), 0.0

    def time(self) -> float:
        return self._origin + (time.perf_counter() - self._started) + self._slept

    def sleep(self, seconds: float) -> None:
        self._slept += max(0.0, seconds)


@dataclass(frozen=True)
class Waited:
    noticed_after: float  # seconds from the job's completion to the poll that saw it
    requests: int  # API requests of the whole run (the export and every poll)
    peak_per_minute: int  # most API requests in any 60 s
    rate_limited: int  # requests the emulator refused for the rate limit


def wait_for(ctx: Context, job_seconds: float, seed: int) -> Waited:
    clock = EmulatedClock()
    folder = ctx.work / "waiting"
    with Emulator(clock=clock.time) as pc:
        pc.add_project(PROJECT)
        pc.faults.job_polls, pc.faults.job_seconds = 0, job_seconds
        inputs = {
            "access-token": pc.token,
            "project-id": str(PROJECT),
            "api-url": pc.api_url,
            "path": str(folder),
            "filename": f"{seed}.zip",
            "upload-artifact": "false",
        }
        settings = load(inputs, {}, cwd=folder)
        quiet = Workflow({}, out=io.StringIO(), err=io.StringIO())
        with http.session() as api_session, http.session() as download_session:
            api = PlayCanvasApi(
                settings.api_url,
                settings.access_token,
                session=api_session,
                clock=clock.time,
                sleep=clock.sleep,
            )
            (result,) = run(
                settings,
                api=api,
                session=download_session,
                workflow=quiet,
                clock=clock.time,
                sleep=clock.sleep,
                rng=random.Random(seed).random,
            )
        if result.error:
            raise RuntimeError(f"the run failed: {result.error}")
        sent = pc.api_requests()
        (export,) = pc.api_requests("POST", "/export")
        # The last poll is the one that saw the job complete (the download link comes
        # with it, so nothing is asked after it).
        last_poll = pc.api_requests("GET", "/jobs/")[-1]
        at = sorted(r.at for r in sent)
        peak = max(sum(1 for t in at if start <= t < start + 60) for start in at)
        return Waited(
            noticed_after=last_poll.at - (export.at + job_seconds),
            requests=len(sent),
            peak_per_minute=peak,
            rate_limited=pc.over_limit,
        )


def waiting(ctx: Context) -> Table:
    seeds = range(ctx.runs(5))
    table = Table(
        "Waiting for the export job",
        f"The real run loop and API client against the emulator (real HTTP on loopback) on "
        f"an emulated clock: every `sleep` of the action returns at once and moves the clock "
        f"on (see bench/waiting.py). Default inputs (`poll-interval` 2 s, "
        f"`max-poll-interval` 30 s); {len(seeds)} runs per job length, each with its own "
        "jitter seed: median and worst.",
        [
            "job finishes after",
            "noticed after (median / worst)",
            "API requests (median)",
            "most in any 60 s",
            "target",
        ],
    )
    for job_seconds in JOB_SECONDS:
        runs = [wait_for(ctx, job_seconds, seed) for seed in seeds]
        late = [r.noticed_after for r in runs]
        allowed = max(2.0, 0.15 * job_seconds)
        peak = max(r.peak_per_minute for r in runs)
        refused = sum(r.rate_limited for r in runs)
        table.add(
            f"{job_seconds:g} s",
            f"{median(late):.1f} s / {max(late):.1f} s",
            f"{median([r.requests for r in runs]):g}",
            f"{peak}" + (f" ({refused} refused)" if refused else ""),
            verdict(max(late) <= allowed, f"noticed within {allowed:g} s")
            + ", "
            + verdict(peak <= REQUEST_BUDGET and not refused, f"<= {REQUEST_BUDGET}/min"),
        )
    table.notes += [
        "noticed after: emulated seconds from the job's completion to the poll that saw it "
        "complete (target: within max(2 s, 15% of the job's time)); API requests: the export "
        "and every poll of the whole run.",
        f"Rate limits for job polls: {FREE_PLAN} requests a minute on a free plan, "
        f"{PAID_PLAN} on a paid one; the target is a quarter of the free plan's.",
    ]
    return table
