"""What a run tells its users: one result per requested archive, the step outputs and the
step summary. Pure functions of the results.

Branch names and error texts come (in part) from PlayCanvas: in the outputs they are
cleaned by :func:`untrusted.clean`, in the summary shown as code spans; ``secrets`` are
redacted from both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import untrusted
from .units import human_duration, human_size

if TYPE_CHECKING:
    from .projects import Excluded

#: GitHub refuses a step summary over 1 MiB; rows past this many bytes are left out.
SUMMARY_LIMIT = 1_000_000


@dataclass
class ArchiveResult:
    """One requested archive, filled in as it goes; ``error`` set when it failed."""

    project_id: int
    branch: str
    branch_id: str | None
    job_id: int | None = None
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    artifact_id: int | None = None
    artifact_url: str | None = None
    seconds: float | None = None
    error: str | None = None
    #: The zip's CRCs were checked (``verify: true``).
    verified: bool = False
    #: False when the run stopped before this archive was tried (a refused token).
    attempted: bool = True
    #: The project's name on PlayCanvas (untrusted text), when it was read.
    project_name: str | None = None
    #: Of the ``.age`` file at ``path`` (``encrypt-to``); ``sha256``/``size`` stay the
    #: plaintext archive's, what a restore yields.
    encrypted_sha256: str | None = None
    encrypted_size: int | None = None
    #: Where ``s3-uri`` stored it (verified), and the object's version (versioned buckets).
    s3_uri: str | None = None
    s3_version_id: str | None = None

    @property
    def archived(self) -> bool:
        """The archive is on disk and verified (its upload may still have failed)."""
        return self.path is not None and self.sha256 is not None


def shown_path(path: Path, workspace: Path) -> str:
    """A path as later steps can use it: relative to the workspace when inside it."""
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def outputs(
    results: list[ArchiveResult], workspace: Path, *, secrets: Iterable[str] = ()
) -> dict[str, str]:
    """The step outputs; ``path``/``sha256``/``size``/``job-id`` (and ``encrypted-*``)
    describe the first archive that was saved, ``artifact-*`` the first that was uploaded,
    ``projects`` every project planned (after ``user-id`` and ``exclude``)."""
    secrets = tuple(secrets)
    entries = [_entry(result, workspace, secrets) for result in results]
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
    values["archives"] = json.dumps(entries)
    return values


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
) -> str:
    """The step summary: a Markdown table, one row per archive, failures with their reason,
    then the projects ``exclude`` left out."""
    secrets = tuple(secrets)
    s3 = any(r.s3_uri for r in results)  # a column only for runs that store in S3
    saved = [r for r in results if r.archived and not r.error]
    checked = " and verified" if saved and all(r.verified for r in saved) else ""
    plural = "s" if len(results) != 1 else ""
    headline = (
        f"Dry run: {len(results)} archive{plural} planned, nothing exported."
        if dry_run
        else f"{len(saved)} of {len(results)} archive{plural} saved{checked}."
    )
    lines = [
        "### PlayCanvas backup",
        "",
        headline,
        "",
        "| Project | Branch | Archive | Size | SHA-256 | Time | Artifact |"
        + (" S3 |" if s3 else ""),
        "| --- | --- | --- | ---: | --- | ---: | --- |" + (" --- |" if s3 else ""),
    ]
    size = sum(len(line.encode()) + 1 for line in lines)
    for index, r in enumerate(results):
        row = _row(r, workspace, secrets, s3=s3)
        size += len(row.encode()) + 1
        if size > SUMMARY_LIMIT:
            lines += ["", f"{len(results) - index} more archives: see the `archives` output."]
            break
        lines.append(row)
    if excluded:
        lines += ["", f"Left out by `exclude` ({len(excluded)}):", ""]
        lines += [
            f"* {e.project.id} {_code(e.project.name, secrets)}: {_code(e.reason, secrets)}"
            for e in excluded[:200]
        ]
    return "\n".join(lines) + "\n"


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
