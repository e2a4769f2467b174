"""Check a zip archive: every member's data must inflate to what its central directory
promises (CRC-32 and size), with bounded memory and work, whatever the archive claims.

Two ways to the same verdicts as ``zipfile.ZipFile.testzip``:

* :class:`ZipStream` follows the archive as its bytes arrive (the downloader feeds it on
  its worker thread): each local header, the member's data through its CRC-32 (inflated
  when compressed), then the central directory. It keeps no per-member state: a running
  digest of what the local headers and the data said is compared with the same digest
  of what the central directory says. When they agree, the archive is verified without
  reading it again.
* :func:`check_file` reads the archive from disk, driven by its central directory, one
  entry at a time. The downloader uses it only when a single pass could not prove the
  archive good: a layout it does not follow (a stored member with a data descriptor,
  whose end cannot be found without the central directory; an encrypted member; data
  before the first member; unknown records) or any disagreement (a failed CRC, a
  truncated archive, a damaged directory), so that the verdict and the member it names
  are the ones a full read gives.

Zip bombs: both refuse an archive whose declared uncompressed total is beyond
:class:`Limits` for its size, or that has too many members, before inflating it, and
never inflate a member past its declared size. See :class:`Limits` for the numbers.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from struct import Struct
from typing import BinaryIO, Protocol

from .errors import VerificationFailed
from .units import human_size

# The records of the zip format (APPNOTE.TXT 4.3), little-endian, signature first.
LOCAL_HEADER = Struct(
    "<4sHHHHHIIIHH"
)  # version, flags, method, time, date, crc, sizes, name, extra
CENTRAL_HEADER = Struct("<4sBBBBHHHHIIIHHHHHII")  # ... disk, attributes, local header offset
END_RECORD = Struct("<4sHHHHIIH")  # disks, entries, directory size and offset, comment
ZIP64_END_RECORD = Struct("<4sQHHIIQQQQ")  # record size, versions, disks, entries, size, offset
ZIP64_LOCATOR = Struct("<4sIQI")
EXTRA_HEADER = Struct("<HH")  # id, size
U16, U32, U64 = Struct("<H"), Struct("<I"), Struct("<Q")

LOCAL_SIG, CENTRAL_SIG = b"PK\x03\x04", b"PK\x01\x02"
END_SIG, ZIP64_END_SIG, ZIP64_LOCATOR_SIG = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
DESCRIPTOR_SIG = b"PK\x07\x08"
ZIP64_EXTRA = 0x0001
MAX_COMMENT = 0xFFFF
FLAG_ENCRYPTED, FLAG_DESCRIPTOR, FLAG_PATCH, FLAG_STRONG = 0x1, 0x8, 0x20, 0x40
FLAG_UTF8 = 0x800
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
#: zipfile refuses members that need a later version of the format to extract.
MAX_EXTRACT_VERSION = 63
#: Inflate at most this much at a time (bounded memory whatever the ratio).
OUT_STEP = 1 << 20
#: Reading the archive back: bytes per read.
READ_STEP = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What an archive may claim before it is refused as a zip bomb.

    How these were chosen: a PlayCanvas export is mostly compressed assets (PNG, JPEG,
    GLB, audio: about 1:1) with some JSON and scripts (5-20:1 under deflate), so a real
    project's uncompressed total is a few times its archive size. ``ratio`` allows 100
    times (deflate's own ceiling is about 1032:1; bzip2's is far higher, which is how a
    175 KB archive can declare 200 GiB), and any archive may declare ``floor`` whatever
    its size, so a small text-heavy project is never refused. ``total`` caps the work
    outright: 64 GiB inflate in about two minutes on one core. ``members``: each member
    costs at least 76 bytes of headers, so the count is bounded by the size anyway; the
    cap bounds the per-member work (a few microseconds each) far above any project's
    asset count.
    """

    ratio: int = 100
    floor: int = 1 << 30
    total: int = 64 << 30
    members: int = 1_000_000

    def uncompressed(self, archive_size: int) -> int:
        """The most uncompressed data an archive of this size may declare."""
        return min(self.total, max(self.floor, self.ratio * archive_size))

    def check(self, *, declared: int, members: int, archive_size: int) -> None:
        """Refuse (VerificationFailed) an archive that declares more than it may."""
        if members > self.members:
            raise VerificationFailed(
                f"The archive has more than {self.members:,} members; refusing to check it "
                "(a zip bomb?). It was not kept."
            )
        allowed = self.uncompressed(archive_size)
        if declared > allowed:
            raise VerificationFailed(
                f"The archive declares more than {human_size(declared)} of uncompressed data "
                f"in {human_size(archive_size)} (at most {self.ratio} times its size, at "
                f"least {human_size(self.floor)}, never over {human_size(self.total)}); "
                "refusing to check it (a zip bomb?). It was not kept."
            )


