"""Name templates for archive files and artifacts (``{project_id}-{branch}-{timestamp}.zip``)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .errors import InputError

FIELDS = ("project_id", "branch", "branch_id", "job_id", "timestamp", "date")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def clean(value: object) -> str:
    """Make a template field safe for file and artifact names: other characters become ``-``."""
    return _UNSAFE.sub("-", "none" if value is None else str(value))


@dataclass(frozen=True)
class Template:
    """A validated name template. Use :func:`parse` to make one."""

    text: str
    fields: frozenset[str]

    def render(self, values: Mapping[str, object]) -> str:
        """Fill in the fields, cleaning each value; the result is always a plain name."""
        name = self.text.format_map({field: clean(values[field]) for field in self.fields})
        if name in {".", ".."}:
            # Only reachable through a field value such as a branch named "..".
            name = name.replace(".", "-")
        return name


def parse(input_name: str, text: str) -> Template:
    """Validate ``text`` as a name template for the input ``input_name``.

    Fields are written ``{name}`` with no format spec; every literal character must be
    one of ``A-Z a-z 0-9 . _ -`` so that the result is a plain name, never a path.

    >>> parse("filename", "{project_id}.zip").render({"project_id": 7})
    '7.zip'
    """
    fields: set[str] = set()
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InputError(
            input_name,
            f"'{text}' is not a valid template ({exc}); "
            "write fields as {project_id} and no other braces.",
        ) from exc
    literal = ""
    for literal_text, field, spec, conversion in parts:
        literal += literal_text
        if field is None:
            continue
        if field not in FIELDS:
            raise InputError(
                input_name,
                f"unknown field {{{field}}} in '{text}'; the fields are "
                + ", ".join(f"{{{name}}}" for name in FIELDS)
                + ".",
            )
        if spec or conversion:
            raise InputError(input_name, f"field {{{field}}} takes no format spec in '{text}'.")
        fields.add(field)
    bad = sorted(set(_UNSAFE.findall(literal)))
    if bad:
        raise InputError(
            input_name,
            f"'{text}' contains {' '.join(repr(c) for c in bad)}; outside the fields only "
            "letters, digits, '.', '_' and '-' are allowed (the result must be a plain name).",
        )
    if not fields and literal in {"", ".", ".."}:
        raise InputError(input_name, f"'{text}' does not make a usable name.")
    return Template(text, frozenset(fields))


def timestamp_fields(moment: datetime) -> dict[str, str]:
    """The time fields for a UTC moment: ``timestamp`` (``YYYYMMDDTHHMMSSZ``) and ``date``."""
    return {"timestamp": moment.strftime("%Y%m%dT%H%M%SZ"), "date": moment.strftime("%Y-%m-%d")}
