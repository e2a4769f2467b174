"""Azurite and the results-service double (tests/artifact_service.py) in a process of
their own, so that neither their memory nor the double's check of each upload counts in the
bench's process (whose peak RSS every process it starts would otherwise inherit):

    python -m bench.artifacts

prints one JSON line (``env``: the runner's artifact variables for a client) and serves
until its stdin closes; then prints a second JSON line: every artifact finalized (name ->
blob size), the seconds the double spent checking each one in FinalizeArtifact (it reads
the whole blob back from Azurite and hashes it, inside the client's upload), and the
problems the double found. The SAS URLs point at Azurite itself (no recording proxy).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.measure import ROOT, stop_helper


@dataclass
class Artifacts:
    """The running service process: ``env`` for the clients; ``finish()`` stops it."""

    env: dict[str, str]
    _process: subprocess.Popen[str]
    finalized: dict[str, int] = field(default_factory=dict)
    finalize_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@contextmanager
def artifact_service() -> Iterator[Artifacts]:
    """Start the process; after the block, its report is in the yielded object."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.artifacts"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the bench artifact service (Azurite, the double) did not start")
        service = Artifacts(dict(json.loads(line)["env"]), process)
        yield service
        process.stdin.close()
        report = json.loads(process.stdout.readline() or "{}")
        service.finalized = {str(k): int(v) for k, v in report.get("finalized", {}).items()}
        service.finalize_seconds = {
            str(k): float(v) for k, v in report.get("finalize_seconds", {}).items()
        }
        service.problems = [str(p) for p in report.get("problems", ["no report"])]
    finally:
        stop_helper(process)


def main() -> int:
    # Imported here: the bench's own process imports this module only for
    # artifact_service(), which starts this one as a process of its own.
    from tests.artifact_service import ResultsService, azurite  # noqa: PLC0415

    finalize_seconds: dict[str, float] = {}

    class TimedService(ResultsService):
        """The double, timing its FinalizeArtifact check."""

        def _finalize(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            started = time.perf_counter()
            try:
                return super()._finalize(body)
            finally:
                finalize_seconds[str(body.get("name"))] = time.perf_counter() - started

    with azurite() as account_url, TimedService(account_url) as double:
        print(json.dumps({"env": double.env()}), flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
        report = {
            "finalized": {
                name: artifact.size
                for name, artifact in double.artifacts.items()
                if artifact.finalized
            },
            "finalize_seconds": finalize_seconds,
            "problems": double.problems,
        }
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
