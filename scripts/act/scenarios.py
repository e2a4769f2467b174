"""The workflows act runs, each with the emulator's projects and the checks of its run.

A scenario is one workflow of ``workflows/`` (named like the file), what the emulator
serves for it, and what its run must show. Another workflow is one more entry in
SCENARIOS.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyrage

from scripts.container.checks import Checks
from tests.emulator import Emulator
from tests.s3_server import S3Server

from .runner import ActRun

#: The README's matrix example, shrunk: two projects that exist and one that does not.
MATRIX_PROJECTS = (7300001, 7300002)
MATRIX_MISSING = 7399999
OUTPUT_LINE = re.compile(r"^\s*\| output (?P<name>[a-z0-9-]+)=(?P<value>.*)$")
WORKSPACE_LINE = re.compile(r"^\s*\| workspace (?P<sha256>[0-9a-f]{64})  (?P<path>.+)$")
FAILED_WITH = re.compile(r"exit with `FAILURE`: (?P<code>\d+)")


@dataclass(frozen=True)
class Scenario:
    workflow: str  # scripts/act/workflows/<workflow>.yml, whose name: is the same
    setup: Callable[[Emulator], None]
    check: Callable[[Checks, ActRun, Emulator], None]
    job_env: dict[str, str] = field(default_factory=dict)  # act's --env, for every step
    #: The workflow runs the prebuilt image from the loopback registry (registry.py).
    prebuilt: bool = False
    #: The workflow stores in a loopback S3 server (tests/s3_server.py) started for its
    #: run; these checks judge the store from the host.
    store_check: Callable[[Checks, ActRun, Emulator, S3Server], None] | None = None


def outputs(lines: list[str]) -> dict[str, str]:
    """``output <name>=<value>`` lines a workflow step printed."""
    found: dict[str, str] = {}
    for line in lines:
        match = OUTPUT_LINE.match(line)
        if match:
            found[match["name"]] = match["value"]
    return found


def workspace_hashes(lines: list[str]) -> dict[str, str]:
    """``workspace <sha256sum output>`` lines: path in the workspace -> SHA-256."""
    return {
        match["path"]: match["sha256"]
        for match in (WORKSPACE_LINE.match(line) for line in lines)
        if match
    }


def exit_codes(lines: list[str]) -> list[int]:
    """The exit status of every step that failed, as act reports it."""
    return [int(m["code"]) for m in (FAILED_WITH.search(line) for line in lines) if m]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served_archive(pc: Emulator, entry: dict[str, Any]) -> bytes:
    """The archive the emulator served for an entry of the ``archives`` output."""
    project = int(entry["project_id"])
    # No branch_id: the main branch was asked for, which the emulator lists first.
    branch_id = entry.get("branch_id") or pc._projects[project].branches[0]["id"]
    return pc.archive_path(project, str(branch_id)).read_bytes()


def check_workspace(
    check: Checks, pc: Emulator, entry: dict[str, Any], hashes: dict[str, str]
) -> None:
    """An archive of the ``archives`` output is in the workspace with its SHA-256, which is
    the served archive's."""
    served = sha256(served_archive(pc, entry))
    found = hashes.get(str(entry.get("path")))
    check(
        f"{_label(entry)}: the archive in the workspace has the output's SHA-256 (the served one)",
        found == entry.get("sha256") == served,
        f"workspace {found}, output {entry.get('sha256')}, served {served}",
    )


def check_artifact(check: Checks, run: ActRun, pc: Emulator, entry: dict[str, Any]) -> None:
    """act's artifact store holds the archive's artifact, a zip that unpacks to the
    served archive byte for byte."""
    label = _label(entry)
    name = f"playcanvas-{entry['project_id']}-{str(entry['branch']).replace('/', '-')}"
    stored = run.artifact(name)
    if not check(
        f"{label}: act's artifact store holds {name!r}, not empty",
        stored is not None and stored.stat().st_size > 0,
        f"store has {run.artifact_names()}" if stored is None else "0 bytes",
    ):
        return
    assert stored is not None
    try:
        with zipfile.ZipFile(io.BytesIO(stored.read_bytes())) as blob:
            members = {info.filename: blob.read(info) for info in blob.infolist()}
    except zipfile.BadZipFile as error:
        check(f"{label}: the artifact is a zip", False, str(error))
        return
    served = served_archive(pc, entry)
    archive_name = Path(str(entry.get("path"))).name
    check(
        f"{label}: the artifact unpacks to the archive, byte for byte",
        members == {archive_name: served},
        f"members {sorted(members)} ({sum(map(len, members.values()))} bytes), "
        f"expected {archive_name} ({len(served)} bytes)",
    )


