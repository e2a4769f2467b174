"""The opt-in live check (.github/workflows/live.yml, `make live`), offline: its skip path
with the secrets unset, its checks of an archive, and its local run against the emulator
(the live run itself needs PlayCanvas, so it is never part of `make test`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import PROJECT, ROOT
from tests.emulator import Emulator
from tests.emulator.archives import corrupt_copy, make_archive

SCRIPT = ROOT / "scripts" / "live.py"
WORKFLOW = ROOT / ".github" / "workflows" / "live.yml"
needs_unzip = pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip not installed")


def live(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- the skip path --------------------------------------------------------------------------------


def test_without_the_secrets_the_workflow_ends_with_a_notice(tmp_path: Path) -> None:
    output = tmp_path / "output"
    done = live("decide", env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)})

    assert done.returncode == 0
    assert done.stdout.startswith("::notice title=Live check skipped::")
    assert "PLAYCANVAS_ACCESS_TOKEN and PLAYCANVAS_TEST_PROJECT not set" in done.stdout
    assert output.read_text() == "run=false\n"


def test_a_secret_set_to_nothing_counts_as_unset(tmp_path: Path) -> None:
    output = tmp_path / "output"
    env = {
        "GITHUB_OUTPUT": str(output),
        "PLAYCANVAS_ACCESS_TOKEN": "x",
        "PLAYCANVAS_TEST_PROJECT": "",
    }

    done = live("decide", env=env)

    assert "PLAYCANVAS_TEST_PROJECT not set" in done.stdout
    assert output.read_text() == "run=false\n"


def test_with_the_secrets_the_workflow_goes_on(tmp_path: Path) -> None:
    output = tmp_path / "output"
    env = {
        "GITHUB_OUTPUT": str(output),
        "PLAYCANVAS_ACCESS_TOKEN": "t",
        "PLAYCANVAS_TEST_PROJECT": "5",
    }

    done = live("decide", env=env)

    assert done.returncode == 0 and done.stdout == ""
    assert output.read_text() == "run=true\n"


def test_make_live_skips_with_a_message_when_the_variables_are_unset() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYCANVAS_")}
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "live"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Live check skipped" in done.stdout


def test_the_workflow_runs_the_action_only_after_the_decision() -> None:
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    steps = workflow["jobs"]["live"]["steps"]
    decide, backup, check = steps[1], steps[2], steps[3]

    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"}
    assert decide["run"] == "python3 scripts/live.py decide"
    assert set(decide["env"]) == {"PLAYCANVAS_ACCESS_TOKEN", "PLAYCANVAS_TEST_PROJECT"}
    assert backup["uses"] == "./"
    assert backup["if"] == check["if"] == "steps.secrets.outputs.run == 'true'"
    assert check["run"] == "python3 scripts/live.py check"


# -- the checks -----------------------------------------------------------------------------------


def outputs_of(path: Path, workspace: Path) -> dict[str, str]:
    data = path.read_bytes()
    return {
        "GITHUB_WORKSPACE": str(workspace),
        "ARCHIVE_PATH": path.relative_to(workspace).as_posix(),
        "ARCHIVE_SHA256": hashlib.sha256(data).hexdigest(),
        "ARCHIVE_SIZE": str(len(data)),
        "ARCHIVES": json.dumps([{"project_id": 1, "error": None}]),
    }


@needs_unzip
def test_the_check_passes_a_good_archive(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.zip", size=4096, label="live")

    done = live("check", env=outputs_of(archive, tmp_path))

    assert done.returncode == 0, done.stdout
    assert "live check passed" in done.stdout


@needs_unzip
def test_the_check_fails_a_sha256_that_does_not_match(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.zip", size=4096, label="live")
    env = {**outputs_of(archive, tmp_path), "ARCHIVE_SHA256": "0" * 64}

    done = live("check", env=env)

    assert done.returncode == 1 and "SHA-256" in done.stdout


@needs_unzip
def test_the_check_fails_a_zip_that_unzip_rejects(tmp_path: Path) -> None:
    good = make_archive(tmp_path / "good.zip", size=4096, label="live")
    bad = tmp_path / "bad.zip"
    corrupt_copy(good, bad)

    done = live("check", env=outputs_of(bad, tmp_path))

    assert done.returncode == 1 and "unzip -t failed" in done.stdout


@needs_unzip
def test_the_check_fails_an_archive_with_an_error(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.zip", size=4096, label="live")
    env = {**outputs_of(archive, tmp_path), "ARCHIVES": json.dumps([{"error": "boom"}])}

    assert live("check", env=env).returncode == 1


# -- the local run, against the emulator instead of PlayCanvas -----------------------------------


@needs_unzip
def test_the_local_run_backs_up_and_checks(emulator: Emulator, tmp_path: Path) -> None:
    env = {
        "PLAYCANVAS_ACCESS_TOKEN": emulator.token,
        "PLAYCANVAS_TEST_PROJECT": str(PROJECT),
        "PLAYCANVAS_API_URL": emulator.api_url,
    }

    done = live("local", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "live check passed" in done.stdout
    assert len(emulator.api_requests("POST", "/export")) == 1
