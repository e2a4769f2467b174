"""Encryption (``encrypt-to``): throughput and peak RSS of encrypting an archive with age.

    .venv/bin/python -m bench.encrypt            # print the table (about a minute)
    .venv/bin/python -m bench.encrypt --quick    # sizes / 16, 3 runs

Each run is a process of its own (``python -m bench.encrypt child MODE ...``) that
encrypts a hard link to the archive (the action deletes the plaintext; the link keeps the
original) and reports the time of the encryption alone; peak RSS and CPU come from
``wait4`` (bench/launch.py). As a benchmark function, :func:`encrypt` fits ``make bench``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyrage
from pyrage import x25519

from bench.context import Context
from bench.measure import MIB, PYTHON, ROOT, Measured, alternate, median, mib, run_process, settle
from bench.table import Table, verdict
from playcanvas_backup.encrypt import Recipient, encrypt_archive, parse_recipients
from tests.emulator.archives import make_archive

SIZE = 256 * MIB
#: Sizes of the memory check: peak RSS must not grow with the archive.
MEMORY_SIZES = (16 * MIB, 256 * MIB, 1024 * MIB)
FLAT = 4 * MIB
#: The plain download of bench/results.md (512 MiB, verify on), for comparison.
DOWNLOAD_MIB_S = 666
MODES = {
    "action": "**action**: `encrypt_archive` (pyrage `encrypt_io`, SHA-256 in the same pass, "
    "`fdatasync` every 16 MiB on a worker thread, `fsync`)",
    "file": "pyrage `encrypt_file` (all in Rust), then SHA-256 read back while `fsync` runs "
    "(the alternative, for reference)",
    "noop": "start-up and imports of the measuring process only (baseline of peak RSS)",
    "age": "`age -r` (Go, Debian's package) for reference: whole process, no hash, no `fsync`",
}


def encrypt(ctx: Context) -> Table:
    size = ctx.size(SIZE)
    work = ctx.work / "encrypt"
    work.mkdir(parents=True, exist_ok=True)
    key = work / "recipient.txt"
    key.write_text(str(x25519.Identity.generate().to_public()) + "\n")
    archives = {
        s: make_archive(work / f"plain-{s}.zip", size=s, label="bench")
        for s in {size, *(ctx.size(s) for s in MEMORY_SIZES)}
    }
    age = shutil.which("age")
    modes = [m for m in MODES if m != "age" or age]

    def run(mode: str, archive: Path) -> Measured:
        link = work / "run.zip"
        for stale in work.glob("run.zip*"):
            stale.unlink()
        os.link(archive, link)
        if mode == "age":
            assert age is not None
            out = work / "run.zip.age"
            measured = run_process([age, "-R", str(key), "-o", str(out), str(link)])
            return Measured(measured.seconds, *_rest(measured))
        measured = run_process(
            [PYTHON, "-m", "bench.encrypt", "child", mode, str(link), str(key)], cwd=ROOT
        )
        return Measured(float(measured.stdout.split()[0]), *_rest(measured))

    runs = alternate(
        {mode: functools.partial(run, mode, archives[size]) for mode in modes},
        ctx.runs(5),
        before_each=settle,
    )
    table = Table(
        f"Encryption: {mib(size)} archive to one X25519 recipient",
        "Each run in a process of its own on the same ext4 disk, `sync` before it (untimed); "
        f"medians of {ctx.runs(5)} runs per row, alternated. Time: the encryption alone, "
        "timed inside the process (for `age`: the whole process). Peak RSS and CPU from "
        "`wait4`, start-up and imports included.",
        ["what", "time (median)", "range", "throughput", "peak RSS", "CPU s"],
    )
    for mode in modes:
        values = runs[mode]
        seconds = median([m.seconds for m in values])
        timed = mode != "noop"
        table.add(
            MODES[mode],
            f"{seconds:.2f} s" if timed else "",
            f"{min(m.seconds for m in values):.2f}-{max(m.seconds for m in values):.2f} s"
            if timed
            else "",
            f"{size / MIB / seconds:.0f} MiB/s" if timed else "",
            mib(median([m.max_rss for m in values])),
            f"{median([m.cpu_seconds for m in values]):.2f}",
        )
    peaks: dict[int, float] = {}
    for wanted in MEMORY_SIZES:
        archive = archives[ctx.size(wanted)]
        rss = []
        for _ in range(ctx.runs(3)):
            settle()
            rss.append(run("action", archive).max_rss)
        peaks[ctx.size(wanted)] = median(rss)
    spread = max(peaks.values()) - min(peaks.values())
    table.add(
        "action's peak RSS over " + ", ".join(f"{mib(s)}: {mib(p)}" for s, p in peaks.items()),
        "",
        "",
        "",
        f"spread {mib(spread)}",
        verdict(spread <= FLAT, f"flat within {mib(FLAT)}"),
    )
    table.notes.append(
        f"For comparison, the plain download (bench/results.md): {DOWNLOAD_MIB_S} MiB/s and "
        "35.5 MiB peak RSS for the whole action; encryption runs after it, on the verified "
        "archive, so its time adds to the download's."
    )
    return table


def _rest(measured: Measured) -> tuple[int, float, int, str]:
    return measured.max_rss, measured.cpu_seconds, measured.exit_code, measured.stdout


def child(mode: str, archive: Path, key_file: Path) -> None:
    """One encryption in this process; prints ``seconds sha256 size``."""
    recipients = parse_recipients(key_file.read_text())
    started = time.perf_counter()
    if mode == "noop":
        sha256, size = "-", 0
    elif mode == "action":
        result = encrypt_archive(archive, recipients)
        sha256, size = result.sha256, result.size
    else:
        sha256, size = _encrypt_file(archive, recipients)
    print(f"{time.perf_counter() - started:.4f} {sha256} {size}")


def _encrypt_file(archive: Path, recipients: Sequence[Recipient]) -> tuple[str, int]:
    target = archive.with_name(archive.name + ".age")
    handle, part = tempfile.mkstemp(dir=archive.parent, suffix=".part")
    os.close(handle)
    pyrage.encrypt_file(str(archive), part, [r.pyrage for r in recipients])
    digest, size = hashlib.sha256(), 0
    with Path(part).open("rb") as file, ThreadPoolExecutor(max_workers=1) as worker:
        synced = worker.submit(os.fsync, file.fileno())
        while block := file.read(1 << 20):
            digest.update(block)
            size += len(block)
        synced.result()
    Path(part).replace(target)
    archive.unlink()
    return digest.hexdigest(), size


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child(argv[1], Path(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.encrypt")
    parser.add_argument("--quick", action="store_true", help="sizes / 16 and 3 runs")
    args = parser.parse_args(argv)
    ctx = Context(quick=args.quick)
    try:
        print(encrypt(ctx).markdown())
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
