"""Every retry policy of the product, by name, and what each says before it waits.

Each policy is said once, as tenacity pieces:

* :data:`API`: PlayCanvas API calls. 429 waits as long as PlayCanvas asks (its
  ``Retry-After`` or window reset), never less than the backoff, and is not a failed
  attempt (but 10 in a row end the call); 5xx and connection faults back off
  exponentially; at most 6 failed attempts, never past the deadline.
* :data:`DOWNLOAD`: the archive download (a resume counts as an attempt): 8 attempts,
  exponential backoff, never past the archive's deadline when one is given.
* :data:`ARTIFACT`: GitHub's artifact service, as its official client retries: 5
  attempts, waits growing from 3 s.
* :data:`S3`: each request to an S3-compatible store (``s3-uri``; botocore's own retries
  are off): 5 attempts, exponential backoff, never past the archive's deadline.
* :data:`BLOB_UPLOAD`: each request to the artifact's blob storage: 5 tries, waits from
  2 s, none after 15 minutes, and a stall timeout.

:func:`set_testing` is the switch tests use (as stamina's ``set_testing``): the waits are
still computed and announced, but not slept, so a test of a retry does not sleep through
real backoff. Waits that are not backoff (a rate-limit window, a job's next poll) are
never skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .errors import RateLimited

#: Requests that cannot be made at all (an unusable URL or header): final, never retried,
#: whichever client meets them.
UNUSABLE_REQUEST: tuple[type[Exception], ...] = (
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
)

_testing = False


def set_testing(testing: bool) -> None:
    """Announce backoff waits without sleeping them (for test suites), or sleep again.

    >>> set_testing(True); backoff_sleep(time.sleep)(60); set_testing(False)
    """
    global _testing  # noqa: PLW0603 - one process-wide switch, as stamina's
    _testing = testing


def is_testing() -> bool:
    return _testing


def backoff_sleep(sleep: Callable[[float], None]) -> Callable[[float], None]:
    """``sleep`` for a backoff wait: skipped while :func:`set_testing` is on."""

    def wait(seconds: float) -> None:
        if not _testing:
            sleep(seconds)

    return wait


class stop_at_deadline(stop_base):  # noqa: N801 - named like tenacity's own stops
    """Stop when the next wait would end past ``deadline`` (on ``clock``)."""

    def __init__(self, deadline: float | None, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock

    def __call__(self, state: RetryCallState) -> bool:
        if self.deadline is None:
            return False
        return self.clock() + (state.upcoming_sleep or 0.0) > self.deadline


class stop_after_attempt_if(stop_base):  # noqa: N801
    """``stop_after_attempt(attempts)``, except after a failure that ``counts`` excuses
    (a 429 that says how long to wait: only the deadline ends those)."""

    def __init__(self, attempts: int, counts: Callable[[BaseException], bool]) -> None:
        self.attempts, self.counts = attempts, counts

    def __call__(self, state: RetryCallState) -> bool:
        failure = state.outcome.exception() if state.outcome else None
        counted = failure is None or self.counts(failure)
        return counted and state.attempt_number >= self.attempts


class wait_as_asked(wait_base):  # noqa: N801
    """The server's own wait when the failure carries one (``retry_after``), but never
    less than ``backoff``'s (``Retry-After: 0`` must not turn into a storm of requests)."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        asked = getattr(failure, "retry_after", None)
        backoff = float(self.backoff(state))
        if isinstance(asked, int | float):
            return max(float(asked), backoff)
        return backoff


class stop_after_in_a_row(stop_base):  # noqa: N801
    """Stop after ``limit`` failures in a row that ``excused`` (a 429: not a failed attempt,
    but a server that keeps answering 429 is not waited on for ever). One per ``Retrying``:
    it counts."""

    def __init__(self, limit: int, excused: Callable[[BaseException], bool]) -> None:
        self.limit, self.excused, self.in_a_row = limit, excused, 0

    def __call__(self, state: RetryCallState) -> bool:
        failure = state.outcome.exception() if state.outcome else None
        self.in_a_row = self.in_a_row + 1 if failure and self.excused(failure) else 0
        return self.in_a_row >= self.limit


