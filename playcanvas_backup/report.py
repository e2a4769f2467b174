"""What a run tells its users: one result per requested archive, the step outputs and the
step summary. Pure functions of the results.

Branch names and error texts come (in part) from PlayCanvas: in the outputs they are
cleaned by :func:`untrusted.clean`, in the summary shown as code spans; ``secrets`` are
redacted from both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import untrusted
from .units import human_duration, human_size

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
    """The step outputs; ``path``/``sha256``/``size``/``job-id`` describe the first archive
    that was saved, ``artifact-*`` the first that was uploaded."""
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
    uploaded = next((e for e in entries if e["artifact_id"] is not None), None)
    if uploaded is not None:
        values["artifact-id"] = str(uploaded["artifact_id"])
        values["artifact-url"] = uploaded["artifact_url"]
    values["archives"] = json.dumps(entries)
    return values


def _entry(result: ArchiveResult, workspace: Path, secrets: tuple[str, ...]) -> dict[str, Any]:
    return {
        "project_id": result.project_id,
        "branch": untrusted.clean(result.branch, secrets=secrets),
        "branch_id": result.branch_id,
        "job_id": result.job_id,
        "path": shown_path(result.path, workspace) if result.path else None,
        "sha256": result.sha256,
        "size": result.size,
        "artifact_id": result.artifact_id,
        "artifact_url": result.artifact_url,
        "error": (
            untrusted.clean(result.error, secrets=secrets, limit=untrusted.MAX_MESSAGE)
            if result.error is not None
            else None
        ),
    }


def summary(results: list[ArchiveResult], workspace: Path, *, secrets: Iterable[str] = ()) -> str:
    """The step summary: a Markdown table, one row per archive, failures with their reason."""
    secrets = tuple(secrets)
    saved = [r for r in results if r.archived and not r.error]
    checked = " and verified" if saved and all(r.verified for r in saved) else ""
    lines = [
        "### PlayCanvas backup",
        "",
        f"{len(saved)} of {len(results)} archive{'s' if len(results) != 1 else ''} saved{checked}.",
        "",
        "| Project | Branch | Archive | Size | SHA-256 | Time | Artifact |",
        "| --- | --- | --- | ---: | --- | ---: | --- |",
    ]
    size = sum(len(line.encode()) + 1 for line in lines)
    for index, r in enumerate(results):
        row = _row(r, workspace, secrets)
        size += len(row.encode()) + 1
        if size > SUMMARY_LIMIT:
            lines += ["", f"{len(results) - index} more archives: see the `archives` output."]
            break
        lines.append(row)
    return "\n".join(lines) + "\n"


def _row(r: ArchiveResult, workspace: Path, secrets: tuple[str, ...]) -> str:
    archive = _code(shown_path(r.path, workspace), secrets) if r.path else "-"
    if r.error:
        error = untrusted.clean(r.error, secrets=secrets, limit=untrusted.MAX_MESSAGE)
        archive = (archive + "<br>" if r.path else "") + f"❌ {untrusted.markdown_code(error)}"
    cells = [
        str(r.project_id),
        _code(r.branch, secrets),
        archive,
        human_size(r.size) if r.size is not None else "-",
        f"`{r.sha256}`" if r.sha256 else "-",
        human_duration(r.seconds) if r.seconds is not None else "-",
        f"[{r.artifact_id}]({r.artifact_url})" if r.artifact_url else "-",
    ]
    return "| " + " | ".join(cells) + " |"


def _code(text: str, secrets: tuple[str, ...]) -> str:
    return untrusted.markdown_code(untrusted.clean(text, secrets=secrets)) or "-"
