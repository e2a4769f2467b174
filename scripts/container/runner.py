"""Run the image the way the GitHub runner runs a Docker action.

What the runner does, as far as the container can see it: it starts the image's own
ENTRYPOINT (plus CMD; the action.yml here gives no ``args``) with the working directory
``/github/workspace``, the job's workspace mounted there, the file-command files under
``/github/file_commands``, the event payload under ``/github/workflow`` and HOME under
``/github/home``; every input of action.yml arrives as ``INPUT_<NAME>`` (upper-cased,
hyphens kept), with its default from action.yml when the workflow does not set it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .buildah import Buildah

WORKSPACE = "/github/workspace"
FILE_COMMANDS = "/github/file_commands"


def action_defaults(action_yml: Path) -> dict[str, str]:
    """Every input of action.yml with the default the runner passes when it is not set."""
    metadata: dict[str, Any] = YAML(typ="safe").load(action_yml.read_text())
    return {
        name: "" if spec.get("default") is None else str(spec["default"])
        for name, spec in metadata["inputs"].items()
    }


@dataclass
class RunnerDirs:
    """The host side of the runner's mounts, under one scratch directory."""

    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def file_commands(self) -> Path:
        return self.root / "file_commands"

    @property
    def workflow(self) -> Path:
        return self.root / "workflow"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def create(self) -> None:
        for folder in (self.workspace, self.file_commands, self.workflow, self.home):
            folder.mkdir(parents=True)


@dataclass
class ContainerRun:
    """What one run of the container left behind, on the host."""

    command: list[str]
    exit_code: int
    stdout: str
    stderr: str
    output_file: Path
    summary_file: Path


def run_as_runner(
    buildah: Buildah,
    container: str,
    entrypoint: list[str],
    dirs: RunnerDirs,
    inputs: dict[str, str],
    *,
    services: dict[str, str] | None = None,
) -> ContainerRun:
    """Run ``entrypoint`` in ``container`` with the runner's mounts and environment;
    ``services`` adds the runner's service variables (``ACTIONS_RUNTIME_TOKEN``, ...)."""
    dirs.create()
    suffix = uuid.uuid4()
    files = {
        "GITHUB_OUTPUT": f"set_output_{suffix}",
        "GITHUB_STEP_SUMMARY": f"step_summary_{suffix}",
        "GITHUB_ENV": f"set_env_{suffix}",
        "GITHUB_PATH": f"add_path_{suffix}",
        "GITHUB_STATE": f"save_state_{suffix}",
    }
    for name in files.values():
        (dirs.file_commands / name).touch()  # the runner creates them, empty, beforehand
    event = {"repository": {"full_name": "octo/game", "private": True, "visibility": "private"}}
    (dirs.workflow / "event.json").write_text(json.dumps(event))
    env = {
        "HOME": "/github/home",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": WORKSPACE,
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_REPOSITORY": "octo/game",
        "GITHUB_REPOSITORY_OWNER": "octo",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "backup",
        "GITHUB_ACTION": "backup",
        "GITHUB_REF": "refs/heads/main",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": "/home/runner/work/_temp",  # a host path: not mounted, as on GitHub
        **{name: f"{FILE_COMMANDS}/{file}" for name, file in files.items()},
        # The services' own event file is a host path; the container reads the one above.
        **{k: v for k, v in (services or {}).items() if k != "GITHUB_EVENT_PATH"},
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
    }
    volumes = {
        dirs.workspace: WORKSPACE,
        dirs.file_commands: FILE_COMMANDS,
        dirs.workflow: "/github/workflow",
        dirs.home: "/github/home",
    }
    done: subprocess.CompletedProcess[str] = buildah.run_in(
        container, entrypoint, env=env, volumes=volumes, workdir=WORKSPACE, timeout=300
    )
    return ContainerRun(
        command=entrypoint,
        exit_code=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        output_file=dirs.file_commands / files["GITHUB_OUTPUT"],
        summary_file=dirs.file_commands / files["GITHUB_STEP_SUMMARY"],
    )
