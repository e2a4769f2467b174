"""When to do what, as plain arithmetic on the clock: which export may start now, which
running export job to look at when, when to say that a job is still running, and how
long the run may sleep. No I/O: the run loop asks, does, and tells.

>>> deadline = Deadline(3700.0, clock=lambda: 100.0)
>>> job = started(0, job_id=7, now=100.0, deadline=deadline, poll_interval=2, finished=False)
>>> job.next_poll  # a short first look, not the whole poll-interval
100.5
>>> [j.job_id for j in due([job], now=100.5)]
[7]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .deadline import Deadline
from .polling import next_poll_delay

#: The first look at a job that was not complete at once, seconds after its export.
FIRST_POLL = 0.5
#: A running job is reported at most this often, seconds.
REPORT_EVERY = 30.0


@dataclass(frozen=True)
class Running:
    """An export job being waited for. ``index`` is its archive's place in the run;
    ``deadline`` is its archive's one deadline, made when its export started."""

    index: int
    job_id: int
    started: float
    deadline: Deadline
    next_poll: float
    next_report: float


def started(
    index: int,
    *,
    job_id: int,
    now: float,
    deadline: Deadline,
    poll_interval: float,
    finished: bool,
) -> Running:
    """A job whose export just answered: looked at again at once when that answer said
    it finished, else after a short fixed delay."""
    first = now if finished else min(deadline.at, now + min(FIRST_POLL, poll_interval))
    return Running(index, job_id, now, deadline, first, now + REPORT_EVERY)


def polled(
    job: Running, *, now: float, poll_interval: float, max_poll_interval: float, jitter: float
) -> Running:
    """The job after a look that found it still running: its next look, on its own
    backoff schedule, never after its deadline."""
    delay = next_poll_delay(
        now - job.started, first=poll_interval, cap=max_poll_interval, jitter=jitter
    )
    return replace(job, next_poll=min(job.deadline.at, now + delay))


def due(jobs: Iterable[Running], *, now: float) -> list[Running]:
    """The jobs to look at now, the longest-waiting first."""
    return sorted((job for job in jobs if job.next_poll <= now), key=lambda job: job.next_poll)


def report_due(job: Running, *, now: float) -> bool:
    """Whether to say now that the job is still running."""
    return now >= job.next_report


def reported(job: Running, *, now: float) -> Running:
    return replace(job, next_report=now + REPORT_EVERY)


def may_start(pending: int, *, strict_wait: float) -> bool:
    """Whether the next export may start now: one is waiting, and PlayCanvas's strict
    (export) rate-limit window has room (``strict_wait`` is the wait it asks for)."""
    return pending > 0 and strict_wait <= 0


def wake_at(
    jobs: Iterable[Running], *, now: float, pending: int, strict_wait: float
) -> float | None:
    """When the loop has something to do next: the earliest look at a job, report of a
    job, or start of an export; None when nothing is left."""
    moments = [min(job.next_poll, job.next_report) for job in jobs]
    if pending:
        moments.append(now + max(0.0, strict_wait))
    return min(moments) if moments else None
