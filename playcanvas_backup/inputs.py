"""Parsers of the inputs that back up whole accounts: ``user-id``, ``dry-run``,
``retention-days`` (and the repository's cap on it).

Plain functions for ``config`` to call: each takes the input's text (empty = not given)
and returns its value, or raises :class:`InputError` naming the input and the fix.
"""

from __future__ import annotations

import re

from .errors import InputError
from .untrusted import quoted as _shown

#: Days an artifact can be kept: GitHub allows up to 400 in private and internal
#: repositories (90 in public ones); the repository's own setting caps it.
MAX_RETENTION_DAYS = 400
#: Digits in an account id (PlayCanvas ids are JSON numbers; 18 digits stay below 2**63).
MAX_ID_DIGITS = 18


def parse_user_id(value: str) -> int | None:
    """``user-id``: a PlayCanvas user or organization account id, or None when empty."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(rf"[0-9]{{1,{MAX_ID_DIGITS}}}", value) or int(value) == 0:
        raise InputError(
            "user-id",
            f"{_shown(value)} is not an account id; give the numeric id of a PlayCanvas "
            "user or organization account (a project's owner_id, which the action prints "
            "for each project it backs up).",
        )
    return int(value)


def parse_boolean(name: str, value: str, *, default: bool) -> bool:
    """A boolean input: ``true``/``false`` in any case (YAML 1.2 core schema); empty = default."""
    lowered = value.strip().lower()
    if not lowered:
        return default
    if lowered in {"true", "false"}:
        return lowered == "true"
    raise InputError(name, f"{_shown(value)} is not a boolean; use true or false.")


def parse_retention_days(value: str) -> int | None:
    """``retention-days``: 1-400, or None when empty (the repository's setting applies)."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_RETENTION_DAYS:
        raise InputError(
            "retention-days",
            f"{_shown(value)} is not a whole number of days from 1 to {MAX_RETENTION_DAYS} "
            "(GitHub keeps artifacts up to 90 days in public repositories, 400 in private "
            "and internal ones); leave it empty for the repository's setting.",
        )
    return int(value)


def parse_retention_cap(value: str | None) -> int | None:
    """``GITHUB_RETENTION_DAYS``, the repository's cap: None when unset, empty, 0 or not
    a number (no known cap)."""
    value = (value or "").strip()
    if not re.fullmatch(r"[0-9]{1,4}", value) or int(value) == 0:
        return None
    return int(value)
