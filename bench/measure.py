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
    """Run ``argv`` to its end; its peak RSS comes from ``wait4``'s rusage (children of
    the process are not included, so the emulator never counts)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=None if env is None else dict(env), stdout=out
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    if check and process.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {process.returncode}: {stdout[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, usage.ru_maxrss * 1024, cpu, process.returncode, stdout)


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
