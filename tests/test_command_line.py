"""The command line as people expect one: bare true/false flags, logs on stderr and the
outputs alone on stdout, and an installable ``playcanvas-backup`` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from playcanvas_backup.cli import build_parser
from playcanvas_backup.config import INPUTS, Input
from tests.conftest import PROJECT, ROOT, Action
from tests.emulator import Emulator

BOOLEANS = [spec for spec in INPUTS if spec.boolean]


def flag_values(*argv: str) -> dict[str, str | None]:
    args = build_parser().parse_args(list(argv))
    return {spec.name: getattr(args, spec.dest) for spec in INPUTS}


def test_every_true_false_input_is_a_boolean_flag() -> None:
    assert {spec.name for spec in BOOLEANS} == {
        "all-branches",
        "verify",
        "upload-artifact",
        "overwrite",
        "allow-public-repository",
        "dry-run",
    }


@pytest.mark.parametrize("spec", BOOLEANS, ids=lambda spec: spec.name)
def test_a_boolean_flag_alone_means_true(spec: Input) -> None:
    assert flag_values(f"--{spec.name}")[spec.name] == "true"


@pytest.mark.parametrize("spec", BOOLEANS, ids=lambda spec: spec.name)
def test_a_no_flag_means_false(spec: Input) -> None:
    assert flag_values(f"--no-{spec.name}")[spec.name] == "false"


def test_a_boolean_flag_still_takes_a_value() -> None:
    values = flag_values("--all-branches", "false", "--verify", "TRUE")
    assert values["all-branches"] == "false"
    assert values["verify"] == "TRUE"


def test_a_bare_boolean_flag_before_another_flag_leaves_it_alone() -> None:
    values = flag_values("--all-branches", "--project-id", "5", "--dry-run")
    assert values["all-branches"] == "true"
    assert values["project-id"] == "5"
    assert values["dry-run"] == "true"


def test_a_no_flag_takes_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--no-verify", "true"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: true" in capsys.readouterr().err


def test_a_wrong_boolean_value_is_an_input_error_naming_it(action: Action) -> None:
    run = action("--verify", "maybe", github=False)

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "error: Invalid input: Input 'verify': 'maybe' is not a boolean; use true or false."
    ]
    assert run.stdout == ""
    assert not action.emulator.requests


def test_bare_flags_run_the_backup(action: Action, emulator: Emulator) -> None:
    run = action("--all-branches", "--no-verify", "--dry-run", github=False)

    assert run.exit_code == 0, run.log
    outputs = json.loads(run.stdout)
    assert [a["branch"] for a in outputs["archives"]] == ["main", "dev", "feature/physics"]
    assert "verify: false" in run.stderr
    assert not emulator.api_requests("POST", "/export")


def test_the_github_output_format_prints_name_value_lines(action: Action) -> None:
    run = action("--output-format", "github", "--dry-run", github=False)

    assert run.exit_code == 0, run.log
    lines = dict(line.split("=", 1) for line in run.stdout.splitlines())
    assert json.loads(lines["projects"]) == [PROJECT]
    assert json.loads(lines["archives"])[0]["project_id"] == PROJECT


def test_in_actions_the_outputs_go_to_the_output_file_and_the_log_to_stdout(
    action: Action,
) -> None:
    run = action("--output-format", "json", "--dry-run")

    assert run.exit_code == 0, run.log
    assert json.loads(run.outputs["projects"]) == [PROJECT]
    assert "::group::Settings" in run.stdout
    assert "{" not in run.stdout.split("::endgroup::")[-1]
    assert run.stderr == ""


# -- installed as a command ----------------------------------------------------------------------


def test_pip_install_gives_a_working_playcanvas_backup_command(tmp_path: Path) -> None:
    """``pip install .`` into a fresh venv, offline: the wheel is built from a copy of the
    sources with this venv's setuptools (no build isolation, no index), the locked
    dependencies are this venv's (a ``.pth``), the package and its command are the new
    venv's own."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", *(p.name for p in ROOT.glob("LICEN[CS]E*"))):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "playcanvas_backup",
        source / "playcanvas_backup",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    site = next(fresh.glob("lib/python3*/site-packages"))
    (site / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(fresh / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation", "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr

    help_text = subprocess.run(
        [str(fresh / "bin" / "playcanvas-backup"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert help_text.startswith("usage: playcanvas-backup")
    assert "--all-branches" in help_text
    installed = site / "playcanvas_backup"
    shipped = {p.relative_to(installed).as_posix() for p in installed.rglob("*.py")}
    expected = {p.relative_to(source / "playcanvas_backup").as_posix() for p in
                (source / "playcanvas_backup").rglob("*.py")}  # fmt: skip
    assert shipped == expected  # every module, the subpackages' too
