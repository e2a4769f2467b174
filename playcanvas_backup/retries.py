"""What every retry loop says before it waits (the policies belong to each client)."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import RetryCallState


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


# -- Named policy: the artifact blob's Put Block / Put Block List requests ----------------
# (Imported here to keep this policy in one piece.)

from dataclasses import dataclass  # noqa: E402

from tenacity import (  # noqa: E402
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)


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
            sleep=sleep,
            before_sleep=announce_retry(log, prefix),
            reraise=True,
        )


BLOB_UPLOAD = BlobUploadPolicy()
