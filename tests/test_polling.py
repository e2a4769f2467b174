"""When a running export job is looked at again."""

from __future__ import annotations

from playcanvas_backup.polling import next_poll_delay


def test_polls_start_at_the_poll_interval_and_stay_under_the_cap() -> None:
    assert next_poll_delay(0, first=2, cap=30) == 2
    assert next_poll_delay(10_000, first=2, cap=30) == 30


def test_a_finished_job_is_noticed_within_fifteen_percent_of_its_age() -> None:
    for age in (1.0, 10.0, 60.0, 300.0):
        delay = next_poll_delay(age, first=2, cap=30)
        assert delay <= max(2.0, 0.15 * age)


def test_jitter_only_shortens_the_wait() -> None:
    assert 0.9 * 15 <= next_poll_delay(100, first=2, cap=30, jitter=0.0) <= 15
