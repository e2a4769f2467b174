"""Download speed: the action against ``curl -o`` (page cache, no sync), ``curl -o &&
sync FILE`` (what "in place" costs curl) and ``curl -o && sha256sum``, on the same
signed URL of the emulator's download host (a separate process, sendfile)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from bench.context import Context
from bench.measure import MIB, PYTHON, alternate, median, rate, run_process, settle
from bench.table import Table, verdict

SIZE = 512 * MIB
#: The download+verify phase must be at least this fraction of plain ``curl -o``'s speed
OF_CURL = 0.75
#: ... and at least this fraction of ``curl -o && sync``'s (issue 12).
OF_CURL_SYNC = 0.9

#: One measured run: (wall seconds, CPU seconds).
Run = tuple[float, float]


def download(ctx: Context) -> Table:
    size = ctx.size(SIZE)
    url, nbytes = ctx.url(size), ctx.bytes(size)
    folder = ctx.work / "download"
    curl_file, fetch_file = folder / "curl.zip", folder / "fetch.zip"
    sha256: set[str] = set()

    def shell(script: str) -> Callable[[], Run]:
        def run() -> Run:
            measured = run_process(["sh", "-c", script, "sh", str(curl_file), url])
            if "sha256sum" in script:
                sha256.add(measured.stdout.split()[0])
            return measured.seconds, measured.cpu_seconds

        return run

    def download_phase(*options: str) -> Callable[[], Run]:
        def run() -> Run:
            measured = run_process([PYTHON, "-m", "bench.fetch", url, str(fetch_file), *options])
            reported = json.loads(measured.stdout)
            sha256.add(reported["sha256"])
            return float(reported["seconds"]), measured.cpu_seconds

        return run

    def action(size: int) -> Callable[[], Run]:
        def run() -> Run:
            measured = ctx.run_action(size, f"download-{size}")
            return measured.seconds, measured.cpu_seconds

        return run

    def clean() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for size_ in (size, ctx.TINY):
            shutil.rmtree(ctx.work / f"download-{size_}", ignore_errors=True)
        settle()

    runs = alternate(
        {
            "curl": shell('curl -sS --fail -o "$1" "$2"'),
            "curl+sha256sum": shell('curl -sS --fail -o "$1" "$2" && sha256sum "$1"'),
            "curl+fsync": shell('curl -sS --fail -o "$1" "$2" && sync "$1"'),
            "no verify": download_phase("--no-verify"),
            "phase": download_phase(),
            "action": action(size),
            "overhead": action(ctx.TINY),
        },
        ctx.runs(9),
        before_each=clean,
    )
    clean()
    if len(sha256) != 1:
        raise RuntimeError(f"curl and the action disagree on the archive's SHA-256: {sha256}")
    fixed = runs.pop("overhead")
    overhead, overhead_cpu = median([s for s, _ in fixed]), median([c for _, c in fixed])
    # The end-to-end runs without the fixed overhead (the same run on a 64 KiB archive).
    runs["action"] = [(s - overhead, c - overhead_cpu) for s, c in runs["action"]]

    table = Table(
        f"Download: {nbytes / MIB:.0f} MiB incompressible archive, verify on",
        f"Medians of {len(runs['curl'])} runs per row, the rows' runs alternated (A B C ..., "
        "... C B A, ...); before every run the previous files are deleted and the page "
        "cache written back (`sync`), untimed. Loopback HTTP from the emulator's download "
        "host (its own process, `sendfile`); every row fetches the same archive, and they "
        "agree on its SHA-256. Everything is written to the same ext4 disk.",
        [
            "what",
            "time (median)",
            "range",
            "throughput",
            "x `curl -o`",
            "x `curl -o && sync`",
            "CPU s",
            "target",
        ],
    )
    rows = {
        "curl": "`curl -o` (page cache, no sync)",
        "curl+fsync": "`curl -o && sync FILE` (curl plus the `fsync` that puts the file in place)",
        "curl+sha256sum": "`curl -o && sha256sum` (coreutils)",
        "no verify": "action, download phase with `verify: false` (for reference)",
        "phase": "**action, download+verify phase**: `download.download()` timed inside its "
        "process, first byte requested to archive in place (`fsync` and rename included)",
        "action": "**action, `entrypoint.py` end to end** minus its fixed overhead "
        f"({overhead:.2f} s: the same run on a 64 KiB archive)",
    }
    hashed = median([s for s, _ in runs["curl+sha256sum"]])

    def ratio(reference: str, name: str) -> float:
        """Within each round, the reference's time over this row's time: alternation makes
        the pairs see the same noise."""
        pairs = zip(runs[reference], runs[name], strict=True)
        return median([c / s for (c, _), (s, _) in pairs])

    for name, label in rows.items():
        seconds = median([s for s, _ in runs[name]])
        of_curl, of_synced = ratio("curl", name), ratio("curl+fsync", name)
        target = ""
        if name == "phase":
            target = ", ".join(
                [
                    verdict(of_curl >= OF_CURL, f">= {OF_CURL}x `curl -o`"),
                    verdict(of_synced >= OF_CURL_SYNC, f">= {OF_CURL_SYNC}x `curl -o && sync`"),
                ]
            )
        elif name == "action":
            target = verdict(seconds < hashed, "faster than curl + sha256sum")
        table.add(
            label,
            f"{seconds:.2f} s",
            f"{min(s for s, _ in runs[name]):.2f}-{max(s for s, _ in runs[name]):.2f} s",
            rate(nbytes, seconds),
            f"{of_curl:.2f}",
            f"{of_synced:.2f}",
            f"{median([c for _, c in runs[name]]):.2f}",
            target,
        )
    table.notes += [
        "x `curl -o`, x `curl -o && sync`: the median over the rounds of that row's time "
        "divided by this row's time in the same round (above 1: faster); time and "
        "throughput: medians of the row's own runs.",
        "CPU s: user + system seconds of the measured process and its children (for the "
        "action: its own process only; the emulator is never counted).",
        "The action does more than curl: SHA-256 and the zip check (every member's CRC-32, "
        "compressed members inflated) in the same pass, on two worker threads reading the "
        "buffers the receiving thread filled; writeback to disk started as the bytes arrive "
        "(`sync_file_range`), then an `fsync` before the rename.",
    ]
    return table
