"""Download an archive from its signed URL: received into a few fixed buffers, written,
hashed and zip-checked in the same pass, resumed on faults, and only then moved into place.

Three rooms: :mod:`.transfer` (the bytes: buffers, worker threads, writeback),
:mod:`.urls` (where the download may go: the URL safety checks) and :mod:`.resume` (what
each answer means for the bytes on file); :mod:`.fetch` runs the attempts.
"""

from __future__ import annotations

from .fetch import MAX_ATTEMPTS, Archive, download
from .urls import is_loopback, resolve_host

__all__ = ["MAX_ATTEMPTS", "Archive", "download", "is_loopback", "resolve_host"]
