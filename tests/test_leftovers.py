"""What a run leaves on disk when it is killed, stopped or run beside another: never a
plaintext archive under a final name with ``encrypt-to``, never another run's live part
file removed, and every leftover of a killed run removed by the next one, which says so.

The runs here are the real entrypoint in a process of its own, against the emulator;
``tests/paused_entrypoint.py`` holds a run at one phase of the encryption until the test
kills it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from tests.conftest import (
    FAST_ENTRYPOINT,
    OTHER_PROJECT,
    PROJECT,
    ROOT,
    Action,
    parse_output_file,
)
from tests.emulator import Emulator

PAUSED_ENTRYPOINT = ROOT / "tests" / "paused_entrypoint.py"
FOLDER = "playcanvas-backups"


@pytest.fixture
def recipient() -> str:
    return str(x25519.Identity.generate().to_public())


def start(action: Action, inputs: dict[str, str], env: dict[str, str] | None = None) -> Any:
    """The action in a process of its own (the paused entrypoint when ``PAUSE_AT`` is set)."""
    full_env = {**action.env(inputs), **(env or {})}
    entrypoint = PAUSED_ENTRYPOINT if "PAUSE_AT" in full_env else FAST_ENTRYPOINT
    return subprocess.Popen(
        [sys.executable, str(entrypoint)],
        cwd=action.workspace,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], what: str, process: Any) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.02)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def downloading(folder: Path) -> bool:
    return (
        any(
            p.name.endswith(".part") and ".zip." in p.name and p.stat().st_size > 0
            for p in folder.iterdir()
        )
        if folder.exists()
        else False
    )


def assert_no_plaintext_under_a_final_name(folder: Path) -> None:
    final = [n for n in names(folder) if not n.startswith(".")]
    assert all(n.endswith(".zip.age") or n.startswith("playcanvas-backup-") for n in final), final


@pytest.mark.parametrize("phase", ["download", "verifying", "verified", "encrypting", "renamed"])
def test_a_kill_at_any_phase_leaves_no_plaintext_and_the_next_run_removes_the_leftovers(
    action: Action, emulator: Emulator, recipient: str, tmp_path: Path, phase: str
) -> None:
    folder = action.workspace / FOLDER
    marker = tmp_path / "paused"
    env = {} if phase == "download" else {"PAUSE_AT": phase, "PAUSE_MARKER": str(marker)}
    if phase == "download":
        emulator._projects[PROJECT].archive_size = 4 << 20
        emulator.faults.download_rate = 256 << 10
    process = start(action, {"encrypt-to": recipient}, env)
    if phase == "download":
        wait_for(lambda: downloading(folder), "the download", process)
    else:
        wait_for(marker.exists, f"the {phase} phase", process)

    process.kill()
    process.communicate(timeout=30)
    leftovers = [n for n in names(folder) if n.endswith(".part")]

    assert_no_plaintext_under_a_final_name(folder)
    assert leftovers, "the kill left no part file: the test stopped at no phase"
    emulator.faults.download_rate = None
    emulator._projects[PROJECT].archive_size = 16 << 10
    run = action(encrypt_to=recipient)
    assert run.exit_code == 0, run.log
    for leftover in leftovers:
        assert f"removed {leftover}, " in run.stdout
        assert "left behind by a run that was stopped (its process is gone)" in run.stdout
    assert [n for n in names(folder) if n.endswith((".part", ".lock"))] == []
    assert_no_plaintext_under_a_final_name(folder)


def test_sigterm_while_encrypting_exits_143_with_outputs_and_no_plaintext(
    action: Action, recipient: str, tmp_path: Path
) -> None:
    folder, marker = action.workspace / FOLDER, tmp_path / "paused"
    process = start(
        action, {"encrypt-to": recipient}, {"PAUSE_AT": "encrypting", "PAUSE_MARKER": str(marker)}
    )
    wait_for(marker.exists, "the encryption", process)

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "Encryption failed" not in stderr
    outputs = parse_output_file((action.file_commands / "set_output").read_text())
    (archive,) = json.loads(outputs["archives"])
    assert "Not finished: the run was stopped." in archive["error"]
    assert (action.workspace / outputs["archives-file"]).is_file()
    assert "0 of 1 archive saved" in (action.file_commands / "step_summary").read_text()
    assert [n for n in names(folder) if n.startswith(".")] == []
    assert_no_plaintext_under_a_final_name(folder)


def test_a_concurrent_runs_live_part_file_is_never_removed(
    action: Action, emulator: Emulator
) -> None:
    folder = action.workspace / FOLDER
    emulator._projects[PROJECT].archive_size = 4 << 20
    emulator.faults.download_rate = 512 << 10
    first = start(action, {"timeout": "120"})
    wait_for(lambda: downloading(folder), "the first run's download", first)
    (live,) = [p for p in folder.iterdir() if p.name.endswith(".part")]
    # Older than any run could be, by its date: only its owner's lock keeps it.
    old = time.time() - 10 * 3600
    os.utime(live, (old, old))

    second = action(project_id=str(OTHER_PROJECT), timeout="120")

    assert second.exit_code == 0, second.log
    assert live.name not in second.stdout
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    saved = parse_output_file((action.file_commands / "set_output").read_text())
    assert saved["archives"]  # the first run's outputs were written too


def test_an_encrypt_to_of_only_comments_exits_2_before_any_request(
    action: Action, emulator: Emulator
) -> None:
    run = action(encrypt_to="# the team's key goes here\n\n")

    assert run.exit_code == 2
    assert "Input 'encrypt-to'" in run.stdout and "no recipient" in run.stdout
    assert emulator.requests == []


def test_a_dry_run_of_ten_thousand_projects_caps_archives_and_lists_all_in_the_file(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_organization(9000, {100_000 + n: f"Level {n}" for n in range(10_000)})

    run = action(project_id="", user_id="9000", dry_run="true")

    assert run.exit_code == 0, run.log
    assert len(run.outputs["archives"].encode()) <= 64 << 10
    kept = json.loads(run.outputs["archives"])
    everything = json.loads(run.archives_file.read_text())
    assert len(everything) == 10_000 and everything[: len(kept)] == kept
    assert "The 'archives' output holds the first" in run.stdout
    assert run.outputs["archives-file"].startswith(f"{FOLDER}/playcanvas-backup-archives-")
