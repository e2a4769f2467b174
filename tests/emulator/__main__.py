"""``.venv/bin/python -m tests.emulator``: the PlayCanvas API emulator on loopback, until
Ctrl-C, to try ``playcanvas-backup`` (a backup, a dry run, ``doctor``) without a
PlayCanvas account. It answers as PlayCanvas does, with a few projects and an account
that lists them; the first line it prints is the ``api-url`` to pass."""

from __future__ import annotations

import signal
import sys

from .server import Emulator

ACCOUNT = 98765
PROJECTS = {123456: "Racing game", 234567: "Menu prototype"}


def main() -> int:
    emulator = Emulator()
    emulator.add_project(123456, branches=("main", "feature/x"), archive_size=2 << 20)
    emulator.add_organization(ACCOUNT, PROJECTS, name="Emulated Studio")
    with emulator:
        print(emulator.api_url, flush=True)
        print(
            "The PlayCanvas API emulator is running on loopback (Ctrl-C stops it). "
            "In another shell:\n"
            f"  export PLAYCANVAS_ACCESS_TOKEN={emulator.token}\n"
            f"  playcanvas-backup --api-url {emulator.api_url} --project-id 123456 "
            "--all-branches\n"
            f"  playcanvas-backup --api-url {emulator.api_url} --user-id {ACCOUNT} --dry-run\n"
            f"  playcanvas-backup doctor --api-url {emulator.api_url} --user-id {ACCOUNT}\n"
            "(or .venv/bin/python entrypoint.py in place of playcanvas-backup). Projects: "
            "123456 (branches main, feature/x) and 234567 (main), both listed by account "
            f"{ACCOUNT}.",
            file=sys.stderr,
            flush=True,
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
