"""Run the workflows of scripts/act/workflows under nektos/act and check what they did.

1. the stand-in for ``python:3.11-slim`` (scripts/container/standin.py and its cache),
   tagged ``docker.io/library/python:3.11-slim`` in the storage podman shares, so that
   the real Dockerfile builds unchanged and the jobs run in it;
2. for each scenario: the PlayCanvas API emulator on loopback with the scenario's
   projects and a token of its own, one ``act`` run of the workflow (act builds the
   Dockerfile through podman), and the scenario's checks;
3. the prebuilt image: built, pushed to a registry on loopback (``--registry``) once and
   removed locally, then run as ``uses: docker://...`` (workflows/prebuilt.yml, and the
   restore of workflows/s3.yml), which makes podman pull it from that registry;
4. for workflows/s3.yml: an S3 server on loopback (tests/s3_server.py: moto behind a
   front that checks the SHA-256 checksums) that the action stores in and the prebuilt
   image's ``restore`` reads from, judged from the host through boto3;
5. over every run: the token (and every other secret it was given) appears in no log.

Started by scripts/act-test, which installs the tools, configures podman and runs its
service (``DOCKER_HOST``); one line per check, exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.container.buildah import Buildah, BuildahError
from scripts.container.checks import Checks
from scripts.container.standin import ensure_stand_in, host_pip_settings
from tests.emulator import Emulator
from tests.s3_server import S3Server

from .registry import PLACEHOLDER, Pushed, Registry, build_and_push, remove_pulled
from .runner import JOB_IMAGE, Act, ActRun, make_repository
from .scenarios import SCENARIOS, Scenario, s3_inputs

BASE_TAG = f"docker.io/library/{JOB_IMAGE}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/act-test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--act", type=Path, required=True, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, required=True, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, required=True, help=argparse.SUPPRESS)
    parser.add_argument("--registry", required=True, help=argparse.SUPPRESS)  # 127.0.0.1:port
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.workflow for s in SCENARIOS],
        help="run only this workflow (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's line per request
    started = time.monotonic()
    check = Checks()
    try:
        _prove(args, check)
    except (BuildahError, RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"\nact-test: FAILED: {error}", file=sys.stderr)
        return 1
    print(
        f"act-test: {check.passed} passed, {len(check.failed)} failed "
        f"in {time.monotonic() - started:.0f} s (logs: {args.out})"
    )
    return 1 if check.failed else 0


def _prove(args: argparse.Namespace, check: Checks) -> None:
    cache: Path = args.cache_dir
    buildah = Buildah(root=cache / "storage", runroot=cache / "runroot")
    pip = host_pip_settings()
    print(f"== 1. stand-in for {JOB_IMAGE}\n  {pip.describe()}", flush=True)
    base = ensure_stand_in(buildah, cache, pip)
    buildah("tag", base.image, BASE_TAG)
    print(f"  {base.image}: {base.how} in {base.seconds:.1f} s, tagged {BASE_TAG}", flush=True)
    _wait_for_engine(os.environ["DOCKER_HOST"])

    registry = Registry(args.registry, args.out / "registry.log")
    repository = make_repository(args.out / "repo", {PLACEHOLDER: registry.address})
    act = Act(args.act, repository, args.out)
    runs: list[tuple[ActRun, dict[str, str]]] = []
    pushed: Pushed | None = None
    for number, scenario in enumerate(SCENARIOS, start=2):
        if args.only and scenario.workflow not in args.only:
            continue
        print(f"== {number}. act runs workflows/{scenario.workflow}.yml", flush=True)
        reads = 0
        if scenario.prebuilt:
            pushed = pushed or _push_prebuilt(buildah, base.image, registry, args.out)
            reads = registry.manifest_reads()
        runs.append(_run(act, scenario, check, args.out, rebuild=not runs))
        if scenario.prebuilt and pushed is not None:
            check(
                f"{scenario.workflow}: podman pulled the image from the loopback registry "
                "for the run",
                registry.manifest_reads() > reads,
                f"no GET of its manifest in {registry.log}",
            )
            remove_pulled(buildah, pushed.reference)

    print("== every run", flush=True)
    for run, hidden in runs:
        for what, value in hidden.items():
            check(
                f"{run.workflow}: {what} appears nowhere in act's log",
                value not in run.log,
                f"{sum(value in line for line in run.log.splitlines())} line(s)",
            )
    # vfs keeps a full copy of every layer: drop what each rebuild left unnamed.
    subprocess.run(["podman", "image", "prune", "--force"], capture_output=True, check=False)


def _run(
    act: Act, scenario: Scenario, check: Checks, out: Path, *, rebuild: bool
) -> tuple[ActRun, dict[str, str]]:
    """One act run of a scenario's workflow against an emulator of its own (and an S3
    server of its own when it stores there); its checks; the secrets it was given."""
    with contextlib.ExitStack() as stack:
        pc = stack.enter_context(Emulator(token=f"pc-act-{secrets.token_hex(12)}", rate_window=5.0))
        scenario.setup(pc)
        variables: dict[str, str] = {"PLAYCANVAS_API_URL": pc.api_url}
        given: dict[str, str] = {}
        store = stack.enter_context(S3Server()) if scenario.store_check else None
        if store is not None:
            more_variables, given = s3_inputs(store)
            variables.update(more_variables)
        run = act.run(
            scenario.workflow,
            token=pc.token,
            variables=variables,
            job_env=scenario.job_env,
            secrets=given,
            rebuild=rebuild,  # the first run builds the Dockerfile, the others reuse it
        )
        print(
            f"  act exit status {run.exit_code} after {run.seconds:.1f} s "
            f"(log: {out / scenario.workflow / 'act.log'})",
            flush=True,
        )
        scenario.check(check, run, pc)
        if store is not None and scenario.store_check is not None:
            scenario.store_check(check, run, pc, store)
        return run, {"the token": pc.token, **given}


def _push_prebuilt(buildah: Buildah, base_image: str, registry: Registry, out: Path) -> Pushed:
    registry.wait_until_ready()
    pushed = build_and_push(buildah, base_image, registry, out)
    print(
        f"  {pushed.reference} ({pushed.digest}): built in {pushed.build_seconds:.1f} s, "
        f"pushed in {pushed.push_seconds:.1f} s, removed from local storage",
        flush=True,
    )
    return pushed


def _wait_for_engine(docker_host: str, timeout: float = 60) -> None:
    """Until podman's service answers ``/_ping`` on its unix socket."""
    path = docker_host.removeprefix("unix://")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(5)
                client.connect(path)
                client.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
                if client.recv(64).split(b"\r\n")[0].endswith(b" 200 OK"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"podman's service did not answer on {path} within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
