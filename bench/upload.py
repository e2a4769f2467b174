"""Artifact upload: ours (``playcanvas_backup/artifact/``) against the official
``@actions/artifact`` client, uploading the same archive to the same Azurite.

Every upload runs in a process of its own (started by bench/launch.py, so its peak RSS is
its own); Azurite and the results-service double run in another (bench/artifacts.py), and
each run uploads under a fresh artifact name. Ours is ``python -m bench.put``, which times
the upload inside its process; the official is ``node tests/node/peer.mjs upload``, timed
around its process, and its upload time is that minus Node's start-up, measured by a run
of ``node bench/official.mjs noop`` (the same modules loaded, a client made, nothing sent).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.artifacts import artifact_service
from bench.context import Context
from bench.measure import MIB, PYTHON, ROOT, alternate, median, mib, rate, run_process, settle
from bench.table import Table, verdict
from tests.emulator.archives import make_archive

SIZE = 256 * MIB
NODE_DIR = ROOT / "tests" / "node"
NEEDED = (
    NODE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js",
    NODE_DIR / "node_modules" / "@actions" / "artifact" / "lib" / "artifact.js",
)
PEER = NODE_DIR / "peer.mjs"
OFFICIAL = ROOT / "bench" / "official.mjs"
COLUMNS = [
    "what",
    "time (median)",
    "range",
    "throughput",
    "x official",
    "x official, level 0",
    "whole process",
    "peak RSS",
    "CPU s",
    "target",
]


@dataclass(frozen=True)
class Run:
    name: str  # the artifact's name ("" for a no-op run)
    seconds: float  # the upload: timed in the process (ours) or the whole process (node)
    process: float  # the whole process, start to end
    max_rss: int
    cpu: float


def upload(ctx: Context) -> Table:
    size = ctx.size(SIZE)
    node = shutil.which("node")
    table = Table(
        f"Artifact upload: {mib(size)} archive, ours against `@actions/artifact`",
        "",
        COLUMNS,
    )
    if node is None or not all(path.exists() for path in NEEDED):
        why = (
            "no Node.js"
            if node is None
            else "no tests/node/node_modules: `npm ci --prefix tests/node`"
        )
        table.how = f"Not measured ({why}): Azurite and the official client run on Node.js."
        table.add("our upload", *["-"] * 8, f"not measured ({why})")
        table.add("`@actions/artifact` (official)", *["-"] * 8, f"not measured ({why})")
        return table

    folder = ctx.work / "upload"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Named as the action names its archives; random (incompressible) members, like a
    # PlayCanvas archive of textures and models. Made and hashed untimed.
    archive = make_archive(
        folder / "123456-main-20261129T063000Z.zip", size=size, label="upload bench"
    )
    nbytes, sha256, crc32 = _digest(archive)
    names = itertools.count(1)

    with artifact_service() as service:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder)}
        env |= service.env
        node_env = env | {"RUNNER_TEMP": str(folder), "GITHUB_WORKSPACE": str(folder)}

        def ours(*options: str) -> Callable[[], Run]:
            def run() -> Run:
                name = f"ours-{next(names)}"
                argv = [PYTHON, "-m", "bench.put", str(archive), name, sha256, str(crc32)]
                measured = run_process([*argv, *options], env=env)
                inside = float(json.loads(measured.stdout)["seconds"])
                return Run(name, inside, measured.seconds, measured.max_rss, measured.cpu_seconds)

            return run

        def official(*script: str) -> Callable[[], Run]:
            def run() -> Run:
                name = f"official-{next(names)}"
                argv = [node, *script[:2], name, str(archive), *script[2:]]
                measured = run_process(argv, env=node_env, cwd=folder)
                if "RESULT " not in measured.stdout:
                    raise RuntimeError(f"the official client said: {measured.stdout[-500:]}")
                return Run(
                    name, measured.seconds, measured.seconds, measured.max_rss, measured.cpu_seconds
                )

            return run

        def noop(*argv: str) -> Callable[[], Run]:
            def run() -> Run:
                measured = run_process(argv, env=node_env, cwd=ROOT)
                return Run("", 0.0, measured.seconds, measured.max_rss, measured.cpu_seconds)

            return run

        runs = alternate(
            {
                "ours": ours(),
                "ours parallel": ours("--parallel"),
                "official": official(str(PEER), "upload"),
                "official level 0": official(str(OFFICIAL), "upload", "0"),
                "node start-up": noop(node, str(OFFICIAL), "noop"),
                "python start-up": noop(PYTHON, "-m", "bench.put", "noop"),
            },
            ctx.runs(5),
            before_each=settle,
        )
    uploaded = [run.name for name, rs in runs.items() for run in rs if run.name]
    if service.problems or sorted(service.finalized) != sorted(uploaded):
        raise RuntimeError(
            f"the results-service double saw problems: {service.problems}, finalized "
            f"{sorted(service.finalized)} of {sorted(uploaded)}"
        )
    return _table(table, ctx, runs, service.finalize_seconds, nbytes)


def _table(
    table: Table,
    ctx: Context,
    runs: dict[str, list[Run]],
    checked: dict[str, float],
    nbytes: int,
) -> Table:
    node_startup = median([r.process for r in runs["node start-up"]])
    # The official client's upload: its process minus Node's start-up.
    net = {
        name: [r.seconds - node_startup for r in runs[name]]
        for name in ("official", "official level 0")
    }
    upload_time = {
        "ours": [r.seconds for r in runs["ours"]],
        "ours parallel": [r.seconds for r in runs["ours parallel"]],
        **net,
    }

    def ratio(base: str, name: str, *, without_check: bool = False) -> float:
        """Median over the rounds of the base's time over this row's, in the same round
        (alternation makes the pair see the same noise)."""
        pairs = zip(runs[base], upload_time[base], runs[name], upload_time[name], strict=True)
        return median(
            [
                (base_s - checked[base_run.name] * without_check)
                / (seconds - checked[run.name] * without_check)
                for base_run, base_s, run, seconds in pairs
            ]
        )

    count = len(runs["ours"])
    table.how = (
        f"The same {mib(nbytes)} archive (random, incompressible members; its SHA-256 and "
        "CRC-32 computed beforehand, untimed, as the action has them from its download) "
        "uploaded as a new artifact by each client in a process of its own, against one "
        "Azurite and the results-service double (tests/artifact_service.py; Azurite's SAS "
        "URLs, no proxy), both in another process, on loopback; a fresh artifact name per "
        f"run. Medians of {count} runs per row, the rows' runs alternated, `sync` before "
        "each (untimed). **time**: ours timed inside its process (`ArtifactUploader`: "
        "CreateArtifact, the blocks, FinalizeArtifact; not Python's start-up and imports); "
        "the official client (`node tests/node/peer.mjs upload`, @actions/artifact "
        "defaults: zip at compression level 6, 8 MiB blocks, 5 at once) timed around its "
        "process, minus Node's start-up (the median of the no-op row)."
    )
    rows = [
        (
            "ours",
            "**ours, one block at a time** (how the action uploads to any host but GitHub's "
            "storage, so to this Azurite)",
        ),
        (
            "ours parallel",
            "**ours, 5 blocks at once** (how it uploads to GitHub's storage; `bench.put "
            "--parallel`)",
        ),
        ("official", "`@actions/artifact` (official, `peer.mjs`), minus Node start-up"),
        (
            "official level 0",
            "`@actions/artifact` with `compressionLevel: 0` (for reference: no deflate; "
            "`bench/official.mjs`), minus Node start-up",
        ),
    ]
    for name, label in rows:
        times = upload_time[name]
        seconds = median(times)
        ours = name.startswith("ours")
        x_official = ratio("official", name)
        target = ""
        if ours:
            target = verdict(x_official >= 1.0, "at least as fast as the official client")
        table.add(
            label,
            f"{seconds:.2f} s",
            f"{min(times):.2f}-{max(times):.2f} s",
            rate(nbytes, seconds),
            f"{x_official:.2f}",
            f"{ratio('official level 0', name):.2f}",
            f"{median([r.process for r in runs[name]]):.2f} s",
            mib(median([r.max_rss for r in runs[name]])),
            f"{median([r.cpu for r in runs[name]]):.2f}",
            target,
        )
    for name, label in (
        ("node start-up", "Node start-up: `node bench/official.mjs noop` (loads the client)"),
        ("python start-up", "Python start-up: `python -m bench.put noop` (the same imports)"),
    ):
        table.add(
            label,
            "",
            "",
            "",
            "",
            "",
            f"{median([r.process for r in runs[name]]):.2f} s",
            mib(median([r.max_rss for r in runs[name]])),
            f"{median([r.cpu for r in runs[name]]):.2f}",
            "",
        )
    check = {
        name: median([checked[r.name] for r in runs[name]])
        for name in ("ours", "ours parallel", "official", "official level 0")
    }
    table.notes += [
        "x official: the median over the rounds of the official client's time divided by "
        "the row's time in the same round (above 1: faster than the official client); "
        "x official, level 0: the same against the level-0 row. Throughput: the archive's "
        "size over the row's median time.",
        "Every time includes the double's own check in FinalizeArtifact, the same for both "
        "clients: it reads the whole blob back from Azurite and hashes it (median "
        + ", ".join(f"{check[name]:.2f} s {label}" for name, label in _CHECK_LABELS)
        + "). Without it, ours one block at a time is "
        f"{ratio('official', 'ours', without_check=True):.2f}x and 5 at once "
        f"{ratio('official', 'ours parallel', without_check=True):.2f}x the official "
        f"client's speed ({ratio('official level 0', 'ours', without_check=True):.2f}x and "
        f"{ratio('official level 0', 'ours parallel', without_check=True):.2f}x level 0's).",
        "whole process: the process from start to end, start-up included (nothing "
        "subtracted); peak RSS and CPU s: the process's own (`wait4`), start-up included; "
        "Azurite and the double run elsewhere and are not counted.",
        "The official client deflates the archive (level 6 unless told otherwise: "
        "`actions/upload-artifact`'s `compression-level` input), which buys nothing on an "
        "archive of compressed assets; ours stores it in the artifact's zip as it is.",
    ]
    if ctx.quick:
        table.notes.append("--quick: a try-out, not for publishing.")
    return table


_CHECK_LABELS = (
    ("ours", "ours"),
    ("ours parallel", "ours 5 at once"),
    ("official", "official"),
    ("official level 0", "level 0"),
)


def _digest(path: Path) -> tuple[int, str, int]:
    """Size, SHA-256 and CRC-32 of the file (what the download pass gives the action)."""
    sha256, crc32, size = hashlib.sha256(), 0, 0
    with path.open("rb") as data:
        while chunk := data.read(MIB):
            sha256.update(chunk)
            crc32 = zlib.crc32(chunk, crc32)
            size += len(chunk)
    return size, sha256.hexdigest(), crc32
