"""Fixtures: the PlayCanvas emulator, and the action run the way the runner runs it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from playcanvas_backup import cli, retries
from playcanvas_backup.report import ARCHIVES_FILE_PREFIX
from tests.artifact_service import PRIVATE_EVENT
from tests.emulator import Emulator
from tests.s3_server import S3Server

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "entrypoint.py"
#: The entrypoint with backoff waits announced but not slept (see the file).
FAST_ENTRYPOINT = ROOT / "tests" / "fast_entrypoint.py"
PROJECT = 111111
OTHER_PROJECT = 222222


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator with two projects; rate-limit windows of one second keep tests fast."""
    with Emulator(rate_window=1.0) as pc:
        pc.add_project(PROJECT, branches=("main", "dev", "feature/physics"))
        pc.add_project(OTHER_PROJECT)
        yield pc


@dataclass
class Run:
    """What one run of the action left behind."""

    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    @property
    def archives(self) -> list[dict[str, object]]:
        return list(json.loads(self.outputs["archives"]))

    def files(self, directory: str = "playcanvas-backups") -> list[str]:
        """Every file in the output directory, hidden ones included, but the runs' own
        lists of archives (``archives-file``, see :meth:`archives_file`)."""
        folder = self.workspace / directory
        if not folder.exists():
            return []
        return sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(ARCHIVES_FILE_PREFIX)
        )

    @property
    def archives_file(self) -> Path:
        """The file the ``archives-file`` output names."""
        return self.workspace / self.outputs["archives-file"]


def parse_output_file(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file the way the runner does (``name<<delimiter`` records)."""
    values: dict[str, str] = {}
    for match in re.finditer(r"^(.+?)<<(\S+)\n(.*?)\n\2$", text, re.S | re.M):
        values[match.group(1)] = match.group(3)
    return values


class Action:
    """Runs ``entrypoint.py`` in a subprocess as the runner runs a Docker action."""

    def __init__(self, tmp_path: Path, emulator: Emulator) -> None:
        self.tmp_path = tmp_path
        self.emulator = emulator
        self.workspace = tmp_path / "workspace"
        self.workspace.mkdir()
        self.file_commands = tmp_path / "file_commands"
        self.file_commands.mkdir()

    def env(self, inputs: dict[str, str], *, github: bool = True) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.tmp_path),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if github:
            env.update(
                GITHUB_ACTIONS="true",
                GITHUB_WORKSPACE=str(self.workspace),
                GITHUB_OUTPUT=str(self.file_commands / "set_output"),
                GITHUB_STEP_SUMMARY=str(self.file_commands / "step_summary"),
                GITHUB_SERVER_URL="https://github.com",
                GITHUB_REPOSITORY="octo/game",
                GITHUB_RUN_ID="4242",
                RUNNER_TEMP=str(self.tmp_path),
                GITHUB_EVENT_PATH=str(PRIVATE_EVENT),
            )
        defaults = {
            "access-token": self.emulator.token,
            "project-id": str(PROJECT),
            "api-url": self.emulator.api_url,
            "poll-interval": "0.05",
            "max-poll-interval": "0.2",
            "upload-artifact": "false",
        }
        for name, value in {**defaults, **inputs}.items():
            env[f"INPUT_{name.upper()}"] = value
        return env

    def __call__(
        self,
        *args: str,
        github: bool = True,
        env: dict[str, str] | None = None,
        inputs: dict[str, str] | None = None,
        process: bool = False,
        **more_inputs: str,
    ) -> Run:
        """Run with these inputs (``project_id=`` sets ``INPUT_PROJECT-ID``) over the defaults.

        By default ``cli.main`` runs in this process, with the environment and streams
        given to it (the product reads nothing else), in the workspace; ``process=True``
        runs ``entrypoint.py`` in a process of its own, as the runner does.
        """
        given = {**(inputs or {}), **more_inputs}
        full_env = self.env({k.replace("_", "-"): v for k, v in given.items()}, github=github)
        full_env.update(env or {})
        full_env = {k: v for k, v in full_env.items() if v is not None}
        if process:
            completed = subprocess.run(
                [sys.executable, str(FAST_ENTRYPOINT), *args],
                cwd=self.workspace,
                env=full_env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            exit_code, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
        else:
            exit_code, stdout, stderr = _in_process(list(args), full_env, self.workspace)
        output_file = self.file_commands / "set_output"
        summary_file = self.file_commands / "step_summary"
        return Run(
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            outputs=parse_output_file(output_file.read_text()) if output_file.exists() else {},
            summary=summary_file.read_text() if summary_file.exists() else "",
            workspace=self.workspace,
        )


def _in_process(args: list[str], env: dict[str, str], workspace: Path) -> tuple[int, str, str]:
    """``cli.main`` here, as ``tests/fast_entrypoint.py`` runs it: (status, stdout, stderr).
    Anything written to the process's own streams (argparse's ``--help``) is caught too."""
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    retries.set_testing(True)
    try:
        os.chdir(workspace)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(args, env, out=out, err=err)
            except SystemExit as exit_:  # --help, --version, a bad flag
                status = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(cwd)
        retries.set_testing(False)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def action(tmp_path: Path, emulator: Emulator) -> Action:
    return Action(tmp_path, emulator)


@pytest.fixture
def s3() -> Iterator[S3Server]:
    """A real S3 server (moto) on loopback behind the fault front, with two buckets."""
    with S3Server() as server:
        yield server