LIMITS = Limits()

#: Called often while checking (each member, each inflated step): raises to stop the
#: check (a deadline), may log progress. Gets the members checked and bytes inflated.
Tick = Callable[[int, int], None]


def _no_tick(members: int, inflated: int) -> None:
    """No deadline, no progress."""


def unreadable(reason: str) -> VerificationFailed:
    return VerificationFailed(
        f"The archive is not a readable zip ({reason}); it was not kept. "
        "Run the backup again; if it repeats, export the project "
        "from the PlayCanvas dashboard to compare."
    )


def bad_member(name: str) -> VerificationFailed:
    return VerificationFailed(
        f"The archive's member '{name}' fails its CRC check; the "
        "archive was not kept. Run the backup again."
    )


def shown_name(raw: bytes, flags: int) -> str:
    """A member name as a message may show it: decoded, no control characters, capped."""
    text = raw.decode("utf-8" if flags & FLAG_UTF8 else "cp437", errors="replace")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 200 else text[:200] + "..."


# -- inflating one member -------------------------------------------------------------------


class _Decompressor(Protocol):
    """What zlib's, bz2's and lzma's decompressors share (``max_length`` bounds output)."""

    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes | memoryview, max_length: int = ..., /) -> bytes: ...


class _Unsupported(Exception):
    """A member this checker cannot read (zipfile raises NotImplementedError for these)."""


