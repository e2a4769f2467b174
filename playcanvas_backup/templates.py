"""Archive file names and artifact names: templates (``{project_id}-{branch}-{timestamp}.zip``)
checked up front, and every archive's names planned before any export.

The names rule: field values keep Unicode letters, digits and spaces (NFC); only what a
file or artifact name cannot hold (``/ \\ : * ? " < > |``, control characters, a leading
dot) becomes ``-``. File names and artifact names are two separate namespaces. When two
archives of a run would still get the same name, both get the first 8 characters of their
branch id added; a name over 255 bytes (235 for a file, leaving room for its temporary
``.part`` name) has its longest text field shortened and the same tag added, so that two
shortened names stay apart.
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .errors import InputError

FIELDS = ("project_id", "project_name", "branch", "branch_id", "job_id", "timestamp", "date")
#: Fields whose values are free text that can be shortened to fit (when a template has them).
TEXT_FIELDS = ("branch", "project_name")
#: What no file or artifact name may hold: the one list (GitHub's artifact names refuse
#: exactly these; file names too, besides control characters).
FORBIDDEN = ('"', ":", "<", ">", "|", "*", "?", "\r", "\n", "\\", "/")
#: Longest name, in UTF-8 bytes (the common file-system limit).
MAX_BYTES = 255
#: Longest file name: room is kept for the download's temporary ``.<name>.<8>.part``
#: beside it (15 bytes) and an ``.age`` suffix (4), which must fit 255 bytes too.
MAX_FILE_BYTES = MAX_BYTES - 20
#: Room kept for ``{job_id}``, unknown until the export has started.
JOB_ID_ROOM = "9" * 20
TAG_LENGTH = 8


def _allowed(char: str) -> bool:
    return char not in FORBIDDEN and unicodedata.category(char) not in {"Cc", "Zl", "Zp"}


def clean(value: object) -> str:
    """A field value as names may hold it: NFC, forbidden characters become ``-``.

    >>> clean("テスト"), clean("feature/x"), clean("level 1"), clean(None)
    ('テスト', 'feature-x', 'level 1', 'none')
    """
    text = unicodedata.normalize("NFC", "none" if value is None else str(value))
    return "".join(char if _allowed(char) else "-" for char in text)


def _plain(name: str) -> str:
    """No leading dot (a hidden file, ``.`` or ``..``)."""
    return "-" + name[1:] if name.startswith(".") else name


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Template:
    """A validated name template. Use :func:`parse` to make one."""

    text: str
    fields: frozenset[str]

    def render(self, values: Mapping[str, object]) -> str:
        """Fill in the fields, cleaning each value; the result is always a plain name."""
        filled = {name: clean(values.get(name)) for name in self.fields}
        return _plain(unicodedata.normalize("NFC", self.text.format_map(filled)))


def parse(input_name: str, text: str) -> Template:
    """Validate ``text`` as a name template for the input ``input_name``.

    Fields are written ``{name}`` with no format spec; the literal text must already be
    a valid name part (none of ``/ \\ : * ? " < > |``, no control characters, no
    leading dot), and leave room within 255 bytes for the fields.

    >>> parse("filename", "{project_id}.zip").render({"project_id": 7})
    '7.zip'
    """
    fields, literal = fields_and_literal(input_name, text)
    bad = sorted({char for char in literal if not _allowed(char)})
    if bad:
        raise InputError(
            input_name,
            f"'{text}' contains {' '.join(repr(c) for c in bad)}; a name cannot hold "
            '/ \\ : * ? " < > | or control characters (the result must be a plain name).',
        )
    if text.startswith("."):
        raise InputError(input_name, f"'{text}' starts with a dot (a hidden file); remove it.")
    if not fields and literal in {"", ".", ".."}:
        raise InputError(input_name, f"'{text}' does not make a usable name.")
    # Room for the fields that cannot be shortened, at their longest.
    fixed = {"project_id": "9" * 18, "job_id": JOB_ID_ROOM, "branch_id": "x" * 36}
    room = {**fixed, "timestamp": "20261203T000000Z", "date": "2026-12-03"}
    shortest = text.format_map({name: room.get(name, "x" * TAG_LENGTH) for name in fields})
    if _size(shortest) > MAX_FILE_BYTES:
        raise InputError(
            input_name,
            f"'{text[:60]}...' is too long: with its fields filled in, a name would pass "
            f"{MAX_FILE_BYTES} bytes. Shorten the template's own text.",
        )
    return Template(text, frozenset(fields))


def fields_and_literal(
    input_name: str, text: str, *, known: tuple[str, ...] = FIELDS, shown: str | None = None
) -> tuple[set[str], str]:
    """The template's fields (each one of ``known``, with no format spec) and its literal
    text; errors quote ``shown`` (the whole input, when ``text`` is a part of it)."""
    shown = text if shown is None else shown
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InputError(
            input_name,
            f"'{shown}' is not a valid template ({exc}); "
            "write fields as {project_id} and no other braces.",
        ) from exc
    fields: set[str] = set()
    literal = ""
    for literal_text, name, spec, conversion in parts:
        literal += literal_text
        if name is None:
            continue
        if name not in known:
            raise InputError(
                input_name,
                f"unknown field {{{name}}} in '{shown}'; the fields are "
                + ", ".join(f"{{{field}}}" for field in known)
                + ".",
            )
        if spec or conversion:
            raise InputError(input_name, f"field {{{name}}} takes no format spec in '{shown}'.")
        fields.add(name)
    return fields, literal


def timestamp_fields(moment: datetime) -> dict[str, str]:
    """The time fields for a UTC moment: ``timestamp`` (``YYYYMMDDTHHMMSSZ``) and ``date``."""
    return {"timestamp": moment.strftime("%Y%m%dT%H%M%SZ"), "date": moment.strftime("%Y-%m-%d")}


@dataclass(frozen=True)
class Name:
    """One archive's planned name in one namespace; :meth:`final` fills in the job id."""

    template: Template
    values: Mapping[str, object]
    tag: str = ""

    def final(self, job_id: int | None) -> str:
        name = self.template.render({**self.values, "job_id": job_id})
        return _tagged(name, self.tag) if self.tag else name


