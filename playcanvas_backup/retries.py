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
