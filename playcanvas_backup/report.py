"""What a run tells its users: one result per requested archive, the step outputs and the
step summary. Pure functions of the results.

Branch names and error texts come (in part) from PlayCanvas: in the outputs they are
cleaned by :func:`untrusted.clean`, in the summary shown as code spans; ``secrets`` are
redacted from both. In the JSON outputs every text value is redacted before the list is
serialised, never the serialised text, so they always parse.

The ``archives`` output is capped at :data:`ARCHIVES_LIMIT` (a step's environment cannot
hold much more than 128 KiB in one variable): past it, the output holds the longest prefix
of the list that fits, still valid JSON, and the whole list is in the file
:func:`write_archives` writes beside the archives (output ``archives-file``), on every
run. That file's name is the run's own (a timestamp and a random tag), so that runs
sharing a folder, one after another or side by side, never overwrite each other's.
"""

from __future__ import annotations

import json
import os
import secrets as tokens
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import untrusted
from .result import ArchiveResult
from .units import human_duration, human_size

if TYPE_CHECKING:
    from .projects import Excluded

#: The outputs whose values are JSON text (a local run's JSON embeds them as JSON).
JSON_OUTPUTS = frozenset({"projects", "archives"})
#: GitHub refuses a step summary over 1 MiB; lines past this many bytes are left out.
SUMMARY_LIMIT = 1_000_000
#: The most bytes the ``archives`` output holds (its full list: ``archives-file``).
ARCHIVES_LIMIT = 64 << 10
#: The start of the name of each run's ``archives-file``.
ARCHIVES_FILE_PREFIX = "playcanvas-backup-archives-"


def failed(results: Sequence[ArchiveResult], *, dry_run: bool) -> bool:
    """The exit rule: a run failed when an archive failed, or when it is not a dry run and
    saved no archive, whatever the reason (a refused token, a refused or empty listing,
    ``exclude`` leaving nothing, every archive failed)."""
    saved = any(r.archived for r in results)
    return any(r.error for r in results) or (not dry_run and not saved)


def nothing_saved(
    results: Sequence[ArchiveResult], excluded: Sequence[Excluded], *, dry_run: bool
) -> str | None:
    """Why a run saved nothing, when no archive's own error says so (else None)."""
    if dry_run or any(r.archived or r.error for r in results):
        return None
    if results:
        return "No archive was saved."
    if excluded:
        return (
            f"No archive was saved: exclude left out every project ({len(excluded)}), so "
            "there was nothing to back up. Narrow exclude."
        )
    return (
        "No archive was saved: there was no project to back up (the user-id account "
        "lists none). Check user-id, or name the projects in project-id."
    )


def shown_path(path: Path, workspace: Path) -> str:
    """A path as later steps can use it: relative to the workspace when inside it."""
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def outputs(
    results: list[ArchiveResult],
    workspace: Path,
    *,
    secrets: Iterable[str] = (),
    archives_file: Path | None = None,
) -> dict[str, str]:
    """The step outputs; ``path``/``sha256``/``size``/``job-id`` (and ``encrypted-*``)
    describe the first archive that was saved, ``artifact-*`` the first that was uploaded,
    ``projects`` every project planned (after ``user-id`` and ``exclude``), ``archives``
    every archive (within :data:`ARCHIVES_LIMIT`), ``archives-file`` where all are."""
    secrets = tuple(secrets)
    entries = archive_entries(results, workspace, secrets=secrets)
    values: dict[str, str] = {}
    first = next((e for e, r in zip(entries, results, strict=True) if r.archived), None)
    if first is not None:
        values.update(
            path=first["path"],
            sha256=first["sha256"],
            size=str(first["size"]),
            **{"job-id": str(first["job_id"])},
        )
        if first["encrypted_sha256"] is not None:
            values["encrypted-sha256"] = first["encrypted_sha256"]
            values["encrypted-size"] = str(first["encrypted_size"])
    uploaded = next((e for e in entries if e["artifact_id"] is not None), None)
    if uploaded is not None:
        values["artifact-id"] = str(uploaded["artifact_id"])
        values["artifact-url"] = uploaded["artifact_url"]
    values["projects"] = json.dumps(list(dict.fromkeys(r.project_id for r in results)))
    values["archives"], _ = capped_json(entries, ARCHIVES_LIMIT)
    if archives_file is not None:
        values["archives-file"] = shown_path(archives_file, workspace)
    return values


