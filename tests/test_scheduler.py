"""The scheduler: when to start, look, report and sleep, as arithmetic on a given clock."""

from __future__ import annotations

from playcanvas_backup import scheduler
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.scheduler import FIRST_POLL, REPORT_EVERY

NOW = 1_000.0


def at(moment: float) -> Deadline:
    return Deadline(moment, clock=lambda: NOW)


def job(*, finished: bool = False, poll_interval: float = 2.0) -> scheduler.Running:
    return scheduler.started(
        0,
        job_id=9,
        now=NOW,
        deadline=at(NOW + 3600),
        poll_interval=poll_interval,
        finished=finished,
    )


def test_a_job_complete_at_once_is_due_at_once() -> None:
    assert scheduler.due([job(finished=True)], now=NOW)


def test_the_first_look_comes_after_a_short_fixed_delay_not_the_poll_interval() -> None:
    first = job(poll_interval=30)
    assert first.next_poll == NOW + FIRST_POLL
    assert not scheduler.due([first], now=NOW + FIRST_POLL - 0.01)


def test_a_poll_interval_shorter_than_the_first_delay_wins() -> None:
    assert job(poll_interval=0.1).next_poll == NOW + 0.1


def test_later_looks_follow_the_backoff_and_never_pass_the_deadline() -> None:
    running = scheduler.started(
        0, job_id=9, now=NOW, deadline=at(NOW + 10), poll_interval=2, finished=False
    )
    after = scheduler.polled(running, now=NOW + 9, poll_interval=2, max_poll_interval=30, jitter=1)
    assert after.next_poll == NOW + 10
    early = scheduler.polled(running, now=NOW + 1, poll_interval=2, max_poll_interval=30, jitter=1)
    assert early.next_poll == NOW + 3


def test_due_jobs_come_longest_waiting_first() -> None:
    a = scheduler.started(
        1, job_id=1, now=NOW, deadline=at(NOW + 60), poll_interval=2, finished=False
    )
    b = scheduler.started(
        2, job_id=2, now=NOW - 5, deadline=at(NOW + 60), poll_interval=2, finished=False
    )
    assert [j.index for j in scheduler.due([a, b], now=NOW + 1)] == [2, 1]


def test_a_running_job_is_reported_every_30_seconds_at_most() -> None:
    running = job()
    assert not scheduler.report_due(running, now=NOW + REPORT_EVERY - 1)
    assert scheduler.report_due(running, now=NOW + REPORT_EVERY)
    told = scheduler.reported(running, now=NOW + REPORT_EVERY)
    assert not scheduler.report_due(told, now=NOW + 2 * REPORT_EVERY - 1)


def test_an_export_starts_only_when_the_strict_window_has_room() -> None:
    assert scheduler.may_start(3, strict_wait=0)
    assert not scheduler.may_start(3, strict_wait=4.5)
    assert not scheduler.may_start(0, strict_wait=0)


def test_the_loop_wakes_for_the_earliest_thing_to_do() -> None:
    running = job()
    assert scheduler.wake_at([running], now=NOW, pending=0, strict_wait=0) == NOW + FIRST_POLL
    assert scheduler.wake_at([], now=NOW, pending=2, strict_wait=7) == NOW + 7
    assert scheduler.wake_at([], now=NOW, pending=0, strict_wait=7) is None
