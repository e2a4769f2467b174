"""Artifact upload: PLACEHOLDER until playcanvas_backup/artifact/ lands.

To fill it in, replace the body of :func:`upload` (keep its signature): start Azurite
(tests/node), upload ``ctx.bytes(ctx.size(256 * MIB))`` bytes once with our client and
once with the official ``@actions/artifact`` client against the same Azurite, alternating
``ctx.runs(5)`` times with :func:`bench.measure.alternate`, and add one row per client
(time, throughput, peak RSS from :func:`bench.measure.run_process`).
"""

from __future__ import annotations

from bench.context import Context
from bench.measure import MIB
from bench.table import Table

SIZE = 256 * MIB


def upload(ctx: Context) -> Table:
    table = Table(
        f"Artifact upload: {ctx.size(SIZE) // MIB} MiB archive (placeholder)",
        "Not measured yet: the artifact upload (playcanvas_backup/artifact/) is being built. "
        "This row will compare it with the official `@actions/artifact` client on the same "
        "Azurite (see bench/upload.py).",
        ["what", "time (median)", "throughput", "peak RSS", "target"],
    )
    table.add("our upload (`playcanvas_backup/artifact/`)", "-", "-", "-", "not measured yet")
    table.add("`@actions/artifact` (official, Node.js)", "-", "-", "-", "not measured yet")
    return table
