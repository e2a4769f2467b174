"""The command line as people expect one: bare true/false flags, logs on stderr and the
outputs alone on stdout, and an installable ``playcanvas-backup`` command."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import sysconfig
import termios
from pathlib import Path

import pytest
import requests

from playcanvas_backup.cli import build_parser
from playcanvas_backup.config import INPUTS, Input
from playcanvas_backup.download import download
from tests.conftest import FAST_ENTRYPOINT, PROJECT, ROOT, Action
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


def test_the_help_names_both_subcommands() -> None:
    text = " ".join(build_parser().format_help().split())

    assert "playcanvas-backup doctor --help" in text
    assert "playcanvas-backup restore --help" in text


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
    assert [a["branch"] for a in outputs["archives"]] == [
        "dev",
        "feature/physics",
        "main",
    ]  # PlayCanvas lists them alphabetically
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


# -- the progress bar ----------------------------------------------------------------------------


def run_with_stderr_on_a_terminal(action: Action, env: dict[str, str]) -> tuple[int, str, str]:
    """``entrypoint.py`` in a process whose stderr is a pseudo-terminal (stdout a pipe):
    (exit status, stdout, what the terminal showed)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(
        [sys.executable, str(FAST_ENTRYPOINT)],
        cwd=action.workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
    ) as process:
        os.close(secondary)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        os.close(primary)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        status = process.wait(timeout=120)
    return status, stdout, shown.decode(errors="replace")


def test_a_terminal_shows_a_progress_bar_and_stdout_stays_json(
    action: Action, emulator: Emulator
) -> None:
    emulator._projects[PROJECT].archive_size = 3 << 20
    status, stdout, terminal = run_with_stderr_on_a_terminal(action, action.env({}, github=False))

    assert status == 0, terminal
    assert int(json.loads(stdout)["size"]) > 0
    bar = [part for part in terminal.split("\r") if "100%" in part]
    assert bar and "|" in bar[-1] and "B/s" in bar[-1], terminal
    assert f"project {PROJECT} (main): download and verify" in terminal
    assert "export job" in terminal  # the log lines are still there, above the bar


def test_without_a_terminal_there_is_no_progress_bar(action: Action, emulator: Emulator) -> None:
    emulator._projects[PROJECT].archive_size = 3 << 20
    run = action(github=False, process=True)

    assert run.exit_code == 0, run.log
    assert "\r" not in run.stderr and "100%" not in run.stderr


def test_in_actions_a_terminal_gets_no_progress_bar(action: Action, emulator: Emulator) -> None:
    emulator._projects[PROJECT].archive_size = 3 << 20
    status, stdout, terminal = run_with_stderr_on_a_terminal(action, action.env({}))

    assert status == 0, stdout + terminal
    assert "100%" not in terminal and "B/s" not in terminal
    assert "::group::" in stdout  # the runner's log, on stdout as before


def test_a_download_given_a_progress_callback_tells_it_every_chunk_instead_of_logging(
    tmp_path: Path,
) -> None:
    with Emulator() as pc:
        pc.add_project(5, archive_size=3 << 20)
        auth = {"Authorization": f"Bearer {pc.token}"}
        with requests.Session() as session:
            job = session.post(f"{pc.api_url}/projects/5/export", headers=auth).json()
            url = session.get(f"{pc.api_url}/jobs/{job['id']}", headers=auth).json()["data"]["url"]
        ticks = iter(range(0, 10_000, 2))  # two seconds a look: periodic lines would be due
        lines: list[str] = []
        moves: list[tuple[int, int | None]] = []

        archive = download(
            lambda: str(url),
            tmp_path / "a.zip",
            session=requests.Session(),
            log=lines.append,
            clock=lambda: float(next(ticks)),
            progress=lambda done, total: moves.append((done, total)),
        )

    assert len(moves) > 3
    assert moves[-1] == (archive.size, archive.size)
    assert [done for done, _ in moves] == sorted(done for done, _ in moves)
    assert not [line for line in lines if line.startswith("downloaded ")]
