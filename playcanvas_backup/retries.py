"""Every retry rule of the product, in one place: which answers and faults are worth
another attempt, how long to wait between attempts, and when to give up.

One :class:`Policy` type, four named policies (an S3 destination adds its own here);
every client asks its policy (:meth:`Policy.retried_status`, :meth:`Policy.retried_error`)
instead of deciding, and runs its calls under :meth:`Policy.retrying`, which never waits
past the archive's :class:`~.deadline.Deadline`:

* :data:`API`: PlayCanvas API calls. 429 waits as long as PlayCanvas asks (its
  ``Retry-After`` or window reset), never less than the backoff, and is not a failed
  attempt (but 10 in a row end the call); 5xx and connection faults back off
  exponentially; a TLS failure is final; at most 6 failed attempts.
* :data:`DOWNLOAD`: the archive download (a resume counts as an attempt): 8 attempts,
  exponential backoff.
* :data:`ARTIFACT`: GitHub's artifact service, as its official client retries: 5
  attempts on 429/500/502/503/504, waits growing from 3 s.
* :data:`S3`: each request to an S3-compatible store (``s3-uri``; botocore's own retries
  are off): 5 attempts, exponential backoff, never past the archive's deadline.
* :data:`BLOB_UPLOAD`: each request to the artifact's blob storage: 5 tries (408 too),
  waits from 2 s, none after 15 minutes, and a stall timeout.

:func:`set_testing` is the switch tests use (as stamina's ``set_testing``): the waits are
still computed and announced, but not slept, so a test of a retry does not sleep through
real backoff. Waits that are not backoff (a rate-limit window, a job's next poll) are
never skipped.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .deadline import Deadline
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


def _every_failure(failure: BaseException) -> bool:
    return True


def set_testing(testing: bool) -> None:
    """Announce backoff waits without sleeping them (for test suites), or sleep again.

    >>> set_testing(True); backoff_sleep(time.sleep)(60); set_testing(False)
    """
    global _testing  # noqa: PLW0603 - one process-wide switch, as stamina's
    _testing = testing


def backoff_sleep(sleep: Callable[[float], None]) -> Callable[[float], None]:
    """``sleep`` for a backoff wait: skipped while :func:`set_testing` is on."""

    def wait(seconds: float) -> None:
        if not _testing:
            sleep(seconds)

    return wait


class stop_at_deadline(stop_base):  # noqa: N801 - named like tenacity's own stops
    """Stop when the next wait would end past ``deadline``: fail with
    :class:`~.errors.TimedOut`, saying the last failure and the wait it would have taken."""

    def __init__(self, deadline: Deadline | None, name: str) -> None:
        self.deadline, self.name = deadline, name

    def __call__(self, state: RetryCallState) -> bool:
        upcoming = state.upcoming_sleep or 0.0
        if self.deadline is None or self.deadline.fits(upcoming):
            return False
        failure = state.outcome.exception() if state.outcome else None
        asked = isinstance(getattr(failure, "retry_after", None), int | float)
        who = f"{failure}. The server" if asked else f"{failure}. The {self.name}'s retry"
        # Raised from the stop: tenacity passes it on, the last failure as its cause.
        raise self.deadline.too_long(upcoming, who=who) from failure


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


#: What is worth another attempt, for every client: 429 and the server errors.
SERVER_ERRORS = frozenset({429, *range(500, 600)})
#: The official artifact clients' list (GitHub's storage and results service).
GITHUB_RETRIED = frozenset({429, 500, 502, 503, 504})
#: Connection faults worth another attempt (never a certificate or an unusable request:
#: :func:`retried_error`).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    OSError,
)


@dataclass(frozen=True)
class Policy:
    """A named retry policy: which answers and faults are retried, how many attempts,
    how long between them, and when to give up.

    A client asks :meth:`retried_status` and :func:`retried_error` which failures to
    turn into its retryable error, and runs its call under :meth:`retrying`.
    """

    name: str
    attempts: int
    wait: wait_base
    #: Which failures count as attempts (a 429 that says how long to wait does not).
    counts: Callable[[BaseException], bool] = _every_failure
    #: Failures that do not count, in a row, before the call gives up all the same.
    uncounted_in_a_row: int = 10
    #: HTTP statuses worth another attempt.
    statuses: frozenset[int] = SERVER_ERRORS
    #: No new attempt once this many seconds passed since the first (None: no limit).
    give_up_after: float | None = None
    #: A request that moves no data this long is abandoned (a stall), seconds.
    stall_timeout: float = 60.0
    #: Whether a TLS failure other than an untrusted certificate is worth another
    #: attempt (to a storage host, yes; to the API host it will not mend).
    tls_retried: bool = True

    def retried_status(self, status: int) -> bool:
        """Whether an answer with this status is worth another attempt."""
        return status in self.statuses

    def retried_error(self, exc: BaseException) -> bool:
        """Whether a fault met while making a request is worth another attempt: a
        dropped, refused or timed-out connection; never a request that cannot be made,
        nor a certificate that failed verification."""
        if isinstance(exc, requests.exceptions.SSLError) and not self.tls_retried:
            return False
        return retried_error(exc)

    def retrying(
        self,
        retry_on: type[BaseException] | tuple[type[BaseException], ...],
        *,
        final: tuple[type[BaseException], ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda message: None,
        prefix: str = "",
        deadline: Deadline | None = None,
    ) -> Retrying:
        """A tenacity ``Retrying`` for this policy; call it with the function to retry.
        It retries ``retry_on`` failures except the ``final`` ones, and never waits past
        ``deadline`` (:class:`~.errors.TimedOut` instead)."""
        stop = (
            stop_after_attempt_if(self.attempts, self.counts)
            | stop_after_in_a_row(self.uncounted_in_a_row, lambda f: not self.counts(f))
            | stop_at_deadline(deadline, self.name)
        )
        if self.give_up_after is not None:
            stop = stop | stop_after_delay(self.give_up_after)
        return Retrying(
            retry=retry_if_exception_type(retry_on) & retry_if_not_exception_type(final),
            wait=self.wait,
            stop=stop,
            sleep=backoff_sleep(sleep),
            before_sleep=announce_retry(log, prefix),
            reraise=True,
        )


def retried_error(exc: BaseException) -> bool:
    """Whether a fault met while making a request is worth another attempt: a dropped,
    refused or timed-out connection, but not a request that cannot be made at all nor a
    certificate that failed verification."""
    if isinstance(exc, UNUSABLE_REQUEST) or certificate_failed(exc):
        return False
    return isinstance(exc, CONNECTION_ERRORS)


def certificate_failed(exc: BaseException) -> bool:
    """Whether a failed certificate check is behind ``exc``."""
    return any(isinstance(link, ssl.SSLCertVerificationError) for link in causes(exc))


def causes(exc: BaseException, *, limit: int = 20) -> list[BaseException]:
    """``exc`` and every exception behind it: its causes, contexts, urllib3's ``reason``
    and exceptions among its arguments (the one walk of an exception chain)."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < limit:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return seen