class _Member:
    """One member's data as it goes by: its CRC-32 over the inflated bytes and their size.

    Output beyond ``limit`` (the member's declared size) is never produced: the member is
    marked ``overflowed`` and the rest of its data only counted.
    """

    def __init__(self, method: int, limit: int, tick: Tick, members: int) -> None:
        self.method, self.limit, self._tick, self._members = method, limit, tick, members
        self.crc = 0
        self.size = 0  # inflated bytes so far
        self.consumed = 0  # compressed bytes so far
        self.overflowed = False
        self._lzma_header = b""
        self._inflater: _Decompressor | None = None
        if method == DEFLATED:
            self._inflater = zlib.decompressobj(-15)
        elif method == BZIP2:
            self._inflater = bz2.BZ2Decompressor()
        elif method not in (STORED, LZMA):
            raise _Unsupported(f"compression method {method} is not supported")

    @property
    def eof(self) -> bool:
        return self._inflater is not None and self._inflater.eof

    @property
    def unused(self) -> bytes:
        return self._inflater.unused_data if self._inflater is not None else b""

    def feed(self, data: memoryview) -> None:
        self.consumed += len(data)
        if self.method == STORED:
            self._out(data)
            return
        if self._inflater is None:  # LZMA: its properties come first
            data = self._lzma_start(data)
            if self._inflater is None:
                return
        inflater = self._inflater
        pending: bytes | memoryview = data
        while not (self.overflowed or inflater.eof):
            out = inflater.decompress(pending, OUT_STEP)
            self._out(memoryview(out))
            self._tick(self._members, self.size)
            needs_input = getattr(inflater, "needs_input", None)
            if needs_input is None:  # zlib: what it could not take yet waits in the tail
                pending = getattr(inflater, "unconsumed_tail", b"")
                if not pending and len(out) < OUT_STEP:
                    return
            elif needs_input:  # bz2, lzma: they keep their own input
                return
            else:
                pending = b""

    def _out(self, data: memoryview) -> None:
        room = self.limit - self.size
        if len(data) > room:
            data, self.overflowed = data[: max(room, 0)], True
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)

    def _lzma_start(self, data: memoryview) -> memoryview:
        """Take the LZMA header (version, properties size, 5 bytes of properties) off the
        front of the data; start the inflater once it is complete."""
        taken = data[: 9 - len(self._lzma_header)]
        self._lzma_header += bytes(taken)
        if len(self._lzma_header) >= 4 and U16.unpack_from(self._lzma_header, 2)[0] != 5:
            raise _Unsupported("LZMA properties of an unexpected size")
        if len(self._lzma_header) < 9:
            return data[len(taken) :]
        props = self._lzma_header[4:9]
        lc_lp_pb, dict_size = props[0], U32.unpack_from(props, 1)[0]
        if lc_lp_pb >= 9 * 5 * 5:
            raise _Unsupported("LZMA properties out of range")
        lc, lp, pb = lc_lp_pb % 9, (lc_lp_pb // 9) % 5, lc_lp_pb // 45
        self._inflater = lzma.LZMADecompressor(
            lzma.FORMAT_RAW,
            filters=[
                {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
            ],
        )
        return data[len(taken) :]


def _zip64_values(extra: bytes, wanted: list[bool]) -> list[int | None]:
    """The zip64 extra field's values for the fields marked wanted (in order), or None
    for each that it does not give."""
    found: list[int | None] = [None] * len(wanted)
    position = 0
    while position + 4 <= len(extra):
        kind, length = EXTRA_HEADER.unpack_from(extra, position)
        body = extra[position + 4 : position + 4 + length]
        if position + 4 + length > len(extra):
            raise ValueError(f"corrupt extra field {kind:04x}")
        if kind == ZIP64_EXTRA:
            offset = 0
            for index, want in enumerate(wanted):
                if want:
                    if offset + 8 > len(body):
                        raise ValueError("corrupt zip64 extra field")
                    found[index] = U64.unpack_from(body, offset)[0]
                    offset += 8
        position += 4 + length
    return found


# -- one pass as the bytes arrive -----------------------------------------------------------


class _Unproven(Exception):
    """A single pass cannot prove this archive good: read it back (check_file)."""


#: One member's record for the digests: offset, method, crc, compressed and real sizes.
_RECORD = Struct("<QHIQQH")


class ZipStream:
    """Follow a zip as its bytes go by (``feed`` them in order, then ``finish``).

    ``size`` is the whole archive's size when known (for the bomb limits). ``feed`` raises
    VerificationFailed only for a bomb; everything else a single pass cannot vouch for
    ends in ``finish() == False``: the caller then reads the file back with check_file.
    """

    def __init__(self, *, size: int | None, limits: Limits = LIMITS, tick: Tick = _no_tick):
        self._size, self._limits, self._tick = size, limits, tick
        self._fed = 0
        self._back = bytearray()  # bytes taken past what the parser has used (a pushback)
        self._local = hashlib.sha256()
        self._central = hashlib.sha256()
        self._members = self._entries = 0
        self._declared = self._inflated = 0
        #: Why a single pass could not prove the archive good (None: not so far).
        self.unproven: str | None = None
        self._done = False
        self._parser = self._parse()
        self._want = next(self._parser)

    def feed(self, data: memoryview) -> None:
        if self.unproven is not None:
            return
        if self._done and data:
            self.unproven = "bytes after the end record"
            return
        try:
            while data and not self._done:
                piece, data = data[: self._want], data[self._want :]
                self._fed += len(piece)
                self._want = self._parser.send(piece)
        except StopIteration:
            self._done = True
            if data:
                self.unproven = "bytes after the end record"
        except (_Unproven, _Unsupported, ValueError, zlib.error, lzma.LZMAError, OSError) as exc:
            self.unproven = str(exc) or type(exc).__name__
        except VerificationFailed:
            self.unproven = "refused"
            raise

    def finish(self) -> bool:
        """True when the archive is proven good; False when it must be read back."""
        if self.unproven is None and (not self._done or self._back):
            self.unproven = "the archive ended before its end record"
        return self.unproven is None

    # The parser is a generator: it yields how many bytes it wants next (at most) and is
    # sent a memoryview of 1 to that many bytes.

    @property
    def _position(self) -> int:
        """The offset in the archive of the next byte the parser takes."""
        return self._fed - len(self._back)

    def _take(self, most: int) -> Generator[int, memoryview, memoryview]:
        if self._back:
            piece = memoryview(bytes(self._back[:most]))
            del self._back[:most]
            return piece
        return (yield most)

    def _exactly(self, count: int) -> Generator[int, memoryview, bytes]:
        parts = bytearray()
        while len(parts) < count:
            parts += yield from self._take(count - len(parts))
        return bytes(parts)

    def _parse(self) -> Generator[int, memoryview, None]:
        signature = yield from self._exactly(4)
        if signature not in (LOCAL_SIG, END_SIG):
            raise _Unproven("data before the first member")
        while signature == LOCAL_SIG:
            yield from self._member()
            signature = yield from self._exactly(4)
        central_start = self._position - 4
        while signature == CENTRAL_SIG:
            yield from self._entry()
            signature = yield from self._exactly(4)
        central_size = self._position - 4 - central_start
        zip64: tuple[int, int, int] | None = None
        if signature == ZIP64_END_SIG:
            zip64 = yield from self._zip64_end()
            signature = yield from self._exactly(4)
        if signature != END_SIG:
            raise _Unproven("an unexpected record after the central directory")
        record = END_SIG + (yield from self._exactly(END_RECORD.size - 4))
        _, disk, disk_start, _, entries, size, offset, comment = END_RECORD.unpack(record)
        if zip64 is not None:
            entries, size, offset = zip64
        elif disk or disk_start:
            raise _Unproven("a multi-disk archive")
        if (entries, size, offset) != (self._entries, central_size, central_start):
            raise _Unproven("the end record disagrees with the central directory")
        if self._entries != self._members or self._local.digest() != self._central.digest():
            raise _Unproven("the central directory disagrees with the members")
        if comment:
            yield from self._exactly(comment)

    def _member(self) -> Generator[int, memoryview, None]:
        """One local header (its signature taken) and the member's data."""
        offset = self._position - 4
        header = LOCAL_SIG + (yield from self._exactly(LOCAL_HEADER.size - 4))
        fields = LOCAL_HEADER.unpack(header)
        flags, method, csize, usize, name_len, extra_len = (*fields[2:4], *fields[7:11])
        name = yield from self._exactly(name_len)
        extra = yield from self._exactly(extra_len)
        if flags & (FLAG_ENCRYPTED | FLAG_PATCH | FLAG_STRONG):
            raise _Unproven("an encrypted or patched member")
        wide = _zip64_values(extra, [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF])
        usize = wide[0] if wide[0] is not None else usize
        csize = wide[1] if wide[1] is not None else csize
        self._members += 1
        if flags & FLAG_DESCRIPTOR:
            if method == STORED:
                raise _Unproven("a stored member with a data descriptor (its size is unknown)")
            member = _Member(method, self._allowance(), self._tick, self._members)
            yield from self._until_end(member)
            self._declare(member.size)
        else:
            self._declare(usize)
            member = _Member(method, usize, self._tick, self._members)
            left = csize
            while left:
                piece = yield from self._take(min(left, READ_STEP))
                member.feed(piece)
                left -= len(piece)
        if method != STORED and not member.eof:
            raise _Unproven("a member's compressed data ends early")
        self._inflated += member.size
        record = _RECORD.pack(offset, method, member.crc, member.consumed, member.size, name_len)
        self._local.update(record + name)
        self._tick(self._members, self._inflated)

    def _until_end(self, member: _Member) -> Generator[int, memoryview, None]:
        """The data of a member whose sizes follow it (in a data descriptor): inflate until
        its stream ends, then take the descriptor."""
        while not member.eof:
            member.feed((yield from self._take(READ_STEP)))
            if member.overflowed:
                raise _Unproven("a member inflates beyond what the archive may declare")
        unused = member.unused
        member.consumed -= len(unused)
        self._back[:0] = unused
        # [signature] crc, compressed size, size: 4 or 8 bytes each. At least an end record
        # (22 bytes) follows, so 28 bytes are always there in a whole archive.
        rest = yield from self._exactly(28)
        sizes = (member.consumed, member.size)
        for start in (4, 0) if rest[:4] == DESCRIPTOR_SIG else (0,):
            for unpack in (U32, U64):
                crc = U32.unpack_from(rest, start)[0]
                compressed = unpack.unpack_from(rest, start + 4)[0]
                inflated = unpack.unpack_from(rest, start + 4 + unpack.size)[0]
                end = start + 4 + 2 * unpack.size
                if (crc, compressed, inflated) == (member.crc, *sizes) and rest[end:][:2] == b"PK":
                    self._back[:0] = rest[end:]
                    return
        raise _Unproven("a data descriptor that does not match its member")

    def _entry(self) -> Generator[int, memoryview, None]:
        """One central directory entry (its signature taken)."""
        header = CENTRAL_SIG + (yield from self._exactly(CENTRAL_HEADER.size - 4))
        fields = CENTRAL_HEADER.unpack(header)
        extract_version, flags, method = fields[3], fields[5], fields[6]
        crc, csize, usize, name_len, extra_len, comment_len = fields[9:15]
        offset = fields[18]
        name = yield from self._exactly(name_len)
        extra = yield from self._exactly(extra_len)
        yield from self._exactly(comment_len)
        if extract_version > MAX_EXTRACT_VERSION or flags & FLAG_ENCRYPTED:
            raise _Unproven("a member zipfile would not read")
        if flags & FLAG_UTF8:
            name.decode("utf-8")  # a ValueError: unproven, and check_file says why
        wanted = [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, offset == 0xFFFFFFFF]
        wide = _zip64_values(extra, wanted)
        usize = wide[0] if wide[0] is not None else usize
        csize = wide[1] if wide[1] is not None else csize
        offset = wide[2] if wide[2] is not None else offset
        self._entries += 1
        if self._entries > self._limits.members:
            self._limits.check(declared=0, members=self._entries, archive_size=0)
        self._central.update(_RECORD.pack(offset, method, crc, csize, usize, name_len) + name)

    def _zip64_end(self) -> Generator[int, memoryview, tuple[int, int, int]]:
        """The zip64 end record and its locator (the record's signature taken)."""
        record = ZIP64_END_SIG + (yield from self._exactly(ZIP64_END_RECORD.size - 4))
        fields = ZIP64_END_RECORD.unpack(record)
        size, disk, disk_start, entries, cd_size, cd_offset = (
            *fields[1:2],
            *fields[4:6],
            *fields[7:],
        )
        if size != ZIP64_END_RECORD.size - 12 or disk or disk_start:
            raise _Unproven("a zip64 end record this pass does not follow")
        signature = yield from self._exactly(4)
        if signature != ZIP64_LOCATOR_SIG:
            raise _Unproven("no zip64 locator after the zip64 end record")
        locator = signature + (yield from self._exactly(ZIP64_LOCATOR.size - 4))
        _, disk, _, disks = ZIP64_LOCATOR.unpack(locator)
        if disk or disks > 1:
            raise _Unproven("a multi-disk archive")
        return entries, cd_size, cd_offset

    def _declare(self, size: int) -> None:
        self._declared += size
        self._limits.check(
            declared=self._declared, members=self._members, archive_size=self._archive_size()
        )

    def _allowance(self) -> int:
        return max(0, self._limits.uncompressed(self._archive_size()) - self._declared)

    def _archive_size(self) -> int:
        return self._size if self._size is not None else self._fed


# -- reading the archive back, one central directory entry at a time ------------------------


@dataclass(frozen=True)
class _Entry:
    name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int


def check_file(path: Path, *, limits: Limits = LIMITS, tick: Tick = _no_tick) -> None:
    """Read every member of the zip at ``path`` and check its CRC-32, as testzip does,
    holding one central directory entry at a time. Raises VerificationFailed."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        start, length, count, concat = _directory(file, size)
        if count > limits.members:
            limits.check(declared=0, members=count, archive_size=size)
        declared = 0
        for members, entry in enumerate(_entries(file, start, length), 1):
            declared += entry.usize
            limits.check(declared=declared, members=members, archive_size=size)
            tick(0, 0)
        inflated = 0
        for index, entry in enumerate(_entries(file, start, length), 1):
            inflated += _check_member(file, entry, concat, tick, index)
            tick(index, inflated)


def _directory(file: BinaryIO, size: int) -> tuple[int, int, int, int]:
    """(start, size, entries, concat) of the central directory, found as zipfile does."""
    tail_size = min(size, END_RECORD.size + MAX_COMMENT)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(END_SIG)
    if at < 0 or len(tail) - at < END_RECORD.size:
        raise unreadable("File is not a zip file")
    end_offset = size - tail_size + at
    _, _, _, _, entries, cd_size, cd_offset, _ = END_RECORD.unpack_from(tail, at)
    zip64 = False
    if end_offset >= ZIP64_LOCATOR.size:
        file.seek(end_offset - ZIP64_LOCATOR.size)
        locator = file.read(ZIP64_LOCATOR.size)
        signature, disk, _, disks = ZIP64_LOCATOR.unpack(locator)
        if signature == ZIP64_LOCATOR_SIG:
            if disk or disks > 1:
                raise unreadable("zipfiles that span multiple disks are not supported")
            record_at = end_offset - ZIP64_LOCATOR.size - ZIP64_END_RECORD.size
            if record_at >= 0:
                file.seek(record_at)
                record = ZIP64_END_RECORD.unpack(file.read(ZIP64_END_RECORD.size))
                if record[0] == ZIP64_END_SIG:
                    entries, cd_size, cd_offset, zip64 = record[7], record[8], record[9], True
    concat = end_offset - cd_size - cd_offset
    if zip64:
        concat -= ZIP64_END_RECORD.size + ZIP64_LOCATOR.size
    start = cd_offset + concat
    if start < 0:
        raise unreadable("Bad offset for central directory")
    return start, cd_size, entries, concat


def _entries(file: BinaryIO, start: int, length: int) -> Iterator[_Entry]:
    """The central directory's entries, read one at a time."""
    position = start
    while position - start < length:
        file.seek(position)
        header = file.read(CENTRAL_HEADER.size)
        if len(header) != CENTRAL_HEADER.size or position - start + len(header) > length:
            raise unreadable("Truncated central directory")
        fields = CENTRAL_HEADER.unpack(header)
        if fields[0] != CENTRAL_SIG:
            raise unreadable("Bad magic number for central directory")
        name_len, extra_len, comment_len = fields[12:15]
        name = file.read(name_len)
        extra = file.read(extra_len)
        if len(name) != name_len or len(extra) != extra_len:
            raise unreadable("Truncated central directory")
        flags, crc, csize, usize, offset = fields[5], fields[9], fields[10], fields[11], fields[18]
        if fields[3] > MAX_EXTRACT_VERSION:
            raise unreadable(f"zip file version {fields[3] / 10:.1f}")
        if flags & FLAG_UTF8:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise unreadable("a member name is not valid UTF-8") from exc
        try:
            wanted = [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, offset == 0xFFFFFFFF]
            wide = _zip64_values(extra, wanted)
        except ValueError as exc:
            raise unreadable(str(exc)) from exc
        yield _Entry(
            name,
            flags,
            fields[6],
            crc,
            wide[1] if wide[1] is not None else csize,
            wide[0] if wide[0] is not None else usize,
            wide[2] if wide[2] is not None else offset,
        )
        position += CENTRAL_HEADER.size + name_len + extra_len + comment_len


def _check_member(file: BinaryIO, entry: _Entry, concat: int, tick: Tick, index: int) -> int:
    """Check one member as testzip does; returns the bytes it inflated to."""
    name = shown_name(entry.name, entry.flags)
    file.seek(entry.offset + concat)
    header = file.read(LOCAL_HEADER.size)
    # testzip reports a member whose local header is damaged by its name, as a CRC failure.
    if len(header) != LOCAL_HEADER.size:
        raise bad_member(name)
    fields = LOCAL_HEADER.unpack(header)
    if fields[0] != LOCAL_SIG:
        raise bad_member(name)
    local_name = file.read(fields[9])
    file.seek(fields[10], 1)
    if fields[2] & FLAG_PATCH or fields[2] & FLAG_STRONG:
        raise unreadable("compressed patched data or strong encryption is not supported")
    if local_name != entry.name:
        raise bad_member(name)
    if entry.flags & FLAG_ENCRYPTED:
        raise unreadable(f"member '{name}' is encrypted")
    try:
        member = _Member(entry.method, entry.usize, tick, index)
        left = entry.csize
        while left and not member.eof and not member.overflowed:
            data = file.read(min(left, READ_STEP))
            if not data:
                raise unreadable("EOFError")
            left -= len(data)
            member.feed(memoryview(data))
    except _Unsupported as exc:
        raise unreadable(str(exc)) from exc
    except (zlib.error, lzma.LZMAError, OSError, ValueError) as exc:
        raise unreadable(f"{type(exc).__name__}: {exc}") from exc
    if member.crc != entry.crc:
        raise bad_member(name)
    return member.size