def _label(entry: dict[str, Any]) -> str:
    return f"{entry.get('project_id')}/{entry.get('branch')}"


def parsed_archives(check: Checks, text: str | None, label: str) -> list[dict[str, Any]]:
    try:
        entries = json.loads(text or "")
    except json.JSONDecodeError:
        entries = None
    if not check(f"{label}: output 'archives' is a JSON list", isinstance(entries, list)):
        return []
    assert isinstance(entries, list)
    return [e for e in entries if isinstance(e, dict)]


# -- one project -------------------------------------------------------------------------

ONE_PROJECT = 7100001
OUTPUT_NAMES = ("path", "sha256", "size", "job-id", "artifact-id", "artifact-url", "archives")


def one_project_setup(pc: Emulator) -> None:
    pc.add_project(ONE_PROJECT, archive_size=1 << 20)


def one_project_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    lines = run.job_lines().get("backup", [])
    check("one-project: act ran the workflow to success", run.exit_code == 0, _tail(run))
    printed = outputs(lines)
    check(
        "one-project: a later step printed every output, none empty",
        all(printed.get(name) for name in OUTPUT_NAMES),
        f"empty or missing: {[n for n in OUTPUT_NAMES if not printed.get(n)]}",
    )
    hashes = workspace_hashes(lines)
    check(
        "one-project: the archive in the workspace has the 'sha256' output's hash",
        bool(printed.get("sha256")) and hashes.get(printed.get("path", "")) == printed["sha256"],
        f"workspace {hashes}, output {printed.get('sha256')}",
    )
    check(
        "one-project: no warning (a repository retention of 0 days is no known cap)",
        not [line for line in lines if "\U0001f6a7" in line],
        _tail_lines([line for line in lines if "\U0001f6a7" in line]),
    )
    entries = parsed_archives(check, printed.get("archives"), "one-project")
    if check("one-project: one archive", len(entries) == 1, json.dumps(entries)[:300]):
        check_workspace(check, pc, entries[0], hashes)
        check_artifact(check, run, pc, entries[0])


# -- all branches ------------------------------------------------------------------------

TWO_BRANCHES = 7200002


def all_branches_setup(pc: Emulator) -> None:
    pc.add_project(TWO_BRANCHES, branches=("main", "art/new-skybox"), archive_size=256 << 10)


def all_branches_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    lines = run.job_lines().get("backup", [])
    check("all-branches: act ran the workflow to success", run.exit_code == 0, _tail(run))
    entries = parsed_archives(check, outputs(lines).get("archives"), "all-branches")
    check(
        "all-branches: two archives, none failed",
        len(entries) == 2 and not any(e.get("error") for e in entries),
        json.dumps(entries)[:400],
    )
    check(
        "all-branches: act's artifact store holds two artifacts",
        len(run.artifact_names()) == 2,
        f"store has {run.artifact_names()}",
    )
    hashes = workspace_hashes(lines)
    for entry in entries:
        check_workspace(check, pc, entry, hashes)
        check_artifact(check, run, pc, entry)


# -- the README's matrix -------------------------------------------------------------------


def matrix_setup(pc: Emulator) -> None:
    for project in MATRIX_PROJECTS:
        pc.add_project(project, archive_size=128 << 10)


def matrix_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    # act names a matrix job "<name>-<index>"; the name carries the project.
    jobs = {re.sub(r"-\d+$", "", job): lines for job, lines in run.job_lines().items()}
    check(
        "matrix: act ran three jobs",
        sorted(jobs) == sorted(f"backup {p}" for p in (*MATRIX_PROJECTS, MATRIX_MISSING)),
        f"jobs: {sorted(run.job_lines())}",
    )
    check("matrix: act reports the run as failed", run.exit_code != 0, f"exit {run.exit_code}")
    for project in MATRIX_PROJECTS:
        lines = jobs.get(f"backup {project}", [])
        check(
            f"matrix: the job of project {project} succeeds",
            any("Job succeeded" in line for line in lines),
            _tail_lines(lines),
        )
        entries = parsed_archives(check, outputs(lines).get("archives"), f"matrix {project}")
        for entry in entries:
            check_artifact(check, run, pc, entry)
    lines = jobs.get(f"backup {MATRIX_MISSING}", [])
    check(
        f"matrix: the job of the missing project {MATRIX_MISSING} fails",
        any("Job failed" in line for line in lines),
        _tail_lines(lines),
    )
    check(
        "matrix: its action step exits 1",
        exit_codes(lines) == [1],
        f"failed steps' exit codes {exit_codes(lines)}",
    )
    check(
        "matrix: act renders its ::error:: annotation",
        any(
            "\u2757" in line and f"::error title=Backup of project {MATRIX_MISSING}" in line
            for line in lines
        ),
        _tail_lines(lines),
    )
    entries = parsed_archives(
        check, outputs(lines).get("archives"), f"matrix {MATRIX_MISSING} (if: always())"
    )
    check(
        "matrix: the if: always() step gets 'archives' with the failure",
        len(entries) == 1 and bool(entries[0].get("error")),
        json.dumps(entries)[:300],
    )


