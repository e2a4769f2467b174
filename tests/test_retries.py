"""The named retry policies and their testing switch, on their own."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import requests

from playcanvas_backup import retries
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import RateLimited, TimedOut, TransientError


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
    flaky = Flaky(RateLimited("429", retry_after=30.0))
    deadline = Deadline(120.0, lambda: 100.0, 20.0)
    policy = retries.API.retrying(TransientError, sleep=lambda s: None, deadline=deadline)

    with pytest.raises(TimedOut, match=r"asked us to wait 30\.0 s; longer than 'timeout' \(20 s\)"):
        policy(flaky)
    assert flaky.calls == 1


def test_a_wait_past_the_deadline_fails_with_the_last_failure_as_its_cause() -> None:
    deadline = Deadline(120.0, lambda: 100.0, 20.0)
    policy = retries.DOWNLOAD.retrying(TransientError, sleep=lambda s: None, deadline=deadline)

    with pytest.raises(TimedOut) as raised:
        policy(Flaky(*[TransientError("503") for _ in range(20)]))
    assert isinstance(raised.value.__cause__, TransientError)
    assert str(raised.value).startswith("503. The archive download's retry asked us to wait")


@pytest.mark.parametrize(
    ("policy", "status", "retried"),
    [
        (retries.API, 429, True),
        (retries.API, 503, True),
        (retries.API, 404, False),
        (retries.DOWNLOAD, 500, True),
        (retries.DOWNLOAD, 403, False),
        (retries.ARTIFACT, 501, False),
        (retries.ARTIFACT, 502, True),
        (retries.BLOB_UPLOAD, 408, True),
        (retries.BLOB_UPLOAD, 409, False),
    ],
)
def test_each_policy_says_which_statuses_are_retried(
    policy: retries.Policy, status: int, retried: bool
) -> None:
    assert policy.retried_status(status) is retried


def test_connection_faults_are_retried_but_not_certificate_failures_or_unusable_urls() -> None:
    certificate = requests.exceptions.SSLError(ssl.SSLCertVerificationError("bad"))
    assert retries.retried_error(requests.ConnectionError("reset"))
    assert retries.retried_error(requests.ReadTimeout("slow"))
    assert not retries.retried_error(certificate)
    assert not retries.retried_error(requests.exceptions.InvalidURL("x"))


def test_the_exception_chain_is_walked_through_causes_and_arguments() -> None:
    inner = TimeoutError("slow")
    outer = requests.ConnectionError(OSError(inner))
    assert inner in retries.causes(outer)


def test_final_failures_are_not_retried() -> None:
    class Lost(TransientError):
        pass

    flaky = Flaky(Lost("lost"))
    policy = retries.API.retrying(TransientError, final=(Lost,), sleep=lambda s: None)

    with pytest.raises(Lost):
        policy(flaky)
    assert flaky.calls == 1
