"""The one client of act: a scratch repository holding the action and the workflows, and
one ``act`` run of a workflow in it, with act's own artifact server on loopback.

act reaches podman through ``DOCKER_HOST`` (set by scripts/act-test). It never pulls
(``--pull=false``; the job image is the local stand-in), does not mount the engine's
socket into the jobs, starts no cache server, checks for no new version, and binds its
artifact server to 127.0.0.1 (the jobs share the host's network).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = Path(__file__).resolve().parent / "workflows"
#: What a user's checkout of the action holds, as far as ``uses: ./`` needs it.
ACTION_FILES = ("action.yml", "Dockerfile", "entrypoint.py", "requirements.txt")
ACTION_DIRS = ("playcanvas_backup",)
#: The job image: the stand-in, tagged as the Dockerfile's base (see __main__).
JOB_IMAGE = "python:3.11-slim"
#: act reads the repository's name from the remote; nothing ever connects to it.
REMOTE = "https://github.com/octo/game.git"
REPOSITORY = "octo/game"
SECRET = "PLAYCANVAS_ACCESS_TOKEN"
#: One log line of a job: ``[<workflow>/<job>] <message>``.
JOB_LINE = re.compile(r"^\[(?P<workflow>[^/\]]+)/(?P<job>[^\]]+)\] (?P<message>.*)$")


def make_repository(folder: Path, substitutions: dict[str, str] | None = None) -> Path:
    """A git repository with the action at its root and every workflow of WORKFLOWS in
    ``.github/workflows`` (act copies it into the job for ``actions/checkout``), each
    ``substitutions`` key in them replaced by its value (a ``uses:`` takes no expression,
    so the loopback registry's port is written into the workflow)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ACTION_FILES:
        shutil.copy2(ROOT / name, folder / name)
    for name in ACTION_DIRS:
        shutil.copytree(
            ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copytree(WORKFLOWS, folder / ".github" / "workflows")
    for workflow in (folder / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        for placeholder, value in (substitutions or {}).items():
            text = text.replace(placeholder, value)
        workflow.write_text(text)
    git = ["git", "-C", str(folder), "-c", "user.name=act-test", "-c", "user.email=act@test"]
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["remote", "add", "origin", REMOTE],
        ["add", "--all"],
        ["commit", "--quiet", "--message", "the action under test"],
    ):
        subprocess.run([*git, *args], check=True, capture_output=True)
    event = {"repository": {"full_name": REPOSITORY, "private": True, "visibility": "private"}}
    (folder.parent / "event.json").write_text(json.dumps(event))
    return folder


@dataclass
class ActRun:
    """What one act run left: its exit status, its whole log and its artifact store."""

    workflow: str
    exit_code: int
    log: str
    artifacts: Path
    seconds: float

    def job_lines(self) -> dict[str, list[str]]:
        """The log's messages by job name (as act names the job, matrix values included)."""
        jobs: dict[str, list[str]] = {}
        for line in self.log.splitlines():
            match = JOB_LINE.match(line)
            if match and match["workflow"] == self.workflow:
                jobs.setdefault(match["job"], []).append(match["message"])
        return jobs

    def artifact(self, name: str) -> Path | None:
        """act stores an artifact at ``<store>/<run id>/<name>/<name>.zip``."""
        found = sorted(self.artifacts.glob(f"*/{name}/{name}.zip"))
        return found[0] if len(found) == 1 else None

    def artifact_names(self) -> list[str]:
        return sorted(path.parent.name for path in self.artifacts.glob("*/*/*.zip"))


@dataclass(frozen=True)
class Act:
    """``act`` from its own venv, run in ``repository`` with a scratch HOME."""

    binary: Path
    repository: Path
    out: Path

    def run(
        self,
        workflow: str,
        *,
        token: str,
        variables: dict[str, str],
        job_env: dict[str, str],
        secrets: dict[str, str] | None = None,
        rebuild: bool = True,
    ) -> ActRun:
        """Run one workflow; ``job_env`` goes to every step (``--env``); ``secrets`` are
        more of ``secrets.<name>`` besides the token (values through the environment, as
        the token's); ``rebuild=False``
        reuses the action's image an earlier run of the same repository built (act names
        it ``act-dockeraction:latest``)."""
        folder = self.out / workflow
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = folder / "artifacts"
        home = self.out / "act-home"
        home.mkdir(exist_ok=True)
        command = [
            str(self.binary), "workflow_dispatch",
            "--workflows", f".github/workflows/{workflow}.yml",
            "--eventpath", str(self.repository.parent / "event.json"),
            "--platform", f"ubuntu-latest={JOB_IMAGE}",
            "--pull=false",
            "--container-daemon-socket", "-",
            "--artifact-server-path", str(artifacts),
            "--artifact-server-addr", "127.0.0.1",
            "--artifact-server-port", str(_free_port()),
            "--no-cache-server",
            f"--rebuild={'true' if rebuild else 'false'}",
            "--action-cache-path", str(home / "actions"),
            "--secret", SECRET,  # the value comes from the environment, not argv
            *[arg for name in secrets or {} for arg in ("--secret", name)],
            *[arg for name, value in variables.items() for arg in ("--var", f"{name}={value}")],
            *[arg for name, value in job_env.items() for arg in ("--env", f"{name}={value}")],
        ]  # fmt: skip
        env = {
            **os.environ,
            "HOME": str(home),  # no ~/.actrc of this machine's user
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "ACT_DISABLE_VERSION_CHECK": "1",  # act would ask its notices service
            SECRET: token,
            **(secrets or {}),
        }
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.repository,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=900,
            check=False,
        )
        seconds = time.monotonic() - started
        (folder / "act.log").write_text(done.stdout)
        return ActRun(workflow, done.returncode, done.stdout, artifacts, seconds)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
