"""`make demo`: run the action end to end against the bundled PlayCanvas API emulator.

It runs entrypoint.py exactly as the GitHub runner runs the container (hyphenated INPUT_
variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the workspace as working
directory), then shows the log, the outputs, the step summary and the archives it wrote.
Where Node.js and the test peers are installed (make test installs them), it also uploads
each archive as an artifact into a local Azurite, through a double of GitHub's results
service, and checks that each artifact unpacks to the archive. Nothing leaves this
machine: every host is a loopback address.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.artifact_service import AZURITE, ResultsService, azurite  # noqa: E402
from tests.conftest import parse_output_file  # noqa: E402
from tests.emulator import Emulator  # noqa: E402

DEMO = ROOT / "build" / "demo"
PROJECT = 1234567


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    workspace, commands = DEMO / "workspace", DEMO / "file_commands"
    workspace.mkdir(parents=True)
    commands.mkdir()
    with contextlib.ExitStack() as stack:
        pc = stack.enter_context(Emulator(rate_window=5.0, strict_limit=5))
        pc.add_project(
            PROJECT, branches=("main", "level-2", "art/new-skybox"), archive_size=8 << 20
        )
        pc.faults.job_polls = 3
        pc.faults.drops = 1  # one dropped connection, to show the resume
        pc.faults.drop_after = 3 << 20
        env = {
            "PATH": "/usr/bin:/bin",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(commands / "set_output"),
            "GITHUB_STEP_SUMMARY": str(commands / "step_summary"),
            "INPUT_ACCESS-TOKEN": pc.token,
            "INPUT_PROJECT-ID": str(PROJECT),
            "INPUT_ALL-BRANCHES": "true",
            "INPUT_API-URL": pc.api_url,
            "INPUT_POLL-INTERVAL": "0.5",
            "INPUT_RETENTION-DAYS": "30",
            "INPUT_UPLOAD-ARTIFACT": "false",
        }
        service = None
        if shutil.which("node") and AZURITE.exists():
            service = stack.enter_context(ResultsService(stack.enter_context(azurite())))
            env.update(service.env())
            env["INPUT_UPLOAD-ARTIFACT"] = "true"
            print(
                f"(artifacts go to a local Azurite through the results-service double at "
                f"{service.url})"
            )
        else:
            print("(no Node.js: the artifact upload is left out; `make test` installs it)")
        print(f"$ python entrypoint.py   # as the runner runs it, against {pc.api_url}\n")
        status = subprocess.call(
            [sys.executable, str(ROOT / "entrypoint.py")], cwd=workspace, env=env
        )
        print(f"\nexit status: {status}\n")
        print("== outputs (GITHUB_OUTPUT)")
        for name, value in parse_output_file((commands / "set_output").read_text()).items():
            print(f"{name}={value}")
        print("\n== step summary (GITHUB_STEP_SUMMARY)")
        print((commands / "step_summary").read_text())
        print("== archives written")
        for archive in sorted((workspace / "playcanvas-backups").iterdir()):
            with zipfile.ZipFile(archive) as zipped:
                members = zipped.namelist()
            print(
                f"{archive.relative_to(DEMO)}  {archive.stat().st_size} bytes, "
                f"{len(members)} members: {', '.join(members[:4])}"
            )
        if service is not None:
            print("\n== artifacts in Azurite (each unpacks to its archive)")
            for name, artifact in service.artifacts.items():
                with zipfile.ZipFile(io.BytesIO(service.blob_bytes(name))) as blob:
                    (member,) = blob.namelist()
                    same = (
                        hashlib.sha256(blob.read(member)).hexdigest()
                        == hashlib.sha256(
                            (workspace / "playcanvas-backups" / member).read_bytes()
                        ).hexdigest()
                    )
                print(f"{name} (id {artifact.id}): {member}, identical to the archive: {same}")
            if service.problems:
                print(f"results-service double found problems: {service.problems}")
                return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
