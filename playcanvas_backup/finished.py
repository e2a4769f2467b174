"""A finished archive's record: the file, its size and SHA-256, as any destination takes it.

A destination (the artifact upload, S3) needs only this, not how the archive was fetched
or encrypted. :func:`measure` makes one from a file already on disk (a restore, a bench).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FinishedArchive:
    """A verified file at its final path (a ``.zip``, or its ``.age``)."""

    path: Path
    #: Lower-case hex SHA-256 of the file's bytes.
    sha256: str
    size: int


def measure(path: Path) -> FinishedArchive:
    """The record of the file at ``path``, read once."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FinishedArchive(path, digest.hexdigest(), size)
