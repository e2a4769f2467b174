"""``make bench``: measure the action side by side with the tools it competes with, print
the tables and write them to bench/results.md (the README links there; bench/README.md
says how to read them).

    .venv/bin/python -m bench                 # everything, about 5 minutes
    .venv/bin/python -m bench download memory # only these benchmarks
    .venv/bin/python -m bench --quick         # sizes / 16, 3 runs: a try-out, not published

A benchmark is a function ``(Context) -> Table`` in :data:`BENCHMARKS`; adding a row to
the results is adding (or extending) one such function.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.context import Context
from bench.download import download
from bench.encrypt import encrypt
from bench.measure import ROOT
from bench.memory import memory
from bench.startup import startup
from bench.table import Table
from bench.upload import upload
from bench.waiting import waiting

BENCHMARKS: dict[str, Callable[[Context], Table]] = {
    "download": download,
    "memory": memory,
    "waiting": waiting,
    "upload": upload,
    "encrypt": encrypt,
    "startup": startup,
}
RESULTS = ROOT / "bench" / "results.md"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("only", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="sizes / 16 and 3 runs (try-out)")
    parser.add_argument("--output", type=Path, help=f"Markdown file (default {RESULTS})")
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    output = args.output or (ROOT / "build" / "bench-quick.md" if args.quick else RESULTS)

    ctx = Context(quick=args.quick)
    tables: list[Table] = []
    started = time.monotonic()
    try:
        for name in chosen:
            print(f"== {name}", flush=True)
            began = time.monotonic()
            table = BENCHMARKS[name](ctx)
            print(table.markdown(), flush=True)
            print(f"({name}: {time.monotonic() - began:.0f} s)\n", flush=True)
            tables.append(table)
    finally:
        ctx.close()
    command = "make bench" if not argv else f"python -m bench {' '.join(argv)}"
    text = header(command, args.quick) + "\n" + "\n".join(t.markdown() for t in tables)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output} ({time.monotonic() - started:.0f} s in all)")
    return 0


def header(command: str, quick: bool) -> str:
    """The command and the machine, as bench/results.md shows them above the tables."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"Produced by `{command}` on {when}: {os.cpu_count()} cores ({cpu}, a shared VM, "
        f"so expect a few % of noise), Linux {platform.release()}, Python "
        f"{platform.python_version()}, {curl.stdout.split(' (')[0] or 'curl'}.",
    ]
    if quick:
        lines.append("\n**--quick: sizes / 16 and 3 runs; a try-out, not for publishing.**")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
