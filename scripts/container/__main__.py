"""Build the real Dockerfile on the stand-in base and run it as the GitHub runner does.

1. the stand-in for ``python:3.11-slim`` (made once, then cached),
2. ``buildah bud`` of the Dockerfile with ``--build-arg BASE_IMAGE=<stand-in>``, timed,
3. one run of the image's own ENTRYPOINT against the PlayCanvas API emulator on
   loopback, with the runner's mounts, environment and ``INPUT_`` variables, storing in
   an S3 server on loopback too (tests/s3_server.py: moto behind a checksum front),
4. checks of the image and of what the run left behind; exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.artifact_service import AZURITE, ResultsService, azurite
from tests.emulator import Emulator
from tests.s3_server import BUCKET, S3Server

from .buildah import Buildah, BuildahError, tree_size
from .checks import (
    Checks,
    check_image_config,
    check_image_contents,
    check_masked,
    check_run,
    check_s3_store,
)
from .runner import RunnerDirs, action_defaults, run_as_runner
from .standin import StandIn, ensure_stand_in, host_pip_settings

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "container-test"
IMAGE = "localhost/playcanvas-backup:container-test"
DEFAULT_CACHE = "/var/cache/playcanvas-backup"
PROJECT = 7654321
BRANCHES = ("main", "art/new-skybox")


@dataclass
class Figures:
    """What one container test measured."""

    base: StandIn
    base_bytes: int = 0
    build_seconds: float = 0.0
    layer_cache: bool = True
    image_bytes: int = 0
    run_seconds: float = 0.0

    def report(self, check: Checks) -> str:
        (OUT / "report.json").write_text(
            json.dumps(
                {
                    "base": {
                        "image": self.base.image,
                        "how": self.base.how,
                        "seconds": round(self.base.seconds, 1),
                        "bytes": self.base_bytes,
                    },
                    "build": {
                        "seconds": round(self.build_seconds, 1),
                        "layer_cache": self.layer_cache,
                    },
                    "image": {
                        "name": IMAGE,
                        "bytes": self.image_bytes,
                        "added_bytes": self.image_bytes - self.base_bytes,
                    },
                    "run": {"seconds": round(self.run_seconds, 1)},
                    "checks": {
                        "passed": check.passed,
                        "failed": check.failed,
                    },
                    "machine": {"cpus": os.cpu_count()},
                },
                indent=2,
            )
            + "\n"
        )
        added = (self.image_bytes - self.base_bytes) / 1e6
        cache = "with" if self.layer_cache else "without"
        return (
            f"== figures (also in {(OUT / 'report.json').relative_to(ROOT)})\n"
            f"  stand-in base {self.base_bytes / 1e6:.0f} MB, {self.base.how} in "
            f"{self.base.seconds:.1f} s\n"
            f"  image {self.image_bytes / 1e6:.0f} MB ({added:.0f} MB over the base), built in "
            f"{self.build_seconds:.1f} s ({cache} layer cache)\n"
            f"  run {self.run_seconds:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/container-test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="build without buildah's layer cache (a cold build)"
    )
    parser.add_argument(
        "--rebuild-base", action="store_true", help="make the stand-in base again with debootstrap"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("PLAYCANVAS_BACKUP_CACHE", DEFAULT_CACHE)),
        help="stand-in tarball and buildah storage (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's line per request

    missing = [tool for tool in ("buildah", "debootstrap", "tar") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        print(
            "container-test: needs root and buildah, debootstrap "
            f"(missing: {', '.join(missing) or 'root'}); scripts/container-test installs "
            "them with apt-get",
            file=sys.stderr,
        )
        return 2
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    buildah = Buildah(root=args.cache_dir / "storage", runroot=args.cache_dir / "runroot")
    try:
        return _prove(
            buildah, args.cache_dir, no_cache=args.no_cache, rebuild_base=args.rebuild_base
        )
    except (BuildahError, RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"\ncontainer-test: FAILED: {error}", file=sys.stderr)
        return 1


def _prove(buildah: Buildah, cache: Path, *, no_cache: bool, rebuild_base: bool) -> int:
    pip = host_pip_settings()
    print(f"== 1. stand-in for python:3.11-slim\n  {pip.describe()}", flush=True)
    base = ensure_stand_in(buildah, cache, pip, rebuild=rebuild_base)
    print(f"  {base.image}: {base.how} in {base.seconds:.1f} s", flush=True)
    figures = Figures(base, layer_cache=not no_cache)

    print("== 2. buildah bud of the Dockerfile", flush=True)
    build = [
        "bud", "--isolation", "chroot", "--pull=never", "--layers",
        "--build-arg", f"BASE_IMAGE={base.image}",
        "--tag", IMAGE, "--file", str(ROOT / "Dockerfile"),
        *(["--no-cache"] if no_cache else []),
        str(ROOT),
    ]  # fmt: skip
    figures.build_seconds = buildah.streamed(*build, log=OUT / "build.log")
    buildah.prune_images()  # earlier builds' layers: vfs keeps a full copy of each
    print(
        f"  {IMAGE}: built in {figures.build_seconds:.1f} s "
        f"(log: {(OUT / 'build.log').relative_to(ROOT)})",
        flush=True,
    )

    print("== 3. the image, and one run of it as the GitHub runner runs it", flush=True)
    check = Checks()
    config = buildah.image_config(IMAGE)
    check_image_config(check, config)
    entrypoint = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    figures.base_bytes = _image_bytes(buildah, base.image)
    container = buildah.working_container(IMAGE)
    try:
        rootfs = buildah.mount(container)
        figures.image_bytes = tree_size(rootfs)
        check_image_contents(check, rootfs)
        figures.run_seconds = _run(buildah, container, entrypoint, check)
    finally:
        buildah.remove_container(container)

    print(figures.report(check))
    print(check.closing_line())
    return 1 if check.failed else 0


def _run(buildah: Buildah, container: str, entrypoint: list[str], check: Checks) -> float:
    dirs = RunnerDirs(OUT / "runner")
    with contextlib.ExitStack() as stack:
        pc = stack.enter_context(Emulator(rate_window=5.0))
        service = _artifact_service(stack)
        store = stack.enter_context(S3Server())  # on loopback: the image stores there too
        aws_secret = f"container-test-secret-{uuid.uuid4().hex}"
        pc.add_project(PROJECT, branches=BRANCHES, archive_size=1 << 20)
        pc.faults.job_polls = 2
        pc.faults.drops = 1  # one dropped download: the resume runs inside the image too
        pc.faults.drop_after = 256 << 10
        inputs = _inputs(pc, store, upload=service is not None)
        print(
            f"  $ {' '.join(entrypoint)}   # ENTRYPOINT, in /github/workspace, "
            f"against {pc.api_url}",
            flush=True,
        )
        started = time.monotonic()
        run = run_as_runner(
            buildah,
            container,
            entrypoint,
            dirs,
            inputs,
            services={
                **(service.env() if service else {}),
                "AWS_ACCESS_KEY_ID": "AKIACONTAINERTEST001",
                "AWS_SECRET_ACCESS_KEY": aws_secret,
            },
        )
        seconds = time.monotonic() - started
        (OUT / "run.log").write_text(run.stdout + run.stderr)
        print("  | " + (run.stdout + run.stderr).rstrip().replace("\n", "\n  | "))
        print(f"  exit status {run.exit_code} after {seconds:.1f} s", flush=True)
        check_run(
            check,
            run,
            workspace=dirs.workspace,
            token=pc.token,
            branches=len(BRANCHES),
            served=pc.archive_path,
            artifacts=service.blob_bytes if service else None,
        )
        check_s3_store(check, run, workspace=dirs.workspace, objects=lambda: _objects(store))
        check_masked(check, run, "the AWS secret", aws_secret)
        if service is not None:
            check(
                "the results-service double saw a faithful upload",
                not service.problems,
                "; ".join(service.problems),
            )
    return seconds


def _inputs(pc: Emulator, store: S3Server, *, upload: bool) -> dict[str, str]:
    """Every input as the runner passes it: action.yml's defaults, the emulator's project
    (all branches) and the S3 server's bucket; no artifact upload without its service."""
    return {
        **action_defaults(ROOT / "action.yml"),
        "access-token": pc.token,
        "project-id": str(PROJECT),
        "all-branches": "true",
        "api-url": pc.api_url,
        "poll-interval": "0.2",
        "max-poll-interval": "1",
        "s3-uri": f"s3://{BUCKET}/pc/{{project_id}}/{{branch}}/{{file}}",
        "s3-endpoint-url": store.endpoint_url,
        "s3-region": "us-east-1",
        **({} if upload else {"upload-artifact": "false"}),
    }


def _objects(store: S3Server) -> dict[str, bytes]:
    """What the S3 server's bucket holds, read straight from moto: URI -> bytes."""
    admin = store.admin()
    listed = admin.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        f"s3://{BUCKET}/{item['Key']}": admin.get_object(Bucket=BUCKET, Key=item["Key"])[
            "Body"
        ].read()
        for item in listed
    }


def _artifact_service(stack: contextlib.ExitStack) -> ResultsService | None:
    """Azurite and the results-service double, for the upload from inside the image
    (required under CI, where make test has installed the Node peers)."""
    if shutil.which("node") and AZURITE.exists():
        return stack.enter_context(ResultsService(stack.enter_context(azurite())))
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "Node.js and tests/node/node_modules are needed for the artifact "
            "upload check (make test installs them)"
        )
    print("  (no Node.js: the artifact upload is not exercised; make test installs it)")
    return None


def _image_bytes(buildah: Buildah, image: str) -> int:
    container = buildah.working_container(image)
    try:
        return tree_size(buildah.mount(container))
    finally:
        buildah.remove_container(container)


if __name__ == "__main__":
    sys.exit(main())
