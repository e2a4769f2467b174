"""Early writeback: a file being written goes to disk as it grows, not all at the end.

The one place that decides how: :class:`Writeback` starts writing each new stretch of a
file to disk (Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which returns at once;
elsewhere ``fdatasync`` on a worker thread), so that the final ``fsync`` before a rename
has little left to wait for. The download and the encryption both use it.

>>> with open(path, "wb") as file:  # doctest: +SKIP
...     writeback = Writeback(file.fileno())
...     file.write(data); file.flush(); writeback.written(len(data))
...     writeback.sync()
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

#: Start writing back every this many bytes written.
EVERY = 8 << 20


class Writeback:
    """Writeback of one file descriptor's bytes as they are written (see the module)."""

    def __init__(self, fd: int, *, every: int = EVERY) -> None:
        self._fd, self._every = fd, every
        self._started = 0
        self._range = _sync_file_range()
        self._worker: ThreadPoolExecutor | None = None
        self._syncing: Future[None] | None = None

    def restart(self) -> None:
        """The file was truncated: count from its start again."""
        self._started = 0

    def written(self, size: int) -> None:
        """The file now holds ``size`` bytes (flushed from any buffer of the caller's):
        start writing the new ones back once there are enough of them."""
        if size - self._started < self._every:
            return
        if self._range is not None:
            self._range(self._fd, self._started, size - self._started)
        elif self._syncing is None or self._syncing.done():
            self._wait()
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, "writeback")
            self._syncing = self._worker.submit(os.fdatasync, self._fd)
        else:
            return
        self._started = size

    def sync(self) -> None:
        """Everything written is on disk (``fsync``); raises what the writeback raised."""
        self._wait()
        os.fsync(self._fd)

    def close(self) -> None:
        """Stop the worker thread, if there is one (waits for its ``fdatasync``)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)

    def _wait(self) -> None:
        if self._syncing is not None:
            syncing, self._syncing = self._syncing, None
            syncing.result()  # an I/O error of the writeback is the writer's


@functools.cache
def _sync_file_range() -> Callable[[int, int, int], None] | None:
    """``sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE)``: start writing those
    bytes to disk now, without waiting (Linux only; None elsewhere)."""
    try:
        import ctypes  # noqa: PLC0415 (only writers need it; keeps start-up quick)

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    write = 2  # SYNC_FILE_RANGE_WRITE

    def start_writeback(fd: int, offset: int, count: int) -> None:
        function(fd, offset, count, write)  # a failure only means no early writeback

    return start_writeback
