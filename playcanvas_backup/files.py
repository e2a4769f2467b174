"""Files written the safe way: a private ``.part`` file beside the target, renamed into
place only when it is whole (shared by the download and the encryption)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def move_into_place(part: Path, destination: Path) -> None:
    """Give the finished (and fsynced) ``part`` file the mode any new file would get,
    rename it to ``destination`` and make the rename durable.

    ``mkstemp`` makes part files private (0600); an archive must be readable by later
    steps (the runner's own user, outside the container).
    """
    part.chmod(0o666 & ~_umask())
    part.replace(destination)
    with contextlib.suppress(OSError):
        fd = os.open(destination.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
