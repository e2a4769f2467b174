"""Rate-limit arithmetic for the PlayCanvas API: pure functions over response headers.

PlayCanvas sends ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (the window's reset, UTC epoch seconds) on each response, per
token and per kind of route (``strict`` for exports, ``normal`` for the rest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# A reset value below this is a number of seconds from now, not an epoch time.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class Window:
    """What the last response said about one kind of route's rate-limit window."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None

    def wait(self, now: float) -> float:
        """Seconds to wait before the next request of this kind is allowed (0 = go)."""
        if self.remaining is None or self.remaining > 0 or self.reset_at is None:
            return 0.0
        return max(0.0, self.reset_at - now)

    def spend(self) -> Window:
        """This window after one more request was sent."""
        if self.remaining is None:
            return self
        return Window(self.limit, max(0, self.remaining - 1), self.reset_at)


def window_from_headers(headers: Mapping[str, str], now: float) -> Window | None:
    """The window described by a response's ``X-RateLimit-*`` headers, if it has them."""
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    if remaining is None:
        return None
    limit = _number(headers.get("X-RateLimit-Limit"))
    return Window(
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining),
        reset_at=_reset_at(headers.get("X-RateLimit-Reset"), now),
    )


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After``, else the window's reset, else unknown."""
    value = headers.get("Retry-After")
    if value:
        seconds = _number(value)
        if seconds is None:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - now
            except (TypeError, ValueError):
                seconds = None
        if seconds is not None:
            return max(0.0, seconds)
    reset_at = _reset_at(headers.get("X-RateLimit-Reset"), now)
    return None if reset_at is None else max(0.0, reset_at - now)


def _reset_at(value: str | None, now: float) -> float | None:
    reset = _number(value)
    if reset is None:
        return None
    return reset if reset >= _EPOCH_THRESHOLD else now + reset


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None
