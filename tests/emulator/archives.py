"""Real zip archives for the emulator: a project.json plus incompressible asset files."""

from __future__ import annotations

import bz2
import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def make_archive(path: Path, *, size: int, label: str) -> Path:
    """Write a valid zip of roughly ``size`` bytes (stored members of random bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("project.json", json.dumps({"name": label, "emulated": True}))
        remaining, index = max(size - 512, 0), 0
        while remaining > 0:
            member = min(remaining, 64 * _CHUNK)
            with archive.open(f"assets/{index}.bin", "w", force_zip64=True) as out:
                left = member
                while left > 0:
                    out.write(os.urandom(min(left, _CHUNK)))
                    left -= _CHUNK
            remaining -= member
            index += 1
    return path


def corrupt_copy(source: Path, target: Path) -> Path:
    """A copy of ``source`` with one byte of member data flipped (its CRC no longer matches)."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.infolist()[-1]
    # The member's data starts after its local header (30 bytes + name + extra).
    header = data[info.header_offset : info.header_offset + 30]
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    data[start] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


# -- crafted archives for the zip check: layouts and lies zipfile's writer does not make ----


class _Unseekable(io.RawIOBase):
    """An output zipfile cannot seek back in: it writes data descriptors after members."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.data += data
        return len(data)


def zip_bytes(
    members: dict[str, bytes],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    streamed: bool = False,
    zip64: bool = False,
) -> bytes:
    """A zip of ``members``; ``streamed``: written as to a pipe (sizes in data descriptors
    after each member, as streaming writers do); ``zip64``: zip64 records throughout."""
    out: io.BytesIO | _Unseekable = _Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(data)
    return bytes(out.data) if isinstance(out, _Unseekable) else out.getvalue()


def data_start(archive: bytes, index: int) -> int:
    """Where member ``index``'s data starts (after its local header)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        info = opened.infolist()[index]
    offset = info.header_offset
    name_length = int.from_bytes(archive[offset + 26 : offset + 28], "little")
    extra_length = int.from_bytes(archive[offset + 28 : offset + 30], "little")
    return offset + 30 + name_length + extra_length


LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sBBBBHHHHIIIHHHHHII")
END = struct.Struct("<4sHHHHIIH")
ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<4sIQI")


def declared_bomb(members: int, *, declared: int, method: int = zipfile.ZIP_BZIP2) -> bytes:
    """``members`` members whose headers each declare ``declared`` uncompressed bytes, with
    a few bytes of data each: a bomb's headers without its payload (a few KB)."""
    data = bz2.compress(b"") if method == zipfile.ZIP_BZIP2 else zlib.compress(b"")[2:-4]
    return _raw_zip(
        [(f"{i}.bin".encode(), method, 0, data, declared) for i in range(members)],
    )


def empty_members(count: int) -> bytes:
    """``count`` empty stored members, written record by record (fast for many)."""
    return _raw_zip([(f"{i}".encode(), zipfile.ZIP_STORED, 0, b"", 0) for i in range(count)])


def _raw_zip(members: list[tuple[bytes, int, int, bytes, int]]) -> bytes:
    """A zip from (name, method, crc, data, declared size), no zip64 (so: small)."""
    local, central = bytearray(), bytearray()
    for name, method, crc, data, size in members:
        offset = len(local)
        fields = (20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0)
        local += LOCAL.pack(b"PK\x03\x04", *fields) + name + data
        central += CENTRAL.pack(b"PK\x01\x02", 20, 3, 20, 0, *fields[1:], 0, 0, 0, 0, offset) + name
    count = len(members)
    if count <= 0xFFFF:
        end = END.pack(b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
        return bytes(local + central + end)
    # Too many for the end record's 16-bit counts: the zip64 end record carries them.
    at = len(local) + len(central)
    zip64 = ZIP64_END.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), len(local))
    locator = ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, at, 1)
    end = END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(central), len(local), 0)
    return bytes(local + central + zip64 + locator + end)
