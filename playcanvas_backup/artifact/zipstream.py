"""A zip with one stored member, produced while it is read: the artifact's blob.

``actions/download-artifact`` and GitHub's web UI unpack an artifact's zip, so the
PlayCanvas archive goes in as one stored (uncompressed) member and comes back out byte
for byte. Its CRC-32 and size are known from the download, so the local header carries
them (no data descriptor, which streaming unzippers handle badly) and the archive is
read exactly once, straight into the upload.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import BinaryIO

_ZIP64_LIMIT = 0xFFFFFFFF - (1 << 16)  # leave room for the headers before the directory
_VERSION = 45  # 4.5: zip64 capable
_UTF8_NAME = 0x0800
_MADE_BY_UNIX = 3 << 8
_REGULAR_FILE_0644 = 0o100644 << 16


class StoredZip:
    """Read a zip of one stored member (``name``) whose data is ``size`` bytes of ``data``.

    >>> import io, zipfile, zlib
    >>> blob = StoredZip(io.BytesIO(b"hi"), name="a.txt", size=2, crc32=zlib.crc32(b"hi"))
    >>> zipfile.ZipFile(io.BytesIO(blob.read(blob.length))).read("a.txt")
    b'hi'
    """

    def __init__(
        self,
        data: BinaryIO,
        *,
        name: str,
        size: int,
        crc32: int,
        modified: datetime | None = None,
        zip64: bool | None = None,
    ) -> None:
        self._data = data
        self._left = size
        zip64 = size >= _ZIP64_LIMIT if zip64 is None else zip64
        self._head, central = _headers(
            name.encode(), size, crc32, modified or datetime.now(), zip64=zip64
        )
        directory_at = len(self._head) + size
        self._tail = central + _end_records(len(central), directory_at, zip64=zip64)
        self.length = len(self._head) + size + len(self._tail)

    def read(self, n: int) -> bytes:
        """Up to ``n`` next bytes of the zip (fewer only at its end)."""
        if not self._head and self._left >= n:
            # Between the headers, a block is the archive's own bytes: hand them on as
            # read, without copying them again.
            chunk = self._data.read(n)
            if len(chunk) != n:
                raise OSError("the archive is shorter than when it was downloaded")
            self._left -= n
            return chunk
        out = bytearray()
        if self._head:
            out += self._head[:n]
            self._head = self._head[n:]
        while len(out) < n and self._left:
            chunk = self._data.read(min(n - len(out), self._left))
            if not chunk:
                raise OSError("the archive is shorter than when it was downloaded")
            out += chunk
            self._left -= len(chunk)
        if len(out) < n and not self._left:
            wanted = n - len(out)
            out += self._tail[:wanted]
            self._tail = self._tail[wanted:]
        return bytes(out)


def _headers(
    encoded: bytes, size: int, crc32: int, moment: datetime, *, zip64: bool
) -> tuple[bytes, bytes]:
    """The member's local header and its central-directory entry."""
    dos_time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    dos_date = (max(moment.year, 1980) - 1980) << 9 | (moment.month << 5) | moment.day
    small = 0xFFFFFFFF if zip64 else size
    extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
    common = struct.pack(
        "<HHHHHIII", _VERSION, _UTF8_NAME, 0, dos_time, dos_date, crc32 & 0xFFFFFFFF, small, small
    )
    local = (
        struct.pack("<I", 0x04034B50)
        + common
        + struct.pack("<HH", len(encoded), len(extra))
        + encoded
        + extra
    )
    central = (
        struct.pack("<IH", 0x02014B50, _MADE_BY_UNIX | _VERSION)
        + common
        + struct.pack("<HHHHHII", len(encoded), len(extra), 0, 0, 0, _REGULAR_FILE_0644, 0)
        + encoded
        + extra
    )
    return local, central


def _end_records(central_size: int, directory_at: int, *, zip64: bool) -> bytes:
    """The end of central directory record (with zip64's record and locator first)."""
    tail = b""
    if zip64:
        record_at = directory_at + central_size
        tail += struct.pack(
            "<IQHHIIQQQQ",
            0x06064B50,
            44,
            _MADE_BY_UNIX | _VERSION,
            _VERSION,
            0,
            0,
            1,
            1,
            central_size,
            directory_at,
        )
        tail += struct.pack("<IIQI", 0x07064B50, 0, record_at, 1)
    return tail + struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        0,
        0,
        1,
        1,
        central_size,
        0xFFFFFFFF if zip64 else directory_at,
        0,
    )
