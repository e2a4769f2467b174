"""When to look at a running export job again."""

from __future__ import annotations

#: The wait grows with the job's age: a job that has run for a minute is looked at
#: about every 9 s, so its end is noticed within ~15% of its run time.
AGE_FRACTION = 0.15


def next_poll_delay(age: float, *, first: float, cap: float, jitter: float = 1.0) -> float:
    """Seconds until the next poll of a job that has run for ``age`` seconds.

    Starts at ``first`` (``poll-interval``), grows geometrically as a fraction of the
    job's age, and never exceeds ``cap`` (``max-poll-interval``). ``jitter`` in (0, 1]
    shortens the wait a little so that many jobs do not poll in lockstep.

    >>> next_poll_delay(0, first=2, cap=30)
    2.0
    >>> next_poll_delay(100, first=2, cap=30)
    15.0
    >>> next_poll_delay(1000, first=2, cap=30)
    30.0
    """
    delay = min(cap, max(first, AGE_FRACTION * age))
    return float(delay * (0.9 + 0.1 * jitter))
