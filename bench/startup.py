"""Start-up: what the action costs before it does anything, against a bare interpreter."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

from bench.context import ENTRYPOINT, Context
from bench.measure import PYTHON, ROOT, alternate, median, run_process
from bench.table import Table, verdict

#: One line of ``-X importtime`` about a top-level package, at any depth: (us, name).
PACKAGE_LINE = r"^import time:\s+\d+ \|\s+(\d+) \| *([A-Za-z_][A-Za-z0-9_]*)$"
#: ``import playcanvas_backup`` promises to stay cheap (no requests).
IMPORT_BUDGET_MS = 5.0


def startup(ctx: Context) -> Table:
    image = _image_copy(ctx)
    plain = dict(os.environ)
    no_bytecode = {**plain, "PYTHONDONTWRITEBYTECODE": "1"}
    commands = {
        "`python -c pass` (bare interpreter)": ([PYTHON, "-c", "pass"], plain),
        '`python -c "import playcanvas_backup"`': (
            [PYTHON, "-c", "import playcanvas_backup"],
            plain,
        ),
        "`python entrypoint.py --help` (bytecode cached, as in a checkout)": (
            [PYTHON, str(ENTRYPOINT), "--help"],
            plain,
        ),
        "`python entrypoint.py --help` as the Docker image runs it (no `__pycache__` for "
        "the action's code, `PYTHONDONTWRITEBYTECODE=1`)": (
            [PYTHON, str(image / "entrypoint.py"), "--help"],
            no_bytecode,
        ),
    }
    variants = {
        name: (lambda argv=argv, env=env: run_process(argv, env=env).seconds * 1000)
        for name, (argv, env) in commands.items()
    }
    runs = alternate(variants, ctx.runs(30))
    names = list(commands)
    bare = median(runs[names[0]])
    table = Table(
        "Start-up",
        f"Wall time of each command as a new process, medians of {len(runs[names[0]])} "
        "runs, alternated.",
        ["command", "time (median)", "over bare", "target"],
    )
    for index, name in enumerate(names):
        ms = median(runs[name])
        target = ""
        if index == 1:
            target = verdict(
                ms - bare <= IMPORT_BUDGET_MS, f"<= {IMPORT_BUDGET_MS:.0f} ms over bare"
            )
        table.add(name, f"{ms:.0f} ms", "" if index == 0 else f"{ms - bare:+.0f} ms", target)
    table.notes.append(
        "Largest imports of `entrypoint.py --help` (`-X importtime`, cumulative): "
        + _largest_imports()
    )
    return table


def _image_copy(ctx: Context) -> Path:
    """entrypoint.py and the package, without bytecode, as the Dockerfile copies them."""
    image = ctx.work / "image"
    shutil.rmtree(image, ignore_errors=True)
    image.mkdir(parents=True)
    shutil.copy2(ENTRYPOINT, image / "entrypoint.py")
    shutil.copytree(
        ROOT / "playcanvas_backup",
        image / "playcanvas_backup",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return image


def _largest_imports(runs: int = 5, shown: int = 6) -> str:
    """The packages whose import takes longest, medians over a few runs (cumulative: a
    package includes the packages it is the first to import)."""
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        completed = subprocess.run(
            [PYTHON, "-X", "importtime", str(ENTRYPOINT), "--help"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        for match in re.finditer(PACKAGE_LINE, completed.stderr, re.M):
            times[match.group(2)].append(int(match.group(1)) / 1000)
    ranked = sorted(times.items(), key=lambda item: -median(item[1]))[:shown]
    return ", ".join(f"`{name}` {median(ms):.0f} ms" for name, ms in ranked)
