"""`make demo`: run the action end to end against the bundled PlayCanvas API emulator,
and check what it made.

Three runs of entrypoint.py, each exactly as the GitHub runner runs the container
(hyphenated INPUT_ variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the workspace
as working directory):

1. every project of an emulated organization, by ``user-id``, less one left out by a
   name pattern in ``exclude``, every open branch, with one dropped download on the way;
2. one project by id, encrypted (``encrypt-to``) to an age key made for the demo
   (``build/demo/key.txt``), its file named by ``{project_name}``; the ``.age`` file is
   then decrypted with pyrage and, when it is installed, with the ``age`` tool, and the
   result must hash to the ``sha256`` output;
3. one project stored off-site (``s3-uri``, encrypted) in a local S3 server (moto, as the
   tests start it), then ``playcanvas-backup restore`` fetches it back from there,
   decrypts it with the demo's key and leaves a zip that must hash to ``sha256``.

The emulator answers as PlayCanvas does (not as its documentation says): the listing of
run 1 names the projects, but run 2's project details are refused to the API token, so
its ``{project_name}`` falls back to the project id, after one refused lookup and one
warning.

Each run's log, outputs, step summary and files are shown, then the checks; the demo
exits non-zero if the action failed or any check did not hold. Where Node.js and the test
peers are installed (make test installs them), the archives are also uploaded as
artifacts into a local Azurite, through a double of GitHub's results service, and each
artifact must unpack to its file. Nothing leaves this machine: every host is a loopback
address.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
from pyrage import x25519

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.artifact_service import AZURITE, ResultsService, azurite  # noqa: E402
from tests.conftest import parse_output_file  # noqa: E402
from tests.emulator import Emulator  # noqa: E402
from tests.s3_server import BUCKET, CREDENTIALS, S3Server  # noqa: E402

DEMO = ROOT / "build" / "demo"
BACKUPS = "playcanvas-backups"

ORGANIZATION = 2468013
ORGANIZATION_NAME = "Northwind Interactive"
SPACE_RALLY, CAFE, TOWER, SCRATCH = 3301001, 3301002, 3301003, 3301004
PROJECTS = {
    SPACE_RALLY: "Space Rally",
    CAFE: "Café Lumière Lobby",
    TOWER: "Tower Defense (prototype)",
    SCRATCH: "Scratch: shader tests",
}
EXCLUDE = "scratch*"
BACKED_UP = (SPACE_RALLY, CAFE, TOWER)
SPACE_RALLY_BRANCHES = ("main", "level-2", "art/new-skybox")


@dataclass
class Checks:
    """Each check is printed as it is made; the failures decide the exit status."""

    made: int = 0
    failed: list[str] = field(default_factory=list)

    def __call__(self, holds: bool, what: str) -> bool:
        self.made += 1
        print(f"  [{'ok' if holds else 'FAIL'}] {what}")
        if not holds:
            self.failed.append(what)
        return holds


@dataclass(frozen=True)
class Run:
    """One run of the action: its exit status, outputs, summary and workspace."""

    status: int
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def archives(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(self.outputs.get("archives", "[]"))
        return listed

    def file(self, relative: str) -> Path:
        return self.workspace / relative


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def zip_is_sound(path: Path) -> bool:
    """Every member's CRC holds (our own reading, not the action's)."""
    try:
        with zipfile.ZipFile(path) as zipped:
            return zipped.testzip() is None
    except zipfile.BadZipFile:
        return False


def run_action(title: str, name: str, env: dict[str, str]) -> Run:
    """Run entrypoint.py as the runner runs it, in a fresh workspace, and show it all."""
    base = DEMO / name
    workspace, commands = base / "workspace", base / "file_commands"
    workspace.mkdir(parents=True)
    commands.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(commands / "set_output"),
        "GITHUB_STEP_SUMMARY": str(commands / "step_summary"),
        **env,
    }
    print(f"\n{'=' * 80}\n{title}\n{'=' * 80}")
    for key in sorted(env):
        if key.startswith("INPUT_") and key != "INPUT_ACCESS-TOKEN":
            print(f"  {key}={env[key]!r}")
    print(f"$ python entrypoint.py   # as the runner runs it, in {workspace.relative_to(ROOT)}\n")
    started = time.monotonic()
    status = subprocess.call([sys.executable, str(ROOT / "entrypoint.py")], cwd=workspace, env=env)
    print(f"\nexit status: {status} (after {time.monotonic() - started:.1f} s)\n")
    output_file, summary_file = commands / "set_output", commands / "step_summary"
    outputs = parse_output_file(output_file.read_text()) if output_file.exists() else {}
    summary = summary_file.read_text() if summary_file.exists() else ""
    print("== outputs (GITHUB_OUTPUT)")
    for key, value in outputs.items():
        print(f"{key}={value}")
    print("\n== step summary (GITHUB_STEP_SUMMARY)")
    print(summary)
    print("== files written")
    folder = workspace / BACKUPS
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        size = path.stat().st_size
        if path.suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zipped:
                members = zipped.namelist()
            what = f"{len(members)} members: {', '.join(members[:4])}"
        else:
            what = "age-encrypted" if path.suffix == ".age" else "not a zip"
        print(f"{path.relative_to(DEMO)}  {size} bytes, {what}")
    return Run(status, outputs, summary, workspace)


def check_archives(run: Run, check: Checks) -> None:
    """Each archive in ``archives`` is on disk, hashes to its ``sha256`` and is a sound zip."""
    for entry in run.archives:
        label = f"{entry['project_id']} {entry['project_name']!r} ({entry['branch']})"
        if not check(entry["error"] is None, f"{label}: no error"):
            continue
        path = run.file(entry["path"])
        check(
            path.is_file() and sha256_of(path) == entry["sha256"],
            f"{label}: {path.name} hashes to its sha256 {entry['sha256'][:16]}...",
        )
        check(zip_is_sound(path), f"{label}: every zip member's CRC holds")


def check_artifacts(service: ResultsService, run: Run, check: Checks) -> None:
    """Each archive of the run went up as an artifact that unpacks to the same bytes."""
    print("\n== artifacts in Azurite (each must unpack to its file)")
    check(not service.problems, f"the results-service double found no problems {service.problems}")
    for entry in run.archives:
        if entry["artifact_id"] is None:
            check(False, f"{entry['project_id']} ({entry['branch']}): uploaded as an artifact")
            continue
        (name,) = [n for n, a in service.artifacts.items() if a.id == entry["artifact_id"]]
        path = run.file(entry["path"])
        with zipfile.ZipFile(io.BytesIO(service.blob_bytes(name))) as blob:
            members = blob.namelist()
            same = members == [path.name] and hashlib.sha256(
                blob.read(members[0])
            ).hexdigest() == sha256_of(path)
        check(same, f"artifact '{name}' (id {entry['artifact_id']}) unpacks to {path.name}")


def organization_run(pc: Emulator, artifacts: dict[str, str], check: Checks) -> Run:
    run = run_action(
        f"1. every project of account {ORGANIZATION} ({ORGANIZATION_NAME}), "
        f"less exclude '{EXCLUDE}', every branch",
        "organization",
        {
            "INPUT_ACCESS-TOKEN": pc.token,
            "INPUT_USER-ID": str(ORGANIZATION),
            "INPUT_EXCLUDE": EXCLUDE,
            "INPUT_ALL-BRANCHES": "true",
            "INPUT_FILENAME": "{project_id}-{project_name}-{branch}-{timestamp}.zip",
            "INPUT_API-URL": pc.api_url,
            "INPUT_POLL-INTERVAL": "0.5",
            "INPUT_RETENTION-DAYS": "30",
            "INPUT_UPLOAD-ARTIFACT": "false",
            **artifacts,
        },
    )
    print("== checks")
    check(run.status == 0, "the action exited 0")
    check(
        sorted(json.loads(run.outputs.get("projects", "[]"))) == sorted(BACKED_UP),
        f"'projects' lists the organization's projects less the excluded one: {list(BACKED_UP)}",
    )
    expected = sorted(
        [(SPACE_RALLY, PROJECTS[SPACE_RALLY], b) for b in SPACE_RALLY_BRANCHES]
        + [(p, PROJECTS[p], "main") for p in (CAFE, TOWER)]
    )
    got = sorted((a["project_id"], a["project_name"], a["branch"]) for a in run.archives)
    check(got == expected, f"'archives' has the {len(expected)} archives, names as listed")
    exported = {r.path.split("/")[3] for r in pc.api_requests("POST", "/export")}
    check(
        str(SCRATCH) not in exported,
        f"project {SCRATCH} {PROJECTS[SCRATCH]!r} was never exported (left out by '{EXCLUDE}')",
    )
    check(
        str(SCRATCH) in run.summary and "exclude" in run.summary,
        "the step summary says what exclude left out",
    )
    check(
        any(PROJECTS[CAFE] in a["path"] for a in run.archives),
        f"the {{project_name}} file name keeps {PROJECTS[CAFE]!r}",
    )
    check_archives(run, check)
    return run


def make_key() -> x25519.Identity:
    """An age identity for the demo, in the file format ``age -i`` reads."""
    identity = x25519.Identity.generate()
    key = DEMO / "key.txt"
    key.touch(mode=0o600)
    key.write_text(
        f"# created: {datetime.now(UTC).isoformat(timespec='seconds')}\n"
        f"# public key: {identity.to_public()}\n{identity}\n"
    )
    return identity


def read_key() -> x25519.Identity:
    (line,) = [
        line
        for line in (DEMO / "key.txt").read_text().splitlines()
        if line.startswith("AGE-SECRET-KEY-")
    ]
    return x25519.Identity.from_str(line)


def encrypted_run(pc: Emulator, artifacts: dict[str, str], check: Checks) -> Run:
    recipient = str(make_key().to_public())
    run = run_action(
        f"2. project {CAFE} by id, named by {{project_name}}, encrypted to the demo's age key "
        f"{recipient[:16]}...",
        "encrypted",
        {
            "INPUT_ACCESS-TOKEN": pc.token,
            "INPUT_PROJECT-ID": str(CAFE),
            "INPUT_FILENAME": "{project_name}-{branch}-{timestamp}.zip",
            "INPUT_ENCRYPT-TO": recipient,
            "INPUT_API-URL": pc.api_url,
            "INPUT_POLL-INTERVAL": "0.5",
            "INPUT_ARTIFACT-NAME": "playcanvas-{project_id}-{branch}-encrypted",
            "INPUT_RETENTION-DAYS": "30",
            "INPUT_UPLOAD-ARTIFACT": "false",
            **artifacts,
        },
    )
    print("== checks")
    check(run.status == 0, "the action exited 0")
    folder = run.workspace / BACKUPS
    # Beside the archives: the run's archives-file (a .json list), nothing else.
    everything = sorted(folder.iterdir()) if folder.is_dir() else []
    files = [f for f in everything if f.suffix != ".json"]
    check(
        len(files) == 1 and files[0].suffix == ".age",
        "only the .age file is kept: no plaintext archive in the backup folder",
    )
    if not files or run.status != 0:
        return run
    sealed, outputs = files[0], run.outputs
    check(
        outputs.get("path") == str(sealed.relative_to(run.workspace)),
        "'path' is the .age file",
    )
    check(
        sealed.name.startswith(f"{CAFE}-main-") and run.archives[0]["project_name"] is None,
        "PlayCanvas refused the project's details (as it does to API tokens): "
        "{project_name} fell back to the id, and project_name is null",
    )
    check(
        [r.path for r in pc.api_requests("GET")].count(f"/api/projects/{CAFE}") == 1,
        "one lookup request was refused, and the backup went on without it",
    )
    check(
        sha256_of(sealed) == outputs.get("encrypted-sha256")
        and str(sealed.stat().st_size) == outputs.get("encrypted-size"),
        "the .age file hashes to 'encrypted-sha256' and has 'encrypted-size' bytes",
    )
    decrypted = DEMO / "decrypted"
    decrypted.mkdir()
    print(f"\n== decrypting {sealed.name} with the key in {(DEMO / 'key.txt').relative_to(ROOT)}")
    print(f"sha256 output:                     {outputs.get('sha256')}")
    by_pyrage = decrypted / f"pyrage-{sealed.stem}"
    by_pyrage.write_bytes(pyrage.decrypt(sealed.read_bytes(), [read_key()]))
    print(f"sha256 of the pyrage decryption:   {sha256_of(by_pyrage)}")
    age = shutil.which("age")
    by_age = decrypted / f"age-{sealed.stem}"
    if age is not None:
        command = [age, "-d", "-i", str(DEMO / "key.txt"), "-o", str(by_age), str(sealed)]
        print(f"$ age -d -i key.txt -o {by_age.name} {sealed.name}")
        age_status = subprocess.call(command)
        shown = sha256_of(by_age) if by_age.exists() else "(no file)"
        print(f"sha256 of the age tool's decryption: {shown}")
    else:
        print("(the age command-line tool is not installed: apt-get install age)")
    print("== checks")
    check(
        sha256_of(by_pyrage) == outputs.get("sha256")
        and str(by_pyrage.stat().st_size) == outputs.get("size"),
        "pyrage decrypts the .age file to an archive of 'sha256' and 'size'",
    )
    check(zip_is_sound(by_pyrage), "the decrypted archive is a zip whose every CRC holds")
    if age is not None:
        check(
            age_status == 0 and by_age.exists() and sha256_of(by_age) == outputs.get("sha256"),
            "the age tool decrypts the .age file to an archive of 'sha256'",
        )
    return run


def s3_run(pc: Emulator, check: Checks) -> Run:
    """Back up to a local S3 server, encrypted, then restore from it with the demo's key."""
    uri = f"s3://{BUCKET}/playcanvas/{{project_id}}/{{branch}}/"
    # moto's web server would print every request it answers between the run's lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with S3Server() as s3:
        run = run_action(
            f"3. project {TOWER} ({PROJECTS[TOWER]}) stored in S3 (local moto), encrypted",
            "s3",
            {
                "INPUT_ACCESS-TOKEN": pc.token,
                "INPUT_PROJECT-ID": str(TOWER),
                "INPUT_ENCRYPT-TO": str(read_key().to_public()),
                "INPUT_API-URL": pc.api_url,
                "INPUT_POLL-INTERVAL": "0.5",
                "INPUT_UPLOAD-ARTIFACT": "false",
                "INPUT_S3-URI": uri,
                "INPUT_S3-ENDPOINT-URL": s3.endpoint_url,
                "INPUT_S3-REGION": "us-east-1",
                **CREDENTIALS,
            },
        )
        print("== checks")
        check(run.status == 0, "the action exited 0")
        stored = [str(a["s3_uri"]) for a in run.archives if a["s3_uri"]]
        check(
            len(stored) == 1 and stored[0].endswith(".zip.age"),
            f"the .age file is stored in S3: {stored}",
        )
        restored = DEMO / "restored-from-s3"
        command = [
            sys.executable, str(ROOT / "entrypoint.py"), "restore", "--from", uri,
            "--project-id", str(TOWER), "--s3-endpoint-url", s3.endpoint_url,
            "--s3-region", "us-east-1", "--identity", str(DEMO / "key.txt"),
            "--output", str(restored),
        ]  # fmt: skip
        print(f"\n$ playcanvas-backup restore --from '{uri}' --project-id {TOWER} ...")
        status = subprocess.call(command, env={"PATH": "/usr/bin:/bin", **CREDENTIALS})
    files = sorted(restored.glob("*.zip")) if restored.is_dir() else []
    print("== checks")
    check(status == 0, "restore exited 0")
    check(
        len(files) == 1 and sha256_of(files[0]) == run.outputs.get("sha256"),
        "restore left one zip, of the backup's 'sha256'",
    )
    check(bool(files) and zip_is_sound(files[0]), "the restored zip's every CRC holds")
    return run


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    check = Checks()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        pc = stack.enter_context(Emulator(rate_window=5.0, strict_limit=5))
        pc.add_project(SPACE_RALLY, branches=SPACE_RALLY_BRANCHES, archive_size=4 << 20)
        pc.add_organization(ORGANIZATION, PROJECTS, name=ORGANIZATION_NAME, archive_size=1 << 20)
        pc.faults.job_polls = 2
        pc.faults.drops = 1  # one dropped connection, to show the resume
        pc.faults.drop_after = 512 << 10
        services: list[ResultsService] = []
        if shutil.which("node") and AZURITE.exists():
            account = stack.enter_context(azurite())
            print("(artifacts go to a local Azurite through a double of GitHub's results service)")
        else:
            account = None
            print("(no Node.js: the artifact upload is left out; with Node.js 20 it runs too)")

        def artifacts() -> dict[str, str]:
            """A results service of its own for each run, as each workflow run has."""
            if account is None:
                return {}
            services.append(stack.enter_context(ResultsService(account)))
            return {**services[-1].env(), "INPUT_UPLOAD-ARTIFACT": "true"}

        first = organization_run(pc, artifacts(), check)
        if services:
            check_artifacts(services[-1], first, check)
        second = encrypted_run(pc, artifacts(), check)
        if services and second.status == 0:
            check_artifacts(services[-1], second, check)
        s3_run(pc, check)
    seconds = time.monotonic() - started
    print(f"\n{'=' * 80}")
    if check.failed:
        print(f"demo: {len(check.failed)} of {check.made} checks FAILED ({seconds:.1f} s):")
        for what in check.failed:
            print(f"  - {what}")
        return 1
    print(f"demo: all {check.made} checks hold ({seconds:.1f} s); files under {DEMO}")
    return 0


if __name__ == "__main__":
    os.umask(0o077)  # the demo's age key and archives are for this user only
    sys.exit(main())