@dataclass
class Plan:
    """Every archive's file name and artifact name, and what was changed to keep them
    apart and short (for the log)."""

    files: list[Name]
    artifacts: list[Name]
    notes: list[str] = field(default_factory=list)


def plan_names(
    archives: Sequence[Mapping[str, object]],
    *,
    filename: Template,
    artifact_name: Template,
    describe: Callable[[int], str] = lambda index: f"archive {index + 1}",
) -> Plan:
    """Plan the names of every archive of a run (the field values of each, without
    ``job_id``), in two namespaces: file names and artifact names.

    >>> main = {"project_id": 1, "branch": "feature/x", "branch_id": "1a2b3c4d-e5"}
    >>> other = {"project_id": 1, "branch": "feature-x", "branch_id": "9f8e7d6c-b5"}
    >>> plan = plan_names([main, other], filename=parse("f", "{branch}.zip"),
    ...                   artifact_name=parse("a", "{project_id}-{branch}"))
    >>> [name.final(None) for name in plan.files]
    ['feature-x-1a2b3c4d.zip', 'feature-x-9f8e7d6c.zip']
    """
    notes: list[str] = []
    files = _Namespace("file name", MAX_FILE_BYTES, describe, notes).plan(archives, filename)
    artifacts = _Namespace("artifact name", MAX_BYTES, describe, notes).plan(
        archives, artifact_name
    )
    return Plan(files, artifacts, notes)


@dataclass(frozen=True)
class _Namespace:
    """One kind of name (file names, artifact names): its limit, and where notes go."""

    kind: str
    limit: int
    describe: Callable[[int], str]
    notes: list[str]

    def plan(self, archives: Sequence[Mapping[str, object]], template: Template) -> list[Name]:
        names = [self.fit(template, values, i) for i, values in enumerate(archives)]
        if "job_id" in template.fields:  # job ids tell every archive apart
            return names
        for length in (TAG_LENGTH, None):  # the id's first 8 characters, else the whole id
            taken = Counter(_key(name) for name in names)
            for index, name in enumerate(names):
                branch_id = str(archives[index].get("branch_id") or "")
                if taken[_key(name)] < 2 or not branch_id or name.tag == clean(branch_id):
                    continue
                tag = clean(branch_id[:length])
                names[index] = self.fit(template, archives[index], index, tag=tag)
                self.notes.append(
                    f"{self.describe(index)}: {self.kind} '{name.final(None)}' would be "
                    f"another archive's too; added '{tag}' from its branch id"
                )
        return names

    def fit(
        self, template: Template, values: Mapping[str, object], index: int, *, tag: str = ""
    ) -> Name:
        """The archive's name, its longest text field shortened until it fits the limit
        (with the branch id's tag added, so that shortened names stay apart)."""
        name = Name(template, dict(values), tag)
        texts = [f for f in TEXT_FIELDS if f in template.fields]
        if _size(name.final(int(JOB_ID_ROOM))) <= self.limit or not texts:
            return name
        name = Name(template, name.values, tag or clean(str(values.get("branch_id") or "")[:8]))
        longest = texts[0]
        while (excess := _size(name.final(int(JOB_ID_ROOM))) - self.limit) > 0:
            longest = max(texts, key=lambda f: _size(clean(name.values.get(f))))
            text = clean(name.values.get(longest)).encode("utf-8")
            if len(text) <= 1:
                break  # parse() keeps room for the rest
            cut = text[: max(1, len(text) - excess)].decode("utf-8", errors="ignore")
            name = Name(template, {**name.values, longest: cut}, name.tag)
        self.notes.append(
            f"{self.describe(index)}: {self.kind} would pass {self.limit} bytes; "
            f"shortened its {longest}"
        )
        return name


def _key(name: Name) -> str:
    """What makes two names the same (case folded: some file systems and services
    do not tell case apart)."""
    return name.final(None).casefold()


def _tagged(name: str, tag: str) -> str:
    """``name`` with ``-<tag>`` before its extension (``a.zip`` -> ``a-1a2b3c4d.zip``)."""
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= 4 and extension.isalnum():
        return f"{stem}-{tag}.{extension}"
    return f"{name}-{tag}"
