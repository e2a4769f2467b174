"""Real zip archives for the emulator: a project.json plus incompressible asset files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

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
