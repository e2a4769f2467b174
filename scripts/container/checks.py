"""What the container test asserts: the image's config and contents, and what one run of
it left in the workspace, the output file and the step summary."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tests.conftest import parse_output_file

from .runner import ContainerRun

#: Never in the image: a compiler or build tool means a build stage leaked into it.
BUILD_TOOLS = ("gcc", "cc", "c++", "g++", "clang", "make", "ld")


@dataclass
class Checks:
    """Named assertions, each printed as it is made; the test fails if any failed."""

    failed: list[str] = field(default_factory=list)
    passed: int = 0

    def __call__(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def closing_line(self) -> str:
        return f"container-test: {self.passed} passed, {len(self.failed)} failed"


def check_image_config(check: Checks, config: dict[str, Any]) -> None:
    entrypoint = config.get("Entrypoint")
    check(
        "the image has an exec-form ENTRYPOINT",
        isinstance(entrypoint, list) and bool(entrypoint),
        f"Entrypoint is {entrypoint!r}",
    )
    check(
        "the image sets no USER (it runs as root, who owns the runner's mounted files)",
        not config.get("User"),
        f"User is {config.get('User')!r}",
    )
    check(
        "the image sets no WORKDIR (the runner sets /github/workspace)",
        not config.get("WorkingDir"),
        f"WorkingDir is {config.get('WorkingDir')!r}",
    )


def check_image_contents(check: Checks, rootfs: Path) -> None:
    bin_dirs = ("usr/local/bin", "usr/bin", "bin")
    found = [f"/{d}/{t}" for d in bin_dirs for t in BUILD_TOOLS if (rootfs / d / t).exists()]
    check("no compiler or build tool in the image", not found, ", ".join(found))
    caches = [
        f"/{p.relative_to(rootfs)}"
        for p in (rootfs / "root/.cache/pip", rootfs / "root/.cache", rootfs / "tmp")
        if p.is_dir() and any(p.iterdir())
    ]
    check("no pip cache or leftovers in /root/.cache and /tmp", not caches, ", ".join(caches))
    sources = sorted((rootfs / "action" / "playcanvas_backup").rglob("*.py"))
    uncompiled = [
        str(p.relative_to(rootfs))
        for p in sources
        if not any((p.parent / "__pycache__").glob(f"{p.stem}.cpython-*.pyc"))
    ]
    check(
        "the action's code is byte-compiled in the image (not on every run)",
        bool(sources) and not uncompiled,
        ", ".join(uncompiled),
    )


def check_run(
    check: Checks,
    run: ContainerRun,
    *,
    workspace: Path,
    token: str,
    branches: int,
    served: Callable[[int, str], Path],
    artifacts: Callable[[str], bytes] | None = None,
) -> None:
    """``served(project_id, branch_id)`` is the archive the emulator served for a branch;
    ``artifacts(name)``, when given, is the blob uploaded as the artifact of that name."""
    log = run.stdout + run.stderr
    check("the action exits 0", run.exit_code == 0, f"exit status {run.exit_code}")
    first = run.stdout.splitlines()[0] if run.stdout else ""
    check("its first line masks the token", first == f"::add-mask::{token}", repr(first))
    leaks = [line for line in log.splitlines() if token in line and "::add-mask::" not in line]
    check("the token appears in no other line", not leaks, f"{len(leaks)} line(s)")

    outputs = parse_output_file(run.output_file.read_text())
    for name in ("path", "sha256", "size", "job-id", "archives"):
        check(f"output {name!r} is set", bool(outputs.get(name)), f"outputs: {sorted(outputs)}")
    if artifacts is None:
        check(
            "no artifact outputs (upload-artifact is false)",
            not outputs.get("artifact-id") and not outputs.get("artifact-url"),
            f"artifact-id={outputs.get('artifact-id')!r}",
        )
    else:
        check(
            "artifact outputs are set (upload-artifact defaults to true)",
            bool(outputs.get("artifact-id"))
            and str(outputs.get("artifact-url", "")).endswith(
                f"/artifacts/{outputs.get('artifact-id')}"
            ),
            f"artifact-id={outputs.get('artifact-id')!r} "
            f"artifact-url={outputs.get('artifact-url')!r}",
        )
    path = outputs.get("path", "")
    relative = bool(path) and not PurePosixPath(path).is_absolute() and ".." not in path
    check("output 'path' is relative to the workspace", relative, repr(path))
    archive = workspace / path
    if check("the archive is in the workspace at that path", relative and archive.is_file()):
        check(
            "output 'sha256' is the archive's SHA-256",
            outputs.get("sha256") == _sha256(archive),
            f"{outputs.get('sha256')} != {_sha256(archive)}",
        )
        check(
            "output 'size' is the archive's size",
            outputs.get("size") == str(archive.stat().st_size),
            f"{outputs.get('size')} != {archive.stat().st_size}",
        )
        check(
            "the archive was written by root (the container ran as root)",
            archive.stat().st_uid == 0,
            f"owner uid {archive.stat().st_uid}",
        )
        check(
            "later steps can read the archive (they run as the runner's unprivileged user)",
            archive.stat().st_mode & stat.S_IROTH != 0,
            f"it is {stat.filemode(archive.stat().st_mode)} and root-owned",
        )

    try:
        entries: list[dict[str, Any]] = json.loads(outputs.get("archives", "[]"))
    except json.JSONDecodeError as error:
        check("output 'archives' is JSON", False, str(error))
        return
    check(
        f"output 'archives' lists {branches} archives, none failed",
        len(entries) == branches and not any(e.get("error") for e in entries),
        json.dumps(entries)[:400],
    )
    summary = run.summary_file.read_text()
    check("the step summary has the archives table", "| Project | Branch | Archive |" in summary)
    for entry in entries:
        saved = workspace / str(entry.get("path"))
        label = f"{entry.get('branch')!r}"
        if not check(f"archive of branch {label} is in the workspace", saved.is_file()):
            continue
        original = served(int(entry["project_id"]), str(entry["branch_id"]))
        check(
            f"archive of branch {label} is the served one, byte for byte",
            _sha256(saved) == entry.get("sha256") == _sha256(original),
        )
        with zipfile.ZipFile(saved) as zipped:
            check(f"archive of branch {label} is a sound zip", zipped.testzip() is None)
        check(
            f"the summary shows the archive of branch {label} with its SHA-256",
            str(entry.get("path")) in summary and str(entry.get("sha256")) in summary,
        )
        if artifacts is not None:
            name = f"playcanvas-{entry['project_id']}-{str(entry['branch']).replace('/', '-')}"
            with zipfile.ZipFile(io.BytesIO(artifacts(name))) as blob:
                members = {info.filename: blob.read(info) for info in blob.infolist()}
            check(
                f"artifact {name!r} unpacks to the archive, byte for byte",
                members == {saved.name: saved.read_bytes()},
                f"members: {sorted(members)}",
            )
    folder = archive.parent if relative and archive.parent.is_dir() else workspace
    left = [p.name for p in folder.rglob("*.part")]
    check("no partial download is left behind", not left, ", ".join(left))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_s3_store(
    check: Checks, run: ContainerRun, *, workspace: Path, objects: Callable[[], dict[str, bytes]]
) -> None:
    """Each archive of ``archives`` was stored from inside the container at its
    ``s3_uri``: ``objects()`` is what the bucket holds (``s3://bucket/key`` -> bytes, read
    from the host), one object per archive, byte for byte the archive in the workspace."""
    try:
        entries: list[dict[str, Any]] = json.loads(
            parse_output_file(run.output_file.read_text()).get("archives", "[]")
        )
    except json.JSONDecodeError:
        entries = []
    stored = objects()
    uris = sorted(str(entry.get("s3_uri")) for entry in entries)
    check(
        "S3: the bucket holds one object per archive, at the s3_uri in 'archives'",
        bool(entries) and uris == sorted(stored),
        f"archives {uris}, bucket {sorted(stored)}",
    )
    for entry in entries:
        body = stored.get(str(entry.get("s3_uri")))
        saved = workspace / str(entry.get("path"))
        check(
            f"S3: the object of branch {entry.get('branch')!r} is its archive, byte for byte",
            body is not None
            and saved.is_file()
            and hashlib.sha256(body).hexdigest() == entry.get("sha256") == _sha256(saved),
            f"{len(body or b'')} bytes stored",
        )


def check_masked(check: Checks, run: ContainerRun, what: str, secret: str) -> None:
    """The action masked ``secret`` (``::add-mask::``), and no other line of the run
    holds it."""
    lines = (run.stdout + run.stderr).splitlines()
    leaks = [line for line in lines if secret in line and "::add-mask::" not in line]
    check(
        f"{what} is masked, and appears in no other line",
        f"::add-mask::{secret}" in lines and not leaks,
        f"{len(leaks)} other line(s)",
    )
