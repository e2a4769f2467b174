"""Outputs and the step summary, from the results."""

from __future__ import annotations

import json
from pathlib import Path

from playcanvas_backup.report import ArchiveResult, outputs, summary

WORKSPACE = Path("/github/workspace")


def saved(project_id: int, name: str) -> ArchiveResult:
    return ArchiveResult(
        project_id,
        "main",
        None,
        job_id=9,
        path=WORKSPACE / "out" / name,
        sha256="ab" * 32,
        size=2048,
        seconds=3.0,
    )


def test_describes_the_first_saved_archive_even_when_another_failed() -> None:
    failed = ArchiveResult(1, "main", None, error="Project not found")
    values = outputs([failed, saved(2, "b.zip"), saved(3, "c.zip")], WORKSPACE)

    assert values["path"] == "out/b.zip"
    assert values["sha256"] == "ab" * 32 and values["size"] == "2048" and values["job-id"] == "9"
    entries = json.loads(values["archives"])
    assert [e["project_id"] for e in entries] == [1, 2, 3]
    assert entries[0] == {
        "project_id": 1,
        "branch": "main",
        "branch_id": None,
        "job_id": None,
        "path": None,
        "sha256": None,
        "size": None,
        "artifact_id": None,
        "artifact_url": None,
        "error": "Project not found",
    }
    assert "artifact-id" not in values


def test_nothing_saved_means_only_the_archives_output() -> None:
    values = outputs([ArchiveResult(1, "main", None, error="x")], WORKSPACE)
    assert set(values) == {"archives"}


def test_artifact_outputs_come_from_the_first_upload() -> None:
    result = saved(2, "b.zip")
    result.artifact_id, result.artifact_url = (
        77,
        "https://github.com/o/r/actions/runs/1/artifacts/77",
    )
    values = outputs([result], WORKSPACE)
    assert values["artifact-id"] == "77" and values["artifact-url"].endswith("/77")


def test_summary_has_a_row_per_archive_and_the_reason_for_failures() -> None:
    text = summary(
        [saved(2, "b.zip"), ArchiveResult(1, "dev", None, error="bad | thing")], WORKSPACE
    )

    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 3
    assert "`out/b.zip`" in rows[1] and "2.0 KiB" in rows[1] and "3.0 s" in rows[1]
    assert "❌ bad \\| thing" in rows[2]
    assert "1 of 2 archives saved" in text