@dataclass(frozen=True)
class Policy:
    """A named retry policy: how many attempts, how long between them."""

    name: str
    attempts: int
    wait: wait_base
    #: Which failures count as attempts (a 429 that says how long to wait does not).
    counts: Callable[[BaseException], bool]
    #: Failures that do not count, in a row, before the call gives up all the same.
    uncounted_in_a_row: int = 10

    def retrying(
        self,
        retry_on: type[BaseException] | tuple[type[BaseException], ...],
        *,
        final: tuple[type[BaseException], ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda message: None,
        prefix: str = "",
        deadline: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Retrying:
        """A tenacity ``Retrying`` for this policy; call it with the function to retry.
        It retries ``retry_on`` failures except the ``final`` ones."""
        return Retrying(
            retry=retry_if_exception_type(retry_on) & retry_if_not_exception_type(final),
            wait=self.wait,
            stop=stop_after_attempt_if(self.attempts, self.counts)
            | stop_after_in_a_row(self.uncounted_in_a_row, lambda f: not self.counts(f))
            | stop_at_deadline(deadline, clock),
            sleep=backoff_sleep(sleep),
            before_sleep=announce_retry(log, prefix),
            reraise=True,
        )


def _every_failure(failure: BaseException) -> bool:
    return True


def _not_rate_limited(failure: BaseException) -> bool:
    return not isinstance(failure, RateLimited)


API = Policy(
    "PlayCanvas API call",
    attempts=6,
    wait=wait_as_asked(wait_exponential_jitter(multiplier=1, max=30, jitter=1)),
    counts=_not_rate_limited,
)
DOWNLOAD = Policy(
    "archive download",
    attempts=8,
    wait=wait_exponential_jitter(multiplier=1, max=30, jitter=1),
    counts=_every_failure,
)
ARTIFACT = Policy(
    "artifact service call",
    attempts=5,
    wait=wait_exponential_jitter(multiplier=3, exp_base=1.5, jitter=1.5, max=60),
    counts=_every_failure,
)
S3 = Policy(
    "S3 request",
    attempts=5,
    wait=wait_exponential_jitter(multiplier=1, max=20, jitter=1),
    counts=_every_failure,
)


def announce_retry(
    log: Callable[[str], None], prefix: str = ""
) -> Callable[[RetryCallState], None]:
    """A tenacity ``before_sleep`` that logs why it failed and how long it will wait."""

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log(
            f"{prefix}{failure}; trying again in {state.upcoming_sleep:.1f} s "
            f"(attempt {state.attempt_number + 1})"
        )

    return before_sleep


# -- the artifact blob's Put Block / Put Block List requests -------------------------------


@dataclass(frozen=True)
class BlobUploadPolicy:
    """How each request to the artifact's blob storage is retried.

    Up to ``attempts`` tries on the statuses in ``retry_statuses``, a dropped connection or a
    stall; waits from ``first_wait`` seconds, doubling with up to ``first_wait`` of jitter,
    at most ``max_wait``; no new try once ``give_up_after`` seconds have passed since the
    first. A request that moves no data for ``stall_timeout`` seconds (while sending or
    waiting for the answer) is abandoned, as the official client gives up when "upload
    progress stalled" (after 300 s there too).
    """

    attempts: int = 5
    first_wait: float = 2.0
    max_wait: float = 30.0
    give_up_after: float = 900.0
    stall_timeout: float = 300.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    def retrying(
        self,
        retry_on: type[BaseException],
        *,
        sleep: Callable[[float], None],
        log: Callable[[str], None],
        prefix: str = "",
    ) -> Retrying:
        """A tenacity ``Retrying`` that retries ``retry_on`` under this policy."""
        return Retrying(
            retry=retry_if_exception_type(retry_on),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.give_up_after),
            wait=wait_exponential_jitter(
                multiplier=self.first_wait, exp_base=2, jitter=self.first_wait, max=self.max_wait
            ),
            sleep=backoff_sleep(sleep),
            before_sleep=announce_retry(log, prefix),
            reraise=True,
        )


BLOB_UPLOAD = BlobUploadPolicy()
