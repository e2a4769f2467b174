"""What a run tells its users: one result per requested archive, the step outputs and the
step summary. Pure functions of the results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .units import human_duration, human_size


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


def outputs(results: list[ArchiveResult], workspace: Path) -> dict[str, str]:
    """The step outputs; ``path``/``sha256``/``size``/``job-id`` describe the first archive
    that was saved, ``artifact-*`` the first that was uploaded."""
    entries = [_entry(result, workspace) for result in results]
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


def _entry(result: ArchiveResult, workspace: Path) -> dict[str, Any]:
    return {
        "project_id": result.project_id,
        "branch": result.branch,
        "branch_id": result.branch_id,
        "job_id": result.job_id,
        "path": shown_path(result.path, workspace) if result.path else None,
        "sha256": result.sha256,
        "size": result.size,
        "artifact_id": result.artifact_id,
        "artifact_url": result.artifact_url,
        "error": result.error,
    }


def summary(results: list[ArchiveResult], workspace: Path) -> str:
    """The step summary: a Markdown table, one row per archive, failures with their reason."""
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
    for r in results:
        archive = f"`{shown_path(r.path, workspace)}`" if r.path else "-"
        if r.error:
            archive = (archive + "<br>" if r.path else "") + f"❌ {_cell(r.error)}"
        lines.append(
            "| "
            + " | ".join(
                [
                    str(r.project_id),
                    _cell(r.branch),
                    archive,
                    human_size(r.size) if r.size is not None else "-",
                    f"`{r.sha256}`" if r.sha256 else "-",
                    human_duration(r.seconds) if r.seconds is not None else "-",
                    f"[{r.artifact_id}]({r.artifact_url})" if r.artifact_url else "-",
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
