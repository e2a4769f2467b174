"""Memory: the action's peak RSS is the same for any archive size (it streams)."""

from __future__ import annotations

import functools

from bench.context import Context
from bench.measure import MIB, alternate, median, mib, settle
from bench.table import Table, verdict

SIZES = (16 * MIB, 256 * MIB, 1024 * MIB)
#: "Flat": the peak RSS may differ by at most this much between the sizes.
FLAT = 4 * MIB
#: And it stays under this at every size (issue 12).
CEILING = 48 * MIB


def memory(ctx: Context) -> Table:
    sizes = [ctx.TINY] + [ctx.size(size) for size in SIZES]

    def run(size: int) -> tuple[int, float]:
        measured = ctx.run_action(size, "memory")
        return measured.max_rss, measured.seconds

    runs = alternate(
        {str(size): functools.partial(run, size) for size in sizes},
        ctx.runs(3),
        before_each=settle,
    )
    table = Table(
        "Memory: peak RSS of the action's process",
        f"`entrypoint.py` in a process of its own, as the runner starts it (export job "
        f"complete at once, verify on, no upload); peak RSS from `wait4`'s rusage, which "
        f"counts only that process (the emulator runs in another). Medians of "
        f"{len(runs[str(sizes[0])])} runs per size, alternated.",
        ["archive", "peak RSS (median)", "range", "time (median)", "target"],
    )
    peaks = {size: median([rss for rss, _ in runs[str(size)]]) for size in sizes}
    measured = [peaks[size] for size in sizes[1:]]
    spread = max(measured) - min(measured)
    for size in sizes:
        values = runs[str(size)]
        bytes_ = ctx.bytes(size)
        name = f"{bytes_ >> 10} KiB (baseline)" if size == ctx.TINY else mib(bytes_)
        table.add(
            name,
            mib(peaks[size]),
            f"{mib(min(r for r, _ in values))} - {mib(max(r for r, _ in values))}",
            f"{median([s for _, s in values]):.2f} s",
            verdict(peaks[size] < CEILING, f"under {mib(CEILING)}"),
        )
    table.add(
        f"spread over {', '.join(mib(ctx.bytes(s)) for s in sizes[1:])}",
        mib(spread),
        "",
        "",
        verdict(spread <= FLAT, f"within {mib(FLAT)}"),
    )
    return table
