"""The download phase alone, as a process of its own:

    python -m bench.fetch URL DESTINATION [--no-verify]

times ``playcanvas_backup.download.download(...)`` (verify on, as the action's default,
unless ``--no-verify``) from the first request to the archive renamed into place, and
prints the seconds and the SHA-256 as one JSON line. Interpreter start-up and imports are
not in the time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from playcanvas_backup import http
from playcanvas_backup.download import download


def main(argv: list[str]) -> int:
    url, destination, *options = argv
    verify = "--no-verify" not in options
    with http.session() as session:
        started = time.perf_counter()
        archive = download(lambda: url, Path(destination), session=session, verify_zip=verify)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "sha256": archive.sha256, "size": archive.size}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
