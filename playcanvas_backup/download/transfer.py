"""The transfer: the bytes of one archive received into a few fixed buffers, written,
hashed and zip-checked in the same pass.

This thread receives into one of ``BUFFERS`` preallocated buffers (at most one ``recv``
per read, so the deadline is looked at between reads), writes it with ``os.pwrite`` and
hands the same buffer to two worker threads: one hashes (SHA-256), the other follows the
zip (:class:`~..zipcheck.ZipStream`: each member's CRC-32, inflating compressed members)
and computes the whole file's CRC-32 when asked. A buffer is reused once both are done
with it, so memory stays flat whatever the archive's size. Writeback to disk starts as the
bytes arrive (:class:`~..writeback.Writeback`), so that the final ``fsync`` has little
left to wait for.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import requests

from ..deadline import Deadline
from ..errors import DownloadFailed
from ..writeback import Writeback
from ..zipcheck import Limits, ZipStream

#: Bytes per buffer: large enough that Python's per-read overhead vanishes (a loopback
#: ``recv`` fills one in a call or two), small enough that the workers read a buffer while
#: it is still in the CPU's cache. Measured on the 2-core bench machine: 512 KiB gave
#: steady times; 1 MiB and 4 MiB buffers ran up to 1.7x slower in some runs.
CHUNK_SIZE = 512 << 10
#: How many buffers (4 MiB in all): how far the workers may lag behind the transfer.
BUFFERS = 8
#: Start writing back to disk every this many bytes received.
WRITEBACK_EVERY = 8 << 20


class Transfer:
    """The bytes received so far: written to the file, and handed (the same buffers) to
    the hashing thread and the checking thread. What has been received is always on file
    (``size`` counts it), for a resume to start there."""

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        want_crc32: bool,
        verify_zip: bool,
        limits: Limits,
        deadline: Deadline,
    ) -> None:
        """The transfer into ``fd`` (the file at ``path``), which it closes at the end of
        its ``with`` block, with its two worker threads."""
        self.fd, self.path = fd, path
        self.want_crc32, self.verify_zip = want_crc32, verify_zip
        #: The archive's whole size, once a header declared it.
        self.total: int | None = None
        self._limits, self._deadline = limits, deadline
        self._hasher = ThreadPoolExecutor(1, "download-hash")
        self._checker = ThreadPoolExecutor(1, "download-check")
        self._buffers = [memoryview(bytearray(CHUNK_SIZE)) for _ in range(BUFFERS)]
        self._users: list[list[Future[None]]] = [[] for _ in range(BUFFERS)]
        self._next = 0
        self._writeback = Writeback(fd, every=WRITEBACK_EVERY)
        self.restart()

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._hasher.shutdown(wait=True)
            self._checker.shutdown(wait=True)
        finally:
            os.close(self.fd)

    def restart(self) -> None:
        """Forget every byte: the next ones are the archive's first."""
        self.finish()
        os.ftruncate(self.fd, 0)
        self._sha256 = hashlib.sha256()
        self._crc32 = 0
        self._zip: ZipStream | None = None
        self.size = 0
        self._writeback.restart()

    def receive(self, response: requests.Response, on_buffer: Callable[[], None]) -> None:
        """Receive the body into the buffers until it ends (``on_buffer`` after each)."""
        length = self.total - self.size if self.total is not None else None
        read_into = _body_reader(response, length, self._deadline)
        ended = False
        while not ended:
            buffer, filled = self._buffer(), 0
            try:
                while filled < CHUNK_SIZE:
                    self._deadline.check("The archive's download")
                    count = read_into(buffer[filled:])
                    if not count:
                        ended = True
                        break
                    filled += count
            finally:
                # What arrived before a fault is kept: a resume starts after it.
                if filled:
                    self._commit(buffer, filled)
            on_buffer()

    def finish(self) -> None:
        """Until every byte received so far is hashed and checked (raises what they raised)."""
        for index in range(BUFFERS):
            users, self._users[index] = self._users[index], []
            for user in users:
                user.result()

    def sync(self) -> Future[None]:
        """Every byte received to disk, on a worker thread (the future says when)."""
        return self._hasher.submit(self._writeback.sync)

    def zip_stream(self) -> ZipStream | None:
        """What the single pass over the zip found (None: it did not run)."""
        return self._zip

    def sha256_hex(self) -> str:
        return self._sha256.hexdigest()

    def crc32(self) -> int:
        return self._crc32

    def _buffer(self) -> memoryview:
        """The next free buffer to receive into (waits until the workers are done with it)."""
        users, self._users[self._next] = self._users[self._next], []
        for user in users:
            user.result()
        return self._buffers[self._next]

    def _commit(self, buffer: memoryview, count: int) -> None:
        """``count`` bytes were received into ``buffer``: write them and hand them on."""
        data = buffer[:count]
        try:
            written = 0
            while written < count:
                written += os.pwrite(self.fd, data[written:], self.size + written)
        except OSError as exc:  # a full disk, say: final, unlike a network fault
            raise write_failed(self.path.parent, exc) from exc
        if self.size == 0 and self.verify_zip:
            self._zip = ZipStream(size=self.total, limits=self._limits, tick=self._tick)
        self.size += count
        self._users[self._next] = [self._hasher.submit(self._sha256.update, data)]
        if self._zip is not None or self.want_crc32:
            self._users[self._next].append(self._checker.submit(self._check, data))
        self._next = (self._next + 1) % BUFFERS
        self._writeback.written(self.size)

    def _check(self, data: memoryview) -> None:
        """On the checking thread, one buffer after the other."""
        if self.want_crc32:
            self._crc32 = zlib.crc32(data, self._crc32)
        if self._zip is not None:
            self._zip.feed(data)

    def _tick(self, members: int, inflated: int) -> None:
        self._deadline.check("The archive's zip check")


#: The longest a read of the body may block, seconds: a stalled transfer is retried.
READ_TIMEOUT = 60.0


def _body_reader(
    response: requests.Response, length: int | None, deadline: Deadline
) -> Callable[[memoryview], int]:
    """A function that receives at most ``len(view)`` body bytes into ``view`` (0 at the
    end) with at most one ``recv``.

    The first read goes through urllib3's public ``read1``: it returns the body bytes
    ``http.client`` buffered with the headers, or one read of the socket, and leaves that
    buffer empty. A body with a length or none (ended by the connection's close) is then
    received straight into the buffers from the connection's socket (urllib3's public
    ``HTTPResponse.connection``, ``http.client``'s ``sock``): ``read1`` would allocate
    and copy every piece again, which made the download half as fast. A chunked body
    goes through ``read1`` throughout. The socket's timeout is the deadline's
    (:meth:`Deadline.timeout`). The body is never read past its length, so the
    connection is left as HTTP expects."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    direct = sock is not None and not getattr(raw, "chunked", True)
    left = length
    first = True

    def read_into(view: memoryview) -> int:
        nonlocal left, first
        if left is not None:
            view = view[:left]
            if not view:
                return 0
        if sock is not None and deadline.left() < READ_TIMEOUT:
            sock.settimeout(deadline.timeout(READ_TIMEOUT))
        if direct and not first and sock is not None:
            count: int = sock.recv_into(view)
        else:
            data = raw.read1(len(view))
            count = len(data)
            view[:count] = data
            first = False
        if left is not None:
            left -= count
        return count

    return read_into


def write_failed(directory: Path, exc: OSError) -> DownloadFailed:
    return DownloadFailed(
        f"Writing the archive in {directory} failed ({exc.strerror or exc}); nothing was kept. "
        "Free some disk space or choose another 'path', then run the backup again."
    )