# -- a bad input ---------------------------------------------------------------------------


def bad_input_setup(pc: Emulator) -> None:
    pc.add_project(1)


def bad_input_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    lines = run.job_lines().get("backup", [])
    check("bad-input: the job fails", run.exit_code != 0, f"exit {run.exit_code}")
    check(
        "bad-input: the action step exits 2",
        exit_codes(lines) == [2],
        f"failed steps' exit codes {exit_codes(lines)}; {_tail_lines(lines)}",
    )
    check(
        "bad-input: act renders the 'Invalid input' annotation",
        any("\u2757" in line and "::error title=Invalid input::" in line for line in lines),
        _tail_lines(lines),
    )
    check(
        "bad-input: no request reached the emulator",
        not pc.requests,
        f"{len(pc.requests)} request(s)",
    )


# -- discover, then a matrix ---------------------------------------------------------------

ORGANIZATION = 7400000
#: The organization's projects; the third is left out by the workflow's ``sandbox-*``.
ORGANIZATION_PROJECTS = {
    7400001: "Racing game",
    7400002: "Puzzle \u2013 \u00dcnic\u00f6de level",
    7400003: "Sandbox-physics",
}
EXCLUDED = 7400003


def discover_setup(pc: Emulator) -> None:
    pc.add_organization(ORGANIZATION, ORGANIZATION_PROJECTS, archive_size=128 << 10)


def discover_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    expected = [p for p in ORGANIZATION_PROJECTS if p != EXCLUDED]
    by_job = run.job_lines()
    jobs = {re.sub(r"-\d+$", "", job): lines for job, lines in by_job.items()}
    plan_lines = jobs.get("discover", [])
    check("discover: act ran both jobs to success", run.exit_code == 0, _tail(run))
    try:
        planned = json.loads(outputs(plan_lines).get("projects") or "")
    except json.JSONDecodeError:
        planned = None
    check(
        "discover: the dry run's 'projects' is the organization's ids less the excluded one",
        isinstance(planned, list) and sorted(planned) == expected,
        f"projects {planned!r}, expected {expected}",
    )
    check(
        f"discover: the dry run's log says why {EXCLUDED} is left out",
        any(f"{EXCLUDED}" in line and "left out" in line for line in plan_lines),
        _tail_lines(plan_lines),
    )
    exports = [r for r in pc.api_requests("POST") if _route(r.path)[1:] == ["export"]]
    # Only the dry run reads the account's listing (the matrix's jobs back up by id).
    listings = [r.at for r in pc.api_requests("GET") if r.path.startswith("/api/users/")]
    check(
        "discover: the dry run exported nothing (no export before its listing was read)",
        bool(listings)
        and not [r for r in exports if r.at < max(listings)]
        and any("nothing exported" in line for line in plan_lines),
        f"{len(exports)} export(s), {len(listings)} listing(s); {_tail_lines(plan_lines)}",
    )
    exported = sorted(int(_route(r.path)[0]) for r in exports)
    check(
        "discover: one export per planned project, none for another",
        exported == expected,
        f"exports of {exported}",
    )
    check(
        f"discover: the excluded project {EXCLUDED} was never read, exported or uploaded",
        not [r for r in pc.api_requests() if _route(r.path)[:1] == [str(EXCLUDED)]]
        and not [name for name in run.artifact_names() if str(EXCLUDED) in name],
        f"artifacts {run.artifact_names()}",
    )
    check(
        "discover: act ran one backup job per planned project",
        sorted(j for j in jobs if j != "discover") == [f"backup {p}" for p in expected],
        f"jobs: {sorted(by_job)}",
    )
    check(
        "discover: act's artifact store holds one artifact per planned project, no other",
        run.artifact_names() == [f"playcanvas-{p}-main" for p in expected],
        f"store has {run.artifact_names()}",
    )
    for project in expected:
        lines = jobs.get(f"backup {project}", [])
        check(
            f"discover: the job of project {project} succeeds",
            any("Job succeeded" in line for line in lines),
            _tail_lines(lines),
        )
        entries = parsed_archives(check, outputs(lines).get("archives"), f"discover {project}")
        if check(
            f"discover {project}: one archive, not failed",
            len(entries) == 1 and not entries[0].get("error"),
            json.dumps(entries)[:300],
        ):
            check_artifact(check, run, pc, entries[0])


