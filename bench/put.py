"""Our artifact upload alone, as a process of its own:

    python -m bench.put ARCHIVE NAME SHA256 CRC32 [--parallel]
    python -m bench.put noop

with the runner's artifact variables in the environment (``ResultsService.env()`` of the
results-service double). Builds the ``ArtifactUploader`` as the action does (defaults:
no retention, no overwrite) and uploads ``ARCHIVE`` as the artifact ``NAME``; the SHA-256
and CRC-32 are given, as the real action has them from its download pass. Times the
upload call alone (CreateArtifact, the blocks, FinalizeArtifact) and prints the seconds
and the artifact id as one JSON line. Interpreter start-up and imports are not in the
time: every module the upload uses is imported before the clock starts, as the official
client's modules are loaded before its upload.

Against Azurite on loopback the uploader stages its blocks one at a time, as against any
host but Azure's blob hosts (GitHub's storage); ``--parallel`` makes it upload as it does
there (``PARALLEL_BLOCKS`` blocks at once). ``noop`` does everything but the upload
(start-up, the same imports), to measure what the process costs before it uploads anything.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from playcanvas_backup.artifact import ArtifactUploader, blob
from playcanvas_backup.config import ArtifactRuntime
from playcanvas_backup.download import Archive


def main(argv: list[str]) -> int:
    if argv == ["noop"]:
        print(json.dumps({"seconds": 0.0}))
        return 0
    path, name, sha256, crc32, *options = argv
    if "--parallel" in options:
        # Every host name ends with "": the uploader takes Azurite for Azure's blob hosts.
        blob.PARALLEL_HOST_SUFFIXES = ("",)
    env = os.environ
    runtime = ArtifactRuntime(
        runtime_token=env["ACTIONS_RUNTIME_TOKEN"],
        results_url=env["ACTIONS_RESULTS_URL"],
        retention_cap_days=None,
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        repository=env.get("GITHUB_REPOSITORY", ""),
        run_id=env.get("GITHUB_RUN_ID", ""),
    )
    archive = Archive(Path(path), sha256, Path(path).stat().st_size, int(crc32))
    ignore = lambda message: None  # noqa: E731
    upload = ArtifactUploader(
        runtime,
        retention_days=None,
        overwrite=False,
        mask=ignore,
        mask_url=ignore,
        log=ignore,
        warn=ignore,
    )
    started = time.perf_counter()
    artifact_id, _ = upload(archive, name)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "artifact_id": artifact_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
