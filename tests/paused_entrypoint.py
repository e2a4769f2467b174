"""``tests/fast_entrypoint.py`` made to stop at one phase of an encrypted backup, for the
kill tests. With ``PAUSE_AT=<phase>`` and ``PAUSE_MARKER=<file>`` in its environment, the
run writes the marker file when it reaches the phase and sleeps there until it is killed
(or signalled):

* ``verifying``: the archive is downloaded and its zip check (zipfile's verdict on the
  finished file) is under way;
* ``verified``: the archive is downloaded and verified, still at its temporary name; the
  encryption has not started;
* ``encrypting``: age has written the first piece of the ``.age`` part file;
* ``renamed``: the ``.age`` file is in place, the plaintext not removed yet.

The product has no such switch: this file wraps some of its functions before it runs.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def pause(phase: str) -> None:
    Path(os.environ["PAUSE_MARKER"]).write_text(phase)
    time.sleep(120)


def install(phase: str) -> None:
    from playcanvas_backup import encrypt  # noqa: PLC0415 - after sys.path is set
    from playcanvas_backup.download import fetch  # noqa: PLC0415

    if phase == "verifying":
        check_file = fetch.check_file  # type: ignore[attr-defined]

        def paused_check(*args: Any, **kwargs: Any) -> Any:
            pause(phase)
            return check_file(*args, **kwargs)

        fetch.check_file = paused_check  # type: ignore[attr-defined]
    elif phase == "verified":
        encrypt_archive = encrypt.encrypt_archive

        def paused_encrypt(*args: Any, **kwargs: Any) -> Any:
            pause(phase)
            return encrypt_archive(*args, **kwargs)

        encrypt.encrypt_archive = paused_encrypt
    elif phase == "encrypting":
        write = encrypt._Written._write

        def paused_write(self: Any, data: bytes) -> int:
            count = write(self, data)
            pause(phase)
            return count

        encrypt._Written._write = paused_write  # type: ignore[method-assign]
    elif phase == "renamed":
        move_into_place = encrypt.move_into_place  # type: ignore[attr-defined]

        def paused_move(part: Path, destination: Path) -> None:
            move_into_place(part, destination)
            pause(phase)

        encrypt.move_into_place = paused_move  # type: ignore[attr-defined]
    else:
        raise SystemExit(f"unknown PAUSE_AT phase {phase!r}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    install(os.environ["PAUSE_AT"])
    runpy.run_path(str(ROOT / "tests" / "fast_entrypoint.py"), run_name="__main__")