# -- the prebuilt image, as docker:// -----------------------------------------------------

PREBUILT_PROJECT = 7500001
UNKNOWN_INPUT_WARNING = "`all-branch` is not an input; did you mean `all-branches`?"


def prebuilt_setup(pc: Emulator) -> None:
    pc.add_project(PREBUILT_PROJECT, branches=("main", "art/not-asked-for"), archive_size=1 << 20)


def prebuilt_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    """What one-project checks, with no input but the required ones: the defaults the
    action applies itself (path, upload-artifact true in Actions, the main branch only
    although the misspelt `all-branch: true` was given), and a warning about that key."""
    lines = run.job_lines().get("backup", [])
    check("prebuilt: act ran the workflow to success", run.exit_code == 0, _tail(run))
    printed = outputs(lines)
    check(
        "prebuilt: a later step printed every output, none empty",
        all(printed.get(name) for name in OUTPUT_NAMES),
        f"empty or missing: {[n for n in OUTPUT_NAMES if not printed.get(n)]}",
    )
    check(
        "prebuilt: the archive is under the default path, playcanvas-backups/",
        printed.get("path", "").startswith("playcanvas-backups/"),
        f"path {printed.get('path')!r}",
    )
    warnings = [line for line in lines if "\U0001f6a7" in line]
    check(
        "prebuilt: one warning, about the misspelt with: key, naming the nearest input",
        len(warnings) == 1 and UNKNOWN_INPUT_WARNING in warnings[0],
        _tail_lines(warnings or lines),
    )
    hashes = workspace_hashes(lines)
    check(
        "prebuilt: the archive in the workspace has the 'sha256' output's hash",
        bool(printed.get("sha256")) and hashes.get(printed.get("path", "")) == printed["sha256"],
        f"workspace {hashes}, output {printed.get('sha256')}",
    )
    entries = parsed_archives(check, printed.get("archives"), "prebuilt")
    if check(
        "prebuilt: one archive, of the main branch (all-branch is no input)",
        len(entries) == 1 and entries[0].get("branch") == "main",
        json.dumps(entries)[:300],
    ):
        check_workspace(check, pc, entries[0], hashes)
        check_artifact(check, run, pc, entries[0])


# -- off-site in S3, then restored ---------------------------------------------------------

S3_PROJECT = 7600001
#: The workflow's s3-uri, in tests/s3_server.py's versioned bucket.
S3_BUCKET, S3_PREFIX = "versioned-backups", f"pc/{S3_PROJECT}/main/"
RESTORED_LINE = re.compile(r"^\s*\| restored (?P<sha256>[0-9a-f]{64})  (?P<path>.+)$")


def s3_inputs(store: S3Server) -> tuple[dict[str, str], dict[str, str]]:
    """The s3 workflow's variables and secrets: the store's endpoint, a key pair of this
    run (moto takes any; the secret must then appear in no log) and an age key pair."""
    identity = pyrage.x25519.Identity.generate()
    variables = {
        "S3_ENDPOINT_URL": store.endpoint_url,
        "AWS_ACCESS_KEY_ID": f"AKIAACT{secrets.token_hex(6).upper()}",
        "AGE_RECIPIENT": str(identity.to_public()),
    }
    return variables, {
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AGE_IDENTITY": str(identity),
    }


def s3_setup(pc: Emulator) -> None:
    pc.add_project(S3_PROJECT, archive_size=1 << 20)


def s3_entry(run: ActRun) -> dict[str, Any] | None:
    """The one entry of the backup's ``archives`` output, if it printed exactly one."""
    lines = run.job_lines().get("backup", [])
    try:
        entries = json.loads(outputs(lines).get("archives") or "")
    except json.JSONDecodeError:
        return None
    return entries[0] if isinstance(entries, list) and len(entries) == 1 else None


