"""Download an archive from its signed URL: received into a few fixed buffers, written,
hashed and zip-checked in the same pass, resumed on faults, and only then moved into place.

Three rooms: :mod:`.transfer` (the bytes: buffers, worker threads, writeback),
:mod:`.urls` (where the download may go: the URL safety checks) and :mod:`.resume` (what
each answer means for the bytes on file); :mod:`.fetch` runs the attempts. ``fetch``
(and with it ``requests``) is imported on first use, so that the settings can ask
:func:`is_loopback` without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .urls import is_loopback, resolve_host

if TYPE_CHECKING:
    from .fetch import MAX_ATTEMPTS, Archive, download

__all__ = ["MAX_ATTEMPTS", "Archive", "download", "is_loopback", "resolve_host"]


def __getattr__(name: str) -> Any:
    if name in {"MAX_ATTEMPTS", "Archive", "download"}:
        from . import fetch  # noqa: PLC0415 - on first use

        return getattr(fetch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
