"""The PlayCanvas emulator in a process of its own, so that its CPU and memory are not
counted in the measured client's.

    python -m bench.server 900001:536870912 900002:16777216 ...

makes each project's archive (``id:size`` in bytes) once, then prints one JSON line
(``api_url``, ``token``, ``urls``: a signed download URL per project, reusable) and serves
until its stdin closes. Export jobs complete at once (``Faults.job_polls = 0``) and the
rate limits are raised out of the way: this process is for measuring transfers, not
waits (``bench.waiting`` measures those).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from bench.measure import ROOT, stop_helper
from tests.emulator import Emulator

#: High enough that no benchmark run ever waits for a rate-limit window.
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class Served:
    """What the emulator process serves: its API, token and a signed URL per project."""

    api_url: str
    token: str
    urls: Mapping[int, str]
    #: The exact size of each project's archive, in bytes.
    sizes: Mapping[int, int]


@contextmanager
def serving(sizes: Mapping[int, int]) -> Iterator[Served]:
    """Start the emulator process with these projects (id -> archive size in bytes)."""
    argv = [sys.executable, "-m", "bench.server", *(f"{p}:{s}" for p, s in sizes.items())]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the bench emulator process did not start")
        info = json.loads(line)
        urls = {int(pid): str(url) for pid, url in info["urls"].items()}
        sizes = {int(pid): int(size) for pid, size in info["sizes"].items()}
        yield Served(str(info["api_url"]), str(info["token"]), urls, sizes)
    finally:
        stop_helper(process)


def signed_url(api_url: str, token: str, project_id: int) -> str:
    """Start an export and return its (complete) job's signed download URL."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(  # loopback only: the emulator's own URL
        f"{api_url}/projects/{project_id}/export", data=b"{}", headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.load(response)
    url = job.get("data", {}).get("url")
    if not url:
        raise RuntimeError(f"the emulator's export job has no URL: {job!r:.200}")
    return str(url)


def main(argv: list[str]) -> int:
    sizes = {int(pid): int(size) for pid, size in (arg.split(":") for arg in argv)}
    with Emulator(strict_limit=UNLIMITED, normal_limit=UNLIMITED) as pc:
        pc.faults.job_polls = 0
        urls: dict[str, str] = {}
        made: dict[str, int] = {}
        for project_id, size in sizes.items():
            branch = pc.add_project(project_id, archive_size=size)[0]
            # Made now, not during a measurement.
            made[str(project_id)] = pc.archive_path(project_id, branch["id"]).stat().st_size
            urls[str(project_id)] = signed_url(pc.api_url, pc.token, project_id)
        info = {"api_url": pc.api_url, "token": pc.token, "urls": urls, "sizes": made}
        print(json.dumps(info), flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