def s3_check(check: Checks, run: ActRun, pc: Emulator) -> None:
    """The backup stored its .age in S3 (no artifact), and the prebuilt image's
    ``restore`` gave back the served archive, byte for byte."""
    lines = run.job_lines().get("backup", [])
    check("s3: act ran the workflow to success", run.exit_code == 0, _tail(run))
    entry = s3_entry(run) or {}
    uri = str(entry.get("s3_uri"))
    check(
        "s3: one archive in 'archives', stored at the s3-uri's key as .age, with a version id",
        not entry.get("error")
        and uri.startswith(f"s3://{S3_BUCKET}/{S3_PREFIX}{S3_PROJECT}-main-")
        and uri.endswith(".zip.age")
        and bool(entry.get("s3_version_id")),
        f"{json.dumps(entry)[:400]}; {_tail_lines(lines)}",
    )
    check(
        "s3: no artifact (upload-artifact: false)",
        not run.artifact_names(),
        f"store has {run.artifact_names()}",
    )
    served = sha256(served_archive(pc, {"project_id": S3_PROJECT}))
    restored = [m for m in (RESTORED_LINE.match(line) for line in lines) if m]
    check(
        "s3: restore from S3 left one zip, of the backup's 'sha256' (the served archive's)",
        len(restored) == 1
        and restored[0]["sha256"] == outputs(lines).get("sha256") == entry.get("sha256") == served,
        f"restored {[m.group(0) for m in restored]}, output {outputs(lines).get('sha256')}, "
        f"served {served}; {_tail_lines(lines)}",
    )


def s3_store_check(check: Checks, run: ActRun, pc: Emulator, store: S3Server) -> None:
    """What the bucket holds, asked of moto from the host: one version of one object, the
    one in ``archives``, whose bytes have the .age file's SHA-256; sent once."""
    entry = s3_entry(run) or {}
    listed = store.admin().list_object_versions(Bucket=S3_BUCKET, Prefix=f"pc/{S3_PROJECT}/")
    versions = [(v["Key"], v["VersionId"]) for v in listed.get("Versions", [])]
    key = str(entry.get("s3_uri")).removeprefix(f"s3://{S3_BUCKET}/")
    check(
        "s3: the bucket holds one version of one object, the s3_uri's and s3_version_id's",
        versions == [(key, entry.get("s3_version_id"))],
        f"bucket {versions}, archives {key!r} {entry.get('s3_version_id')!r}",
    )
    if not versions:
        return
    body = store.admin().get_object(Bucket=S3_BUCKET, Key=versions[0][0])["Body"].read()
    check(
        "s3: the stored object's SHA-256 is the 'encrypted_sha256' the action verified",
        sha256(body) == entry.get("encrypted_sha256") and body.startswith(b"age-encryption.org/"),
        f"stored {sha256(body)} ({len(body)} bytes), archives {entry.get('encrypted_sha256')}",
    )
    puts = [p for p in store.methods("PUT") if unquote(p.split("?")[0]) == f"/{S3_BUCKET}/{key}"]
    check(
        "s3: the object was sent once (one PUT of its key reached the store)",
        len(puts) == 1,
        f"PUTs {puts}",
    )


def _route(path: str) -> list[str]:
    """What follows ``/api/projects/`` in a request's path (empty for other routes)."""
    parts = path.strip("/").split("/")
    return parts[2:] if parts[:2] == ["api", "projects"] else []


SCENARIOS = (
    # act 0.2.89 passes GITHUB_RETENTION_DAYS through from its --env (else empty); other
    # act-based runners set 0 when the repository has no setting.
    Scenario(
        "one-project",
        one_project_setup,
        one_project_check,
        job_env={"GITHUB_RETENTION_DAYS": "0"},
    ),
    Scenario("all-branches", all_branches_setup, all_branches_check),
    Scenario("matrix", matrix_setup, matrix_check),
    Scenario("bad-input", bad_input_setup, bad_input_check),
    Scenario("discover", discover_setup, discover_check),
    # uses: docker://, the image pulled from the loopback registry (see registry.py).
    Scenario("prebuilt", prebuilt_setup, prebuilt_check, prebuilt=True),
    # s3-uri to a loopback S3 server, then restore with the prebuilt image.
    Scenario("s3", s3_setup, s3_check, prebuilt=True, store_check=s3_store_check),
)


def _tail(run: ActRun) -> str:
    return f"exit {run.exit_code}; " + _tail_lines(run.log.splitlines())


def _tail_lines(lines: list[str], count: int = 12) -> str:
    """The end of a log, for a failed check: act's own lines, which never hold the token
    (act masks the secret it was given, and the action masks it first thing)."""
    return "\n        " + "\n        ".join(line[:300] for line in lines[-count:])
