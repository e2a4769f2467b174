"""The live check against the real PlayCanvas: opt in, never part of `make test`.

    python scripts/live.py decide   # in a workflow: run=true|false, a notice when false
    python scripts/live.py check    # in a workflow: the backup step's outputs hold up
    python scripts/live.py local    # `make live`: decide, back up, check, from a shell

It runs only when ``PLAYCANVAS_ACCESS_TOKEN`` and ``PLAYCANVAS_TEST_PROJECT`` (one project
id) are set; without them it says so (a ``::notice::`` in GitHub Actions) and exits 0.
``check`` reads the backup's outputs from ``ARCHIVE_PATH``, ``ARCHIVE_SHA256``,
``ARCHIVE_SIZE`` and ``ARCHIVES`` (relative paths against ``GITHUB_WORKSPACE`` or the
working directory) and holds them against the file: its size, its SHA-256, ``unzip -t``,
and one ``archives`` entry without an error. ``local`` runs entrypoint.py against
``PLAYCANVAS_API_URL`` (default: PlayCanvas's API) into a scratch directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED = ("PLAYCANVAS_ACCESS_TOKEN", "PLAYCANVAS_TEST_PROJECT")


def missing(env: Mapping[str, str]) -> list[str]:
    """The variables the live check needs that are not set (empty counts as not set)."""
    return [name for name in NEEDED if not env.get(name, "").strip()]


def decide(env: Mapping[str, str]) -> bool:
    """Whether to run; says why not, as a notice in Actions, and writes ``run`` to
    ``GITHUB_OUTPUT`` when there is one."""
    absent = missing(env)
    if absent:
        message = (
            f"Live check skipped: {' and '.join(absent)} not set. Set the repository "
            "secrets PLAYCANVAS_ACCESS_TOKEN (a PlayCanvas API token) and "
            "PLAYCANVAS_TEST_PROJECT (a project id it may export) to run it."
        )
        in_actions = env.get("GITHUB_ACTIONS") == "true"
        print(f"::notice title=Live check skipped::{message}" if in_actions else message)
    output = env.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as file:
            file.write(f"run={'false' if absent else 'true'}\n")
    return not absent


def check(env: Mapping[str, str]) -> list[str]:
    """What is wrong with the backup's outputs and its archive (empty: all holds)."""
    base = Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
    path = base / env.get("ARCHIVE_PATH", "")
    problems = []
    if not env.get("ARCHIVE_PATH") or not path.is_file():
        return [f"the path output ({env.get('ARCHIVE_PATH', '')!r}) is not a file"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != env.get("ARCHIVE_SHA256"):
        problems.append("the archive's SHA-256 is not the sha256 output")
    if str(len(data)) != env.get("ARCHIVE_SIZE"):
        problems.append(f"the archive has {len(data)} bytes, the size output says otherwise")
    tested = subprocess.run(
        ["unzip", "-t", "-q", str(path)], capture_output=True, text=True, check=False
    )
    if tested.returncode != 0:
        problems.append(f"unzip -t failed: {(tested.stdout + tested.stderr).strip()[-300:]}")
    try:
        archives = json.loads(env.get("ARCHIVES", ""))
    except ValueError:
        archives = None
    if not (isinstance(archives, list) and len(archives) == 1 and not archives[0].get("error")):
        problems.append("the archives output is not one archive without an error")
    return problems


def local(env: Mapping[str, str]) -> int:
    """`make live`: back up the test project into a scratch directory, then check it."""
    if not decide(env):
        return 0
    with tempfile.TemporaryDirectory(prefix="playcanvas-live-") as scratch:
        inputs = {
            "INPUT_PROJECT-ID": env["PLAYCANVAS_TEST_PROJECT"].strip(),
            "INPUT_UPLOAD-ARTIFACT": "false",
            "INPUT_API-URL": env.get("PLAYCANVAS_API_URL", ""),
            "INPUT_TIMEOUT": env.get("PLAYCANVAS_LIVE_TIMEOUT", "1200"),
        }
        run_env = {k: v for k, v in env.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        done = subprocess.run(
            [sys.executable, str(ROOT / "entrypoint.py")],
            cwd=scratch,
            env={**run_env, **inputs},
            capture_output=True,
            text=True,
            check=False,
        )
        print(done.stdout + done.stderr, end="")
        if done.returncode != 0:
            print(f"live check failed: the backup exited {done.returncode}")
            return 1
        outputs = json.loads(done.stdout)  # outside Actions: one JSON object on stdout
        problems = check(
            {
                "GITHUB_WORKSPACE": scratch,
                "ARCHIVE_PATH": str(outputs.get("path") or ""),
                "ARCHIVE_SHA256": str(outputs.get("sha256") or ""),
                "ARCHIVE_SIZE": str(outputs.get("size") or ""),
                "ARCHIVES": json.dumps(outputs.get("archives", [])),
            }
        )
    return report(problems)


def report(problems: list[str]) -> int:
    for problem in problems:
        print(f"::error title=Live check::{problem}")
    if not problems:
        print("live check passed: outputs, size, SHA-256 and unzip -t all hold")
    return 1 if problems else 0


def main(argv: list[str], env: Mapping[str, str]) -> int:
    command = argv[0] if argv else ""
    if command == "decide":
        decide(env)
        return 0
    if command == "check":
        return report(check(env))
    if command == "local":
        return local(env)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
