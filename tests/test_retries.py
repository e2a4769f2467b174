"""The named retry policies and their testing switch, on their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from playcanvas_backup import retries
from playcanvas_backup.errors import RateLimited, TransientError


class Flaky:
    """Fails with the given errors, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@pytest.fixture
def testing() -> Iterator[None]:
    retries.set_testing(True)
    yield
    retries.set_testing(False)


def test_backoff_waits_are_slept_in_production() -> None:
    slept: list[float] = []
    policy = retries.DOWNLOAD.retrying(TransientError, sleep=slept.append)

    assert policy(Flaky(TransientError("a"), TransientError("b"))) == "done"
    assert len(slept) == 2 and 1 <= slept[0] <= 2 < slept[1]


@pytest.mark.usefixtures("testing")
def test_the_testing_switch_announces_waits_without_sleeping_them() -> None:
    slept: list[float] = []
    said: list[str] = []
    policy = retries.DOWNLOAD.retrying(TransientError, sleep=slept.append, log=said.append)

    assert policy(Flaky(TransientError("dropped"))) == "done"
    assert slept == []
    assert said and said[0].startswith("dropped; trying again in ")


def test_the_api_policy_waits_as_long_as_a_429_asks() -> None:
    slept: list[float] = []
    policy = retries.API.retrying(TransientError, sleep=slept.append)

    policy(Flaky(RateLimited("429", retry_after=42.0)))

    assert slept == [42.0]


def test_429s_are_not_failed_attempts() -> None:
    slept: list[float] = []
    many = [RateLimited("429", retry_after=1.0) for _ in range(retries.API.uncounted_in_a_row - 1)]
    policy = retries.API.retrying(TransientError, sleep=slept.append, deadline=None)

    assert policy(Flaky(*many)) == "done"
    assert len(slept) == len(many) > retries.API.attempts


def test_a_server_that_keeps_answering_429_is_not_waited_on_for_ever() -> None:
    many = [RateLimited("429", retry_after=1.0) for _ in range(50)]
    flaky = Flaky(*many)
    policy = retries.API.retrying(TransientError, sleep=lambda seconds: None, deadline=None)

    with pytest.raises(RateLimited):
        policy(flaky)
    assert flaky.calls == retries.API.uncounted_in_a_row


def test_a_429_waits_at_least_the_backoff() -> None:
    slept: list[float] = []
    policy = retries.API.retrying(TransientError, sleep=slept.append, deadline=None)

    assert policy(Flaky(RateLimited("429", retry_after=0.0))) == "done"
    assert slept[0] >= 1.0


def test_server_errors_stop_after_the_policys_attempts() -> None:
    flaky = Flaky(*[TransientError("503") for _ in range(10)])
    policy = retries.API.retrying(TransientError, sleep=lambda seconds: None)

    with pytest.raises(TransientError):
        policy(flaky)
    assert flaky.calls == retries.API.attempts


def test_no_wait_goes_past_the_deadline() -> None:
    now = [100.0]
    flaky = Flaky(RateLimited("429", retry_after=30.0))
    policy = retries.API.retrying(
        TransientError, sleep=lambda s: None, deadline=120.0, clock=lambda: now[0]
    )

    with pytest.raises(RateLimited):
        policy(flaky)
    assert flaky.calls == 1


def test_final_failures_are_not_retried() -> None:
    class Lost(TransientError):
        pass

    flaky = Flaky(Lost("lost"))
    policy = retries.API.retrying(TransientError, final=(Lost,), sleep=lambda s: None)

    with pytest.raises(Lost):
        policy(flaky)
    assert flaky.calls == 1
