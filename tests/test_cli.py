"""The edge in-process: whatever happens in the run, the outputs and summary are written."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest

from playcanvas_backup import cli, run
from playcanvas_backup.config import INPUTS, Settings, load
from playcanvas_backup.result import ArchiveResult
from playcanvas_backup.workflow import Workflow
from tests.conftest import parse_output_file


def actions_env(tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_ACCESS-TOKEN": "pc-token",
        "INPUT_PROJECT-ID": "1 2",
        "INPUT_API-URL": "http://127.0.0.1:9/api",
        "INPUT_UPLOAD-ARTIFACT": "false",
    }


def test_a_bug_after_one_archive_still_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "playcanvas-backups" / "1.zip"

    def back_up(
        settings: Settings, workflow: Workflow, results: list[ArchiveResult], excluded: object
    ) -> list[ArchiveResult]:
        results.append(ArchiveResult(1, "main", None, job_id=5, path=saved, sha256="ab", size=3))
        raise RuntimeError("a bug")

    monkeypatch.setattr(run, "back_up", back_up)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    before = signal.getsignal(signal.SIGINT)

    status = cli.main([], actions_env(tmp_path), out=out, err=out)

    assert status == cli.EXIT_FAILED
    assert "Traceback" not in out.getvalue().replace("::debug::Traceback", "")
    assert "Unexpected error: RuntimeError('a bug')" in out.getvalue()
    outputs = parse_output_file((tmp_path / "output").read_text())
    assert outputs["path"] == "playcanvas-backups/1.zip"
    assert "1 of 1 archive saved" in (tmp_path / "summary").read_text()
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handlers are back


def test_the_settings_echo_is_one_line_per_shown_input_of_the_table_and_no_secret(
    tmp_path: Path,
) -> None:
    token, github_token = "pc-secret-token-0123456789abcdef", "ghs_secret-token-0123456789"
    given = {"access-token": token, "project-id": "1 2", "github-token": github_token}
    settings = load(given, {}, cwd=tmp_path)
    out = io.StringIO()

    cli._echo_settings(settings, Workflow({}, out=out, err=out))

    names = [line.split(":", 1)[0] for line in out.getvalue().splitlines() if ": " in line]
    assert names == [spec.name for spec in INPUTS if spec.shown is not None]
    assert "project-id: 1 2" in out.getvalue()
    assert token not in out.getvalue() and github_token not in out.getvalue()
