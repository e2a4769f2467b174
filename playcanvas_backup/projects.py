"""Which projects a run backs up: the ``project-id``s, an account's list, ``exclude``.

Pure functions: the PlayCanvas client lists the projects; this decides. ``exclude`` holds
project ids and name patterns (``fnmatch``: ``*``, ``?``, ``[...]``), compared with names
case-insensitively after Unicode normalisation. A plain number is always a project id.

>>> rules = parse_exclude("12345, *test*\\nSandbox ?")  # doctest: +SKIP
>>> selection = select_projects(requested, listed, rules)  # doctest: +SKIP
>>> selection.ids, [(e.project.id, e.reason) for e in selection.excluded]  # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from .playcanvas import Project

#: Items one ``exclude`` may hold, and the longest item: bounds on work and on messages.
MAX_EXCLUDE_ITEMS = 500
MAX_PATTERN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Exclusions:
    """What ``exclude`` leaves out: project ids, and name patterns (as written)."""

    ids: frozenset[int] = frozenset()
    patterns: tuple[str, ...] = ()

    def reason(self, project: Project) -> str | None:
        """Why ``project`` is left out, or None if it is not."""
        if project.id in self.ids:
            return f"project id {project.id} is in exclude"
        if not project.name:  # not known: no pattern says anything about it
            return None
        name = _folded(project.name)
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(name, _folded(pattern)):
                return f"its name matches exclude pattern '{pattern}'"
        return None

    def unmatched(self, projects: Sequence[Project]) -> tuple[str, ...]:
        """The items (as written) that match none of ``projects``: most likely a typo."""
        ids = {project.id for project in projects}
        names = [_folded(project.name) for project in projects]
        return (
            *(str(item) for item in sorted(self.ids - ids)),
            *(
                pattern
                for pattern in self.patterns
                if not any(fnmatch.fnmatchcase(name, _folded(pattern)) for name in names)
            ),
        )


@dataclass(frozen=True)
class Excluded:
    """A project left out, and why (in words for the log and the summary)."""

    project: Project
    reason: str


@dataclass(frozen=True)
class Selection:
    """The projects to back up, in order, and those left out (in the same order)."""

    projects: tuple[Project, ...]
    excluded: tuple[Excluded, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        """The ``projects`` output: the ids to back up."""
        return tuple(project.id for project in self.projects)


def parse_exclude(text: str) -> Exclusions:
    """The ``exclude`` input: ids and name patterns separated by newlines or commas.

    Empty items are skipped; surrounding spaces are not part of a pattern.
    """
    ids: set[int] = set()
    patterns: list[str] = []
    items = [item.strip() for item in re.split(r"[,\n\r]", text)]
    items = [item for item in items if item]
    if len(items) > MAX_EXCLUDE_ITEMS:
        raise InputError("exclude", f"has more than {MAX_EXCLUDE_ITEMS} items.")
    for number, item in enumerate(items, start=1):
        if len(item) > MAX_PATTERN or _CONTROL.search(item):
            raise InputError(
                "exclude",
                f"item {number} is longer than {MAX_PATTERN} characters or holds control "
                "characters; give project ids or name patterns, separated by commas or "
                "newlines.",
            )
        if item.isascii() and item.isdigit():
            ids.add(int(item))
        elif item not in patterns:
            patterns.append(item)
    return Exclusions(frozenset(ids), tuple(patterns))


def exclude_conflict(requested_ids: Sequence[int], exclusions: Exclusions) -> InputError | None:
    """The error to raise when a project id is both asked for (``project-id``) and left
    out (``exclude``), else None."""
    both = sorted(set(requested_ids) & exclusions.ids)
    if not both:
        return None
    listed = ", ".join(str(project_id) for project_id in both)
    return InputError(
        "exclude",
        f"leaves out project {listed}, which project-id asks for; remove it from one of the two.",
    )


def select_projects(
    requested: Sequence[Project], listed: Sequence[Project], exclusions: Exclusions
) -> Selection:
    """The projects to back up: ``requested`` in the order given, then ``listed`` by id.

    A project in both counts once (as requested, with the listed name if the requested one
    has none). ``exclude`` applies to all of them: a name pattern can leave out a requested
    project too (the summary says so and why).
    """
    by_id = {project.id: project for project in listed}
    seen: set[int] = set()
    ordered: list[Project] = []
    named = [by_id.get(p.id, p) if not p.name else p for p in requested]
    for project in [*named, *sorted(listed, key=lambda p: p.id)]:
        if project.id not in seen:
            seen.add(project.id)
            ordered.append(project)
    kept: list[Project] = []
    excluded: list[Excluded] = []
    for project in ordered:
        reason = exclusions.reason(project)
        if reason is None:
            kept.append(project)
        else:
            excluded.append(Excluded(project, reason))
    return Selection(tuple(kept), tuple(excluded))


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
