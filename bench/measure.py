"""How things are measured: processes with their peak RSS, runs alternated, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "bench" / "launch.py"
PYTHON = sys.executable
MIB = 1 << 20

T = TypeVar("T")


@dataclass(frozen=True)
class Measured:
    """One finished process: wall time, peak resident memory, exit status, output."""

    seconds: float
    max_rss: int  # bytes
    cpu_seconds: float  # user + system
    exit_code: int
    stdout: str


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    check: bool = True,
) -> Measured:
    """Run ``argv`` to its end. It is started by bench/launch.py, a small process of its
    own, which reports the time from its fork to its end and its peak RSS and CPU from
    ``wait4``'s rusage: those of the process and of the children it waited for (the
    emulator is never one), never the bench's own (see bench/launch.py for why)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.NamedTemporaryFile("r") as report:
        process = subprocess.run(
            [PYTHON, "-I", "-S", str(LAUNCH), report.name, *argv],
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            check=False,
        )
        out.seek(0)
        stdout = out.read()
        fields = report.read().split()
    if process.returncode != 0 or len(fields) != 4:
        raise RuntimeError(f"bench/launch.py failed ({process.returncode}) for {argv[:3]}")
    seconds, max_rss, cpu, exit_code = (
        float(fields[0]),
        int(fields[1]),
        float(fields[2]),
        int(fields[3]),
    )
    if check and exit_code != 0:
        raise RuntimeError(f"{argv[:3]} exited {exit_code}: {stdout[-2000:]}")
    return Measured(seconds, max_rss, cpu, exit_code, stdout)


def alternate(
    variants: Mapping[str, Callable[[], T]],
    runs: int,
    *,
    before_each: Callable[[], None] = lambda: None,
) -> dict[str, list[T]]:
    """Run every variant ``runs`` times, interleaved (A B C, C B A, A B C, ...), so that
    a noisy neighbour or a warming cache hits all of them alike. ``before_each`` runs,
    untimed, before every single run."""
    results: dict[str, list[T]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            before_each()
            results[name].append(variants[name]())
    return results


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def settle(pause: float = 0.2) -> None:
    """Write back dirty pages (and let the disk catch up with the last run's deletes), so
    that one run's writes do not slow down the next run."""
    os.sync()
    time.sleep(pause)


def mib(size: float) -> str:
    return f"{size / MIB:.1f} MiB"


def rate(size: int, seconds: float) -> str:
    return f"{size / MIB / seconds:.0f} MiB/s"


def stop_helper(process: subprocess.Popen[str]) -> None:
    """End a helper process started with a stdin pipe: close stdin (its signal to stop),
    then wait, killing it if it does not end in time."""
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
