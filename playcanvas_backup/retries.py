"""Every retry policy of the product, by name, and what each says before it waits.

Three outside systems, three policies, each said once as tenacity pieces:

* :data:`API`: PlayCanvas API calls. 429 waits as long as PlayCanvas asks (its
  ``Retry-After`` or window reset) and is not a failed attempt; 5xx and connection
  faults back off exponentially; at most 6 failed attempts, never past the deadline.
* :data:`DOWNLOAD`: the archive download (a resume counts as an attempt): 8 attempts,
  exponential backoff, never past the archive's deadline when one is given.
* :data:`ARTIFACT`: GitHub's artifact service, as its official client retries: 5
  attempts, waits growing from 3 s.

:func:`set_testing` is the switch tests use (as stamina's ``set_testing``): the waits are
still computed and announced, but not slept, so a test of a retry does not sleep through
real backoff. Waits that are not backoff (a rate-limit window, a job's next poll) are
never skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .errors import RateLimited

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
    """The server's own wait when the failure carries one (``retry_after``), else
    ``otherwise``'s."""

    def __init__(self, otherwise: wait_base) -> None:
        self.otherwise = otherwise

    def __call__(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        asked = getattr(failure, "retry_after", None)
        if isinstance(asked, int | float):
            return float(asked)
        return float(self.otherwise(state))


@dataclass(frozen=True)
class Policy:
    """A named retry policy: how many attempts, how long between them."""

    name: str
    attempts: int
    wait: wait_base
    #: Which failures count as attempts (a 429 that says how long to wait does not).
    counts: Callable[[BaseException], bool]

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
