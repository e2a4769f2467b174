"""The one clock of record: each archive's deadline, asked by every wait and every socket.

A :class:`Deadline` is made once per archive, ``timeout`` seconds after its work starts,
and handed to every step (export, wait, download, check, encryption, upload). Nothing
else decides how long anything may take:

* :meth:`Deadline.timeout` turns a step's own socket timeout into one that ends by the
  deadline (a signal needs no timeout: ``SIGTERM``'s handler raises in the main thread,
  which interrupts the read in flight there; requests on worker threads, the artifact's
  blocks, are abandoned, not waited for);
* :meth:`Deadline.sleep` waits, but never past the deadline: a wait that would cross it
  fails at once with :class:`~.errors.TimedOut` saying what asked for the wait and for
  how long ("PlayCanvas asked us to wait 23 h 59 min for the export limit; longer than
  ``timeout``");
* :meth:`Deadline.check` fails a step that is still going when the time is up.

>>> import itertools
>>> ticks = itertools.count(100.0, 2.0)
>>> deadline = Deadline.after(5, clock=lambda: next(ticks))
>>> deadline.left()
3.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import TimedOut
from .units import human_duration


@dataclass(frozen=True)
class Deadline:
    """A moment on ``clock`` by which the work must be done (``at`` = inf: never)."""

    at: float
    clock: Callable[[], float] = time.monotonic
    #: The ``timeout`` it was made from, in seconds, for messages (None: not from one).
    seconds: float | None = None

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now on ``clock``."""
        return cls(clock() + seconds, clock, seconds)

    @classmethod
    def never(cls, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(math.inf, clock)

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock()

    def expired(self) -> bool:
        return self.left() <= 0

    def fits(self, seconds: float) -> bool:
        """Whether a wait of ``seconds`` from now ends before the deadline."""
        return seconds < self.left()

    def check(self, doing: str = "the work") -> None:
        """Raise :class:`TimedOut` if the deadline has passed."""
        if self.expired():
            raise self.passed(doing)

    def passed(self, doing: str = "the work") -> TimedOut:
        """The error for ``doing`` not finished in time."""
        return TimedOut(f"{doing} did not finish within {self._limit()}; {_RAISE}")

    def timeout(self, wanted: float) -> float:
        """A socket timeout: ``wanted``, but never past the deadline (and at least a
        millisecond: 0 would mean non-blocking)."""
        return max(0.001, min(wanted, self.left()))

    def sleep(
        self,
        seconds: float,
        *,
        who: str,
        purpose: str = "",
        sleep: Callable[[float], None] = time.sleep,
        before: Callable[[], None] = lambda: None,
    ) -> None:
        """Sleep ``seconds`` (calling ``before`` first, to say so), or fail at once if that
        would cross the deadline: "``who`` asked us to wait 23 h 59 min ``purpose``; longer
        than 'timeout' ..."."""
        if seconds <= 0:
            return
        if not self.fits(seconds):
            raise self.too_long(seconds, who=who, purpose=purpose)
        before()
        sleep(seconds)

    def too_long(self, seconds: float, *, who: str, purpose: str = "") -> TimedOut:
        """The error for a wait of ``seconds`` that would cross the deadline."""
        purpose = f" {purpose}" if purpose else ""
        return TimedOut(
            f"{who} asked us to wait {human_duration(seconds)}{purpose}; longer than "
            f"{self._limit()} (only {human_duration(max(0.0, self.left()))} left), so it "
            f"was not waited for. {_RAISE[0].upper()}{_RAISE[1:]}"
        )

    def _limit(self) -> str:
        if self.seconds is None:
            return "the time allowed (the 'timeout' input)"
        return f"'timeout' ({self.seconds:g} s)"


_RAISE = "raise 'timeout' for a big project, or run the backup again later."
