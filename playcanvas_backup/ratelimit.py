"""The PlayCanvas API's rate limits, in one place: each kind of route's window as the last
answer described it, and how long a request of that kind must wait before it may go.

:class:`Limits` is the one record: the API client asks it before each request (and
waits by it, never past the caller's deadline) and tells it every answer's headers; the
run asks it when the next export may start (:mod:`scheduler` turns that into when to
wake). A 429's own ``Retry-After`` is :mod:`retries`' business (it is a failure to retry).

PlayCanvas sends ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (the window's reset, UTC epoch seconds) on each response, per
token and per kind of route (``strict`` for exports, ``normal`` for the rest).

Headers come from whoever answers, so a number counts only when it is plain ASCII
digits (an optional fraction) within sane bounds; ``nan``, ``1e400``, ``-5`` or ``²``
count as not sent. What is left is finite: the caller still holds every wait against its
own deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from .deadline import Deadline

#: PlayCanvas's kinds of route: ``strict`` for exports, ``normal`` for the rest.
Kind = Literal["strict", "normal"]
STRICT: Kind = "strict"
NORMAL: Kind = "normal"

# A reset value below this is a number of seconds from now, not an epoch time.
_EPOCH_THRESHOLD = 1_000_000_000
#: The largest request count believed (a limit or what remains of it).
MAX_COUNT = 1_000_000
#: The latest reset believed, as epoch seconds (about the year 5138); later is nonsense.
MAX_EPOCH = 100_000_000_000
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
#: Longer header values are not parsed at all (an HTTP date is 29 characters).
_MAX_HEADER = 64


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


class Limits:
    """The token's rate-limit windows, one per kind of route, as PlayCanvas's answers
    described them: the one place that says how long a request of a kind must wait."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[Kind, Window] = {STRICT: Window(), NORMAL: Window()}

    def ready_in(self, kind: Kind) -> float:
        """Seconds until a request of this kind fits the rate limit (0 = now)."""
        return self._windows[kind].wait(self._clock())

    def limit(self, kind: Kind) -> int | None:
        """Requests a window allows for this kind of route, as PlayCanvas's last answer to
        one said (``X-RateLimit-Limit``); None before any."""
        return self._windows[kind].limit

    def wait(
        self,
        kind: Kind,
        deadline: Deadline,
        *,
        what: str,
        sleep: Callable[[float], None],
        log: Callable[[str], None],
    ) -> None:
        """Wait until a request of this kind may go, never past ``deadline`` (a longer
        wait fails at once, saying so); then count the request as sent."""
        wait = self.ready_in(kind)
        limit = "the export limit" if kind == STRICT else "its API rate limit"
        deadline.sleep(
            wait,
            who=f"{what}: PlayCanvas",
            purpose=f"for {limit}",
            sleep=sleep,
            before=lambda: log(
                f"{what}: waiting {wait:.0f} s for PlayCanvas's {kind} rate limit to reset"
            ),
        )
        self._windows[kind] = self._windows[kind].spend()

    def heard(self, kind: Kind, headers: Mapping[str, str], now: float) -> None:
        """Take in an answer's ``X-RateLimit-*`` headers (an answer without them changes
        nothing)."""
        window = window_from_headers(headers, now)
        if window is not None:
            self._windows[kind] = window


def window_from_headers(headers: Mapping[str, str], now: float) -> Window | None:
    """The window described by a response's ``X-RateLimit-*`` headers, if it has them."""
    remaining = _count(headers.get("X-RateLimit-Remaining"))
    if remaining is None:
        return None
    return Window(
        limit=_count(headers.get("X-RateLimit-Limit")),
        remaining=remaining,
        reset_at=_reset_at(headers.get("X-RateLimit-Reset"), now),
    )


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After``, else the window's reset, else unknown.

    A wait in the past is 0; the caller decides the least it waits anyway.
    """
    value = headers.get("Retry-After")
    if value:
        seconds = _number(value)
        if seconds is None:
            seconds = _http_date(value, now)
        if seconds is not None:
            return max(0.0, seconds)
    reset_at = _reset_at(headers.get("X-RateLimit-Reset"), now)
    return None if reset_at is None else max(0.0, reset_at - now)


def _reset_at(value: str | None, now: float) -> float | None:
    reset = _number(value)
    if reset is None or reset > MAX_EPOCH:
        return None
    return reset if reset >= _EPOCH_THRESHOLD else now + reset


def _count(value: str | None) -> int | None:
    number = _number(value)
    if number is None or number != int(number) or number > MAX_COUNT:
        return None
    return int(number)


def _number(value: str | None) -> float | None:
    """A header's plain, non-negative decimal number; None for anything else."""
    if value is None or len(value) > _MAX_HEADER:
        return None
    text = value.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _http_date(value: str, now: float) -> float | None:
    """Seconds from ``now`` to an HTTP date (negative when past); None if it is not one."""
    if len(value) > _MAX_HEADER:
        return None
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment - now if 0 <= moment <= MAX_EPOCH else None