def _not_rate_limited(failure: BaseException) -> bool:
    return not isinstance(failure, RateLimited)


API = Policy(
    "PlayCanvas API call",
    attempts=6,
    wait=wait_as_asked(wait_exponential_jitter(multiplier=1, max=30, jitter=1)),
    counts=_not_rate_limited,
    tls_retried=False,
)
DOWNLOAD = Policy(
    "archive download",
    attempts=8,
    wait=wait_exponential_jitter(multiplier=1, max=30, jitter=1),
)
ARTIFACT = Policy(
    "artifact service call",
    attempts=5,
    wait=wait_exponential_jitter(multiplier=3, exp_base=1.5, jitter=1.5, max=60),
    statuses=GITHUB_RETRIED,
)
#: Each Put Block / Put Block List of the artifact's blob: 5 tries, waits from 2 s, none
#: after 15 minutes; a request that moves no data for 300 s is abandoned, as the official
#: client gives up when "upload progress stalled".
BLOB_UPLOAD = Policy(
    "artifact blob upload",
    attempts=5,
    wait=wait_exponential_jitter(multiplier=2.0, exp_base=2, jitter=2.0, max=30.0),
    statuses=frozenset({408}) | GITHUB_RETRIED,
    give_up_after=900.0,
    stall_timeout=300.0,
)
S3 = Policy(
    "S3 request",
    attempts=5,
    wait=wait_exponential_jitter(multiplier=1, max=20, jitter=1),
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