def archive_entries(
    results: Sequence[ArchiveResult], workspace: Path, *, secrets: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """One object per archive, as the ``archives`` output and file hold it: texts from
    outside cleaned, every text value redacted (before any serialising)."""
    secrets = tuple(secrets)
    return [
        {
            key: untrusted.redact(value, secrets) if isinstance(value, str) else value
            for key, value in _entry(result, workspace, secrets).items()
        }
        for result in results
    ]


def capped_json(items: Sequence[Any], limit: int) -> tuple[str, int]:
    """``items`` as a JSON array of at most ``limit`` UTF-8 bytes: the longest prefix that
    fits (as ``json.dumps`` writes it); returns the text and how many items it holds."""
    parts: list[str] = []
    size = 2  # "[" and "]"
    for item in items:
        part = json.dumps(item)
        size += len(part.encode()) + (2 if parts else 0)  # ", " between items
        if size > limit:
            break
        parts.append(part)
    return "[" + ", ".join(parts) + "]", len(parts)


def write_archives(
    folder: Path,
    results: Sequence[ArchiveResult],
    workspace: Path,
    *,
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> Path:
    """Write every archive's entry to this run's own ``archives-file`` in ``folder``
    (whole or not at all: a temporary file renamed into place); return its path."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{ARCHIVES_FILE_PREFIX}{moment}-{tokens.token_hex(4)}.json"
    text = json.dumps(archive_entries(results, workspace, secrets=secrets), indent=1)
    fd, part = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text + "\n")
        Path(part).chmod(0o644)
        Path(part).replace(path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return path


def _entry(result: ArchiveResult, workspace: Path, secrets: tuple[str, ...]) -> dict[str, Any]:
    return {
        "project_id": result.project_id,
        "project_name": (
            untrusted.clean(result.project_name, secrets=secrets)
            if result.project_name is not None
            else None
        ),
        "branch": untrusted.clean(result.branch, secrets=secrets),
        "branch_id": result.branch_id,
        "job_id": result.job_id,
        "path": shown_path(result.path, workspace) if result.path else None,
        "sha256": result.sha256,
        "size": result.size,
        "encrypted_sha256": result.encrypted_sha256,
        "encrypted_size": result.encrypted_size,
        "artifact_id": result.artifact_id,
        "artifact_url": result.artifact_url,
        "s3_uri": result.s3_uri,
        "s3_version_id": result.s3_version_id,
        "error": (
            untrusted.clean(result.error, secrets=secrets, limit=untrusted.MAX_MESSAGE)
            if result.error is not None
            else None
        ),
    }


def summary(
    results: list[ArchiveResult],
    workspace: Path,
    *,
    secrets: Iterable[str] = (),
    excluded: Sequence[Excluded] = (),
    dry_run: bool = False,
    problem: str | None = None,
) -> str:
    """The step summary: a Markdown table, one row per archive, failures with their reason,
    then the projects ``exclude`` left out; ``problem`` is what failed the run as a whole."""
    secrets = tuple(secrets)
    s3 = any(r.s3_uri for r in results)  # a column only for runs that store in S3
    top = headline(results, dry_run=dry_run)
    if problem:
        problem = untrusted.clean(problem, secrets=secrets, limit=untrusted.MAX_MESSAGE)
        top += f"\n\n❌ {untrusted.markdown_code(problem)}"
    lines = [
        "### PlayCanvas backup",
        "",
        top,
        "",
        "| Project | Branch | Archive | Size | SHA-256 | Time | Artifact |"
        + (" S3 |" if s3 else ""),
        "| --- | --- | --- | ---: | --- | ---: | --- |" + (" --- |" if s3 else ""),
    ]
    rows = [_row(r, workspace, secrets, s3=s3) for r in results]
    room = SUMMARY_LIMIT - _size(lines) - _NOTES
    lines += _within(rows, room, "{} more archives: see the file `archives-file` names.")
    if excluded:
        heading = ["", f"Left out by `exclude` ({len(excluded)}):", ""]
        bullets = [
            f"* {e.project.id} {_code(e.project.name, secrets)}: {_code(e.reason, secrets)}"
            for e in excluded
        ]
        room = SUMMARY_LIMIT - _size(lines) - _size(heading) - _NOTES
        lines += heading + _within(bullets, room, "{} more projects left out: see the log.")
    return "\n".join(lines) + "\n"


#: Bytes kept for the notes saying what was left out (two at most).
_NOTES = 400


def _within(lines: list[str], room: int, note: str) -> list[str]:
    """As many of ``lines`` as fit ``room`` bytes, then ``note`` on how many did not."""
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line.encode()) + 1
        if size > room:
            return [*kept, "", note.format(len(lines) - len(kept))]
        kept.append(line)
    return kept


def _size(lines: list[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def headline(results: Sequence[ArchiveResult], *, dry_run: bool = False) -> str:
    """The run in one sentence: how many archives were saved (or planned) of how many."""
    saved = [r for r in results if r.archived and not r.error]
    checked = " and verified" if saved and all(r.verified for r in saved) else ""
    plural = "s" if len(results) != 1 else ""
    if dry_run:
        return f"Dry run: {len(results)} archive{plural} planned, nothing exported."
    return f"{len(saved)} of {len(results)} archive{plural} saved{checked}."


def _row(r: ArchiveResult, workspace: Path, secrets: tuple[str, ...], *, s3: bool) -> str:
    archive = _code(shown_path(r.path, workspace), secrets) if r.path else "-"
    if r.encrypted_sha256:
        # Size and SHA-256 stay the plaintext's (what a restore yields); say what the file is.
        archive += f"<br>age-encrypted: {human_size(r.encrypted_size or 0)}, `{r.encrypted_sha256}`"
    if r.error:
        error = untrusted.clean(r.error, secrets=secrets, limit=untrusted.MAX_MESSAGE)
        archive = (archive + "<br>" if r.path else "") + f"❌ {untrusted.markdown_code(error)}"
    cells = [
        f"{r.project_id} {_code(r.project_name, secrets)}" if r.project_name else str(r.project_id),
        _code(r.branch, secrets),
        archive,
        human_size(r.size) if r.size is not None else "-",
        f"`{r.sha256}`" if r.sha256 else "-",
        human_duration(r.seconds) if r.seconds is not None else "-",
        f"[{r.artifact_id}]({r.artifact_url})" if r.artifact_url else "-",
    ]
    if s3:
        cells.append(_code(r.s3_uri, secrets) if r.s3_uri else "-")
    return "| " + " | ".join(cells) + " |"


def _code(text: str, secrets: tuple[str, ...]) -> str:
    return untrusted.markdown_code(untrusted.clean(text, secrets=secrets)) or "-"
