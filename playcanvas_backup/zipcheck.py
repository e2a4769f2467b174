"""Check a zip archive: verified means Python's ``zipfile`` reads it, member by member,
and finds every member's CRC-32 and sizes right, with bounded memory and work.

The verdict is the standard reader's. :func:`check_file` opens the finished file with
``zipfile`` (its end record search and central directory parse, the only directory parser
here), adds the refusals of current CPython that older 3.x releases lack (see
"Backported checks" below), has ``zipfile`` decode every member's local header as it does
before reading (signature, name and its UTF-8 flag, flag bits 5 and 6, encryption,
method), and then needs every member's data to inflate to exactly its declared size with
its CRC-32. Anything ``zipfile`` raises on the way (``BadZipFile``, ``OSError``,
``NotImplementedError``, ``RuntimeError``, ``EOFError``, decompressor errors, ...) is a
:class:`~.errors.VerificationFailed` naming the reason, never a disk error.

The data need not be read twice. :class:`ZipStream` follows the archive as its bytes
arrive (the downloader feeds it on a worker thread): each local header, then the member's
data through its CRC-32 (inflated when compressed). It keeps a running digest of what it
checked: each member's offset, data offset, method, sizes and CRC-32. :func:`check_file`
computes the same digest from ``zipfile``'s reading of the central directory; when the
two agree (same members, same byte ranges, same method, sizes and CRC), the single pass
checked exactly what ``zipfile`` would read, and the data is not read again. Any
difference, or a layout the single pass does not follow (a stored member with a data
descriptor, an encrypted member, bytes before the first member), means reading the data
back, as ``zipfile`` locates it.

Where this is stricter than ``zipfile`` (it would accept, we refuse): a compressed member
whose stream does not end exactly where its compressed size says, or that inflates to
another size than declared; a directory that lists no members while bytes precede it;
overlapping entries even when they share one local header (CPython 3.14 only warns);
zip64 "extensible data" (only Python 3.14 reads it); an LZMA dictionary over the cap; the
bomb limits of :class:`Limits`. ``tests/fuzz_zip.py`` compares both verdicts on mutated
archives (``make fuzz``).

Backported checks (what ``zipfile`` of current CPython refuses and 3.11.7 does not):

* overlapping entries (gh-109858, 3.11.8 / 3.12.2): a member's data must end before the
  next local header (or the central directory) begins;
* the zip64 end records' consistency (gh-139700, 3.14.1 / 3.13.9): the locator must point
  at a zip64 end record whose directory ends where it begins, of the size it states;
* a malformed Info-ZIP Unicode Path extra field (0x7075, 3.14): too short, or not UTF-8
  while it claims to be the name's.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from struct import Struct
from typing import BinaryIO, NamedTuple, Protocol

from .errors import BackupError, VerificationFailed
from .units import human_size
from .untrusted import clean

# -- the records of the zip format (APPNOTE.TXT 4.3), little-endian, signature first --------

LOCAL_SIG, CENTRAL_SIG = b"PK\x03\x04", b"PK\x01\x02"
END_SIG, ZIP64_END_SIG, ZIP64_LOCATOR_SIG = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
DESCRIPTOR_SIG = b"PK\x07\x08"


class LocalHeader(NamedTuple):
    signature: bytes
    version: int
    flags: int
    method: int
    time: int
    date: int
    crc: int
    compressed_size: int
    size: int
    name_length: int
    extra_length: int


class CentralHeader(NamedTuple):
    signature: bytes
    made_by_version: int
    made_by_system: int
    version: int
    system: int
    flags: int
    method: int
    time: int
    date: int
    crc: int
    compressed_size: int
    size: int
    name_length: int
    extra_length: int
    comment_length: int
    disk: int
    internal_attributes: int
    external_attributes: int
    header_offset: int


class EndRecord(NamedTuple):
    signature: bytes
    disk: int
    directory_disk: int
    disk_entries: int
    entries: int
    directory_size: int
    directory_offset: int
    comment_length: int


class Zip64EndRecord(NamedTuple):
    signature: bytes
    record_size: int  # of what follows this field: 44 and any extensible data
    made_by_version: int
    version: int
    disk: int
    directory_disk: int
    disk_entries: int
    entries: int
    directory_size: int
    directory_offset: int


class Zip64Locator(NamedTuple):
    signature: bytes
    disk: int
    record_offset: int
    disks: int


class DataDescriptor(NamedTuple):
    """After a member's data when flag bit 3 is set (its signature is optional)."""

    crc: int
    compressed_size: int
    size: int


LOCAL_HEADER = Struct("<4sHHHHHIIIHH")
CENTRAL_HEADER = Struct("<4sBBBBHHHHIIIHHHHHII")
END_RECORD = Struct("<4sHHHHIIH")
ZIP64_END_RECORD = Struct("<4sQHHIIQQQQ")
ZIP64_LOCATOR = Struct("<4sIQI")
DESCRIPTOR_32, DESCRIPTOR_64 = Struct("<III"), Struct("<IQQ")
EXTRA_HEADER = Struct("<HH")  # id, size
U16, U32, U64 = Struct("<H"), Struct("<I"), Struct("<Q")

ZIP64_EXTRA, UNICODE_PATH_EXTRA = 0x0001, 0x7075
MAX_COMMENT = 0xFFFF
FLAG_ENCRYPTED, FLAG_DESCRIPTOR, FLAG_PATCH, FLAG_STRONG = 0x1, 0x8, 0x20, 0x40
FLAG_UTF8 = 0x800
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
#: Inflate at most this much at a time (bounded memory whatever the ratio).
OUT_STEP = 1 << 20
#: Reading the archive back: bytes per read.
READ_STEP = 1 << 20


def local_header(data: bytes, offset: int = 0) -> LocalHeader:
    return LocalHeader._make(LOCAL_HEADER.unpack_from(data, offset))


def central_header(data: bytes, offset: int = 0) -> CentralHeader:
    return CentralHeader._make(CENTRAL_HEADER.unpack_from(data, offset))


def end_record(data: bytes, offset: int = 0) -> EndRecord:
    return EndRecord._make(END_RECORD.unpack_from(data, offset))


def zip64_end_record(data: bytes, offset: int = 0) -> Zip64EndRecord:
    return Zip64EndRecord._make(ZIP64_END_RECORD.unpack_from(data, offset))


def zip64_locator(data: bytes, offset: int = 0) -> Zip64Locator:
    return Zip64Locator._make(ZIP64_LOCATOR.unpack_from(data, offset))


# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What an archive may claim before it is refused as a zip bomb.

    How these were chosen: a PlayCanvas export is mostly compressed assets (PNG, JPEG,
    GLB, audio: about 1:1) with some JSON and scripts (5-20:1 under deflate), and a
    member of zeros or a flat texture may reach deflate's own ceiling (about 1032:1).
    ``ratio`` is above that ceiling, so no deflated archive is ever refused for its ratio;
    only bzip2 and LZMA reach further (a 175 KB bzip2 archive can declare 200 GiB). Any
    archive may declare ``floor`` whatever its size, and ``total`` caps the work outright
    (64 GiB inflate in about a minute on one core; the archive's deadline bounds it too).
    The same rule holds with or without a ``Content-Length``: it is applied to the
    finished file. ``members`` bounds the per-member work, ``directory`` the memory
    ``zipfile`` takes for the central directory (about 400 bytes per entry: a crafted
    directory at the cap costs about 300 MB, a real project's 20,000 entries 8 MB).
    ``lzma_dictionary``: liblzma allocates the dictionary a member declares; 64 MiB is
    the largest any preset uses (``xz -9``, 7-Zip's ultra).
    """

    ratio: int = 1100
    floor: int = 4 << 30
    total: int = 64 << 30
    members: int = 1_000_000
    directory: int = 32 << 20
    lzma_dictionary: int = 64 << 20

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

    def check_directory(self, *, entries: int, size: int) -> None:
        """Refuse a central directory too large to parse in bounded memory."""
        if entries > self.members:
            self.check(declared=0, members=entries, archive_size=0)
        if size > self.directory:
            raise VerificationFailed(
                f"The archive's central directory is {human_size(size)} (at most "
                f"{human_size(self.directory)}); refusing to check it (a zip bomb?). "
                "It was not kept."
            )


LIMITS = Limits()

#: Called often while checking (each member, each inflated step): raises to stop the
#: check (the archive's deadline), may log progress. Gets the members checked and bytes
#: inflated so far.
Tick = Callable[[int, int], None]


def _no_tick(members: int, inflated: int) -> None:
    """No deadline, no progress."""


def unreadable(reason: str) -> VerificationFailed:
    return VerificationFailed(
        f"The archive is not a readable zip ({clean(reason)}); it was not kept. "
        "Run the backup again; if it repeats, export the project "
        "from the PlayCanvas dashboard to compare."
    )


def bad_member(name: str, what: str = "fails its CRC check") -> VerificationFailed:
    return VerificationFailed(
        f"The archive's member '{clean(name)}' {what}; the archive was not kept. "
        "Run the backup again."
    )


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


class _TooLarge(Exception):
    """A member that would need more memory than the limits allow."""


class _Member:
    """One member's data as it goes by: its CRC-32 over the inflated bytes and their size.

    Output beyond ``limit`` (the member's declared size) is never produced: the member is
    marked ``overflowed`` and the rest of its data only counted.
    """

    def __init__(self, method: int, limit: int, *, tick: Tick, members: int, limits: Limits):
        self.method, self.limit, self._tick, self._members = method, limit, tick, members
        self._max_dictionary = limits.lzma_dictionary
        self.crc = 0
        self.size = 0  # inflated bytes so far
        self.consumed = 0  # compressed bytes so far
        self.after_end = 0  # compressed bytes fed after the stream's end
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

    def complete(self, compressed_size: int, size: int, *, trailing: bool = False) -> bool:
        """Whether the data was exactly ``compressed_size`` bytes inflating to ``size``
        (``trailing``: bytes fed after the stream's end were given back)."""
        clean_end = trailing or not (self.unused or self.after_end)
        ended = self.method == STORED or (self.eof and clean_end)
        return (
            ended
            and not self.overflowed
            and (self.consumed, self.size)
            == (
                compressed_size,
                size,
            )
        )

    def feed(self, data: memoryview) -> None:
        self.consumed += len(data)
        if self.method == STORED:
            self._out(data)
            return
        if self.eof:
            self.after_end += len(data)
            return
        if self._inflater is None:  # LZMA: its properties come first
            data = self._lzma_start(data)
            if self._inflater is None:
                return
        self._inflate(self._inflater, data)

    def _inflate(self, inflater: _Decompressor, data: memoryview) -> None:
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
        if dict_size > self._max_dictionary:
            raise _TooLarge(
                f"an LZMA member declares a {human_size(dict_size)} dictionary (at most "
                f"{human_size(self._max_dictionary)})"
            )
        lc, lp, pb = lc_lp_pb % 9, (lc_lp_pb // 9) % 5, lc_lp_pb // 45
        self._inflater = lzma.LZMADecompressor(
            lzma.FORMAT_RAW,
            filters=[
                {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
            ],
        )
        return data[len(taken) :]


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    """(id, body) of each extra field, as zipfile splits them (a field that runs past the
    end is an error)."""
    position = 0
    while len(extra) - position >= 4:
        kind, length = EXTRA_HEADER.unpack_from(extra, position)
        if position + 4 + length > len(extra):
            raise zipfile.BadZipFile(f"Corrupt extra field {kind:04x} (size={length})")
        yield kind, extra[position + 4 : position + 4 + length]
        position += 4 + length


def _zip64_sizes(extra: bytes, size: int, compressed_size: int) -> tuple[int, int]:
    """A local header's sizes, from the first zip64 extra field where they are 0xFFFFFFFF
    (as zipfile reads a directory entry's)."""
    for kind, body in _extra_fields(extra):
        if kind == ZIP64_EXTRA:
            values = [U64.unpack_from(body, at)[0] for at in range(0, len(body) - 7, 8)]
            wanted = (size == 0xFFFFFFFF) + (compressed_size == 0xFFFFFFFF)
            if len(values) < wanted:
                raise _Unproven("a corrupt zip64 extra field")
            if size == 0xFFFFFFFF:
                size = values.pop(0)
            if compressed_size == 0xFFFFFFFF:
                compressed_size = values.pop(0)
            break
    return size, compressed_size


# -- one pass as the bytes arrive -----------------------------------------------------------


class _Unproven(Exception):
    """A single pass cannot prove this archive good: read it back (check_file)."""


#: One member's record for the digests: header offset, data offset, method, CRC-32,
#: compressed size, size.
_RECORD = Struct("<QQHIQQ")


class ZipStream:
    """Follow a zip's members as its bytes go by (``feed`` them in order, then ``finish``).

    ``size`` is the whole archive's size when known: it only lets the single pass inflate
    more before the finished file is judged (see Limits). ``feed`` never refuses an
    archive (the verdict is :func:`check_file`'s) and raises only what ``tick`` raises
    (the deadline); whatever a single pass cannot follow ends in ``finish() == False``.
    """

    def __init__(self, *, size: int | None, limits: Limits = LIMITS, tick: Tick = _no_tick):
        self._size, self._limits, self._tick = size, limits, tick
        self._fed = self._sent = 0  # bytes fed; bytes sent to the parser
        self._back = bytearray()  # bytes taken past what the parser has used (a pushback)
        self._digest = hashlib.sha256()
        self.members = 0
        self._inflated = 0
        #: Why a single pass could not follow the archive (None: not so far).
        self.unproven: str | None = None
        self._done = False
        self._parser = self._parse()
        self._want = next(self._parser)

    def feed(self, data: memoryview) -> None:
        self._fed += len(data)
        if self.unproven is not None or self._done:
            return
        try:
            while data and not self._done:
                piece, data = data[: self._want], data[self._want :]
                self._sent += len(piece)
                self._want = self._parser.send(piece)
        except StopIteration:
            self._done = True
        except BackupError:
            self.unproven = "stopped"
            raise
        except (_Unproven, _Unsupported, _TooLarge, zipfile.BadZipFile, ValueError) as exc:
            self.unproven = str(exc) or type(exc).__name__
        except (zlib.error, lzma.LZMAError, OSError, EOFError, struct.error) as exc:
            self.unproven = f"{type(exc).__name__}: {exc}"

    def finish(self) -> bool:
        """True when every member up to the central directory was followed and checked."""
        if self.unproven is None and not self._done:
            self.unproven = "the archive ended inside a member"
        return self.unproven is None

    def digest(self) -> bytes:
        """The digest of the members checked, in the order of their offsets."""
        return self._digest.digest()

    # The parser is a generator: it yields how many bytes it wants next (at most) and is
    # sent a memoryview of 1 to that many bytes.

    @property
    def _position(self) -> int:
        """The offset in the archive of the next byte the parser takes."""
        return self._sent - len(self._back)

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
        if signature not in (LOCAL_SIG, END_SIG, CENTRAL_SIG):
            raise _Unproven("data before the first member")
        while signature == LOCAL_SIG:
            yield from self._member()
            signature = yield from self._exactly(4)
        # The central directory and end records follow: zipfile reads them.

    def _member(self) -> Generator[int, memoryview, None]:
        """One local header (its signature taken) and the member's data."""
        offset = self._position - 4
        header = local_header(LOCAL_SIG + (yield from self._exactly(LOCAL_HEADER.size - 4)))
        yield from self._exactly(header.name_length)
        extra = yield from self._exactly(header.extra_length)
        start = self._position
        if header.flags & (FLAG_ENCRYPTED | FLAG_PATCH | FLAG_STRONG):
            raise _Unproven("an encrypted or patched member")
        size, compressed = _zip64_sizes(extra, header.size, header.compressed_size)
        self.members += 1
        room = self._limits.uncompressed(self._archive_size()) - self._inflated
        if header.flags & FLAG_DESCRIPTOR:
            if header.method == STORED:
                raise _Unproven("a stored member with a data descriptor (its size is unknown)")
            member = self._start(header.method, room)
            compressed = yield from self._until_end(member)
            size = member.size
        else:
            if 0xFFFFFFFF in (size, compressed):
                raise _Unproven("a local header without its sizes")
            if size > room:
                raise _Unproven("a member larger than a single pass inflates")
            member = self._start(header.method, size)
            left = compressed
            while left:
                piece = yield from self._take(min(left, READ_STEP))
                member.feed(piece)
                left -= len(piece)
        if not member.complete(compressed, size, trailing=bool(header.flags & FLAG_DESCRIPTOR)):
            raise _Unproven("a member's data does not match its local header")
        self._inflated += member.size
        self._digest.update(
            _RECORD.pack(offset, start, header.method, member.crc, compressed, member.size)
        )
        self._tick(self.members, self._inflated)

    def _start(self, method: int, limit: int) -> _Member:
        return _Member(method, limit, tick=self._tick, members=self.members, limits=self._limits)

    def _until_end(self, member: _Member) -> Generator[int, memoryview, int]:
        """The data of a member whose sizes follow it (in a data descriptor): inflate until
        its stream ends, then take the descriptor. Returns the compressed size."""
        while not member.eof:
            member.feed((yield from self._take(READ_STEP)))
            if member.overflowed:
                raise _Unproven("a member larger than a single pass inflates")
        unused = member.unused
        member.consumed -= len(unused)
        self._back[:0] = unused
        # [signature] crc, compressed size, size: 4 or 8 bytes each. At least an end record
        # (22 bytes) follows, so 28 bytes are always there in a whole archive.
        rest = yield from self._exactly(28)
        for at in (4, 0) if rest[:4] == DESCRIPTOR_SIG else (0,):
            for layout in (DESCRIPTOR_32, DESCRIPTOR_64):
                descriptor = DataDescriptor._make(layout.unpack_from(rest, at))
                end = at + layout.size
                expected = (member.crc, member.consumed, member.size)
                if descriptor == expected and rest[end : end + 2] == b"PK":
                    self._back[:0] = rest[end:]
                    return member.consumed
        raise _Unproven("a data descriptor that does not match its member")

    def _archive_size(self) -> int:
        return self._size if self._size is not None else self._fed


# -- the verdict: zipfile's reading of the finished file ------------------------------------


class Verdict(NamedTuple):
    """An archive that passed: what was checked, and how."""

    members: int
    uncompressed: int
    #: The digest of the members checked (offsets, method, sizes, CRC-32), in file order.
    digest: bytes
    #: Why the data was read back (None: the single pass had checked it).
    read_back: str | None


class EndOfArchive(NamedTuple):
    """The central directory as the end records place it."""

    entries: int
    directory_size: int
    directory_offset: int
    location: int  # where the end records start (the zip64 end record, if any)


#: Every error reading a zip with zipfile may raise (bz2 raises OSError and EOFError).
READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    RuntimeError,  # NotImplementedError, a missing password
    ValueError,  # UnicodeDecodeError
    struct.error,
    zlib.error,
    lzma.LZMAError,
    OverflowError,
    _Unsupported,
)


def check_file(
    path: Path,
    *,
    limits: Limits = LIMITS,
    tick: Tick = _no_tick,
    stream: ZipStream | None = None,
    log: Callable[[str], None] | None = None,
) -> Verdict:
    """Judge the zip at ``path`` as zipfile reads it (see the module's docstring); the
    data is read back unless ``stream`` (fed the same bytes) checked exactly the members
    zipfile finds. ``tick`` is called while checking and may raise to stop it (the
    deadline). Raises VerificationFailed with the reason."""
    try:
        with path.open("rb") as file:
            return _judge(file, limits=limits, tick=tick, stream=stream, log=log)
    except _TooLarge as exc:
        raise VerificationFailed(
            f"The archive is refused: {exc}; a zip bomb? It was not kept."
        ) from exc
    except READ_ERRORS as exc:
        raise unreadable(f"{type(exc).__name__}: {exc}") from exc


def _judge(
    file: BinaryIO,
    *,
    limits: Limits,
    tick: Tick,
    stream: ZipStream | None,
    log: Callable[[str], None] | None,
) -> Verdict:
    size = file.seek(0, os.SEEK_END)
    end = find_end(file, size)
    limits.check_directory(entries=end.entries, size=end.directory_size)
    tick(0, 0)
    with zipfile.ZipFile(file) as archive:
        members = sorted(archive.infolist(), key=lambda info: info.header_offset)
        declared = sum(info.file_size for info in members)
        limits.check(declared=declared, members=len(members), archive_size=size)
        if not members and archive.start_dir > 0:
            raise zipfile.BadZipFile(
                f"its directory lists no members, yet {archive.start_dir:,} bytes precede it"
            )
        starts = _open_members(archive, file, members, tick)
    digest = hashlib.sha256()
    for info, start in zip(members, starts, strict=True):
        digest.update(
            _RECORD.pack(
                info.header_offset,
                start,
                info.compress_type,
                info.CRC,
                info.compress_size,
                info.file_size,
            )
        )
    verdict = Verdict(len(members), declared, digest.digest(), None)
    why = _why_read_back(stream, verdict)
    if why is None:
        return verdict
    if log is not None:
        log(f"checking the zip by reading it back ({why}; a single pass cannot vouch for it)")
    _read_back(file, members, starts, limits=limits, tick=tick)
    return verdict._replace(read_back=why)


def _why_read_back(stream: ZipStream | None, verdict: Verdict) -> str | None:
    """Why the single pass does not count (None: it checked what zipfile reads)."""
    if stream is None:
        return "no single pass"
    if not stream.finish():
        return stream.unproven
    if stream.members != verdict.members or stream.digest() != verdict.digest:
        return "the members and the central directory disagree"
    return None


def find_end(file: BinaryIO, size: int) -> EndOfArchive:
    """The end records, found as zipfile finds them: an end record with no comment at the
    very end, else the last end record signature in the last 64 KiB + 22 bytes; then the
    zip64 end records, checked as CPython 3.14.1 checks them."""
    tail_size = min(size, END_RECORD.size + MAX_COMMENT)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = len(tail) - END_RECORD.size
    if not (at >= 0 and tail[at:].startswith(END_SIG) and tail.endswith(b"\0\0")):
        at = tail.rfind(END_SIG)
    if at < 0 or len(tail) - at < END_RECORD.size:
        raise zipfile.BadZipFile("File is not a zip file")
    record = end_record(tail, at)
    location = size - tail_size + at
    plain = EndOfArchive(record.entries, record.directory_size, record.directory_offset, location)
    return _zip64_end(file, location) or plain


def _zip64_end(file: BinaryIO, location: int) -> EndOfArchive | None:
    """The zip64 end record the locator before ``location`` points at (None: no locator).
    Refuses what CPython 3.14.1 refuses (gh-139700), and zip64 extensible data, which
    older releases look for in the wrong place."""
    at = location - ZIP64_LOCATOR.size
    if at < 0:
        return None
    file.seek(at)
    locator = zip64_locator(_read(file, ZIP64_LOCATOR.size))
    if locator.signature != ZIP64_LOCATOR_SIG:
        return None
    if locator.disk != 0 or locator.disks > 1:
        raise zipfile.BadZipFile("zipfiles that span multiple disks are not supported")
    at -= ZIP64_END_RECORD.size
    if locator.record_offset > at:
        raise zipfile.BadZipFile("Corrupt zip64 end of central directory locator")
    extensible = at - locator.record_offset
    file.seek(locator.record_offset)
    data = _read(file, ZIP64_END_RECORD.size)
    if not data.startswith(ZIP64_END_SIG) and extensible:
        file.seek(at)
        data, extensible = _read(file, ZIP64_END_RECORD.size), 0
    if not data.startswith(ZIP64_END_SIG):
        raise zipfile.BadZipFile("Zip64 end of central directory record not found")
    record = zip64_end_record(data)
    if (
        record.directory_offset + record.directory_size != locator.record_offset
        or record.record_size + 12 != ZIP64_END_RECORD.size + extensible
    ):
        raise zipfile.BadZipFile("Corrupt zip64 end of central directory record")
    if extensible:
        raise zipfile.BadZipFile("zip64 extensible data is not supported")
    return EndOfArchive(record.entries, record.directory_size, record.directory_offset, at)


def _read(file: BinaryIO, count: int) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise zipfile.BadZipFile("Truncated record")
    return data


def _open_members(
    archive: zipfile.ZipFile, file: BinaryIO, members: Sequence[zipfile.ZipInfo], tick: Tick
) -> list[int]:
    """Each member opened as zipfile opens it to read (its local header decoded and
    checked), after the backported checks; returns where each member's data starts."""
    starts = []
    for index, info in enumerate(members):
        following = members[index + 1].header_offset if index + 1 < len(members) else None
        end = archive.start_dir if following is None else following
        file.seek(info.header_offset)
        header = local_header(_read(file, LOCAL_HEADER.size))
        start = info.header_offset + LOCAL_HEADER.size + header.name_length + header.extra_length
        if start + info.compress_size > end:
            raise zipfile.BadZipFile(
                f"Overlapped entries: {info.orig_filename!r} (possible zip bomb)"
            )
        _check_unicode_path(info)
        with archive.open(info):
            pass
        starts.append(start)
        tick(0, 0)
    return starts


def _check_unicode_path(info: zipfile.ZipInfo) -> None:
    """Refuse an Info-ZIP Unicode Path extra field that CPython 3.14 refuses."""
    encoding = "utf-8" if info.flag_bits & FLAG_UTF8 else "cp437"
    for kind, body in _extra_fields(info.extra):
        if kind != UNICODE_PATH_EXTRA:
            continue
        if len(body) < 5:
            raise zipfile.BadZipFile("Corrupt unicode path extra field (0x7075)")
        version, name_crc = body[0], U32.unpack_from(body, 1)[0]
        if version == 1 and name_crc == zlib.crc32(info.orig_filename.encode(encoding)):
            try:
                body[5:].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise zipfile.BadZipFile(
                    "Corrupt unicode path extra field (0x7075): invalid utf-8 bytes"
                ) from exc


def _read_back(
    file: BinaryIO,
    members: Sequence[zipfile.ZipInfo],
    starts: Sequence[int],
    *,
    limits: Limits,
    tick: Tick,
) -> None:
    """Read every member's data where zipfile finds it: exactly its compressed size,
    inflating (bounded) to exactly its size, with its CRC-32."""
    inflated = 0
    for index, (info, start) in enumerate(zip(members, starts, strict=True), 1):
        member = _Member(
            info.compress_type, info.file_size, tick=tick, members=index, limits=limits
        )
        file.seek(start)
        left = info.compress_size
        while left and not member.overflowed and not (member.eof and member.consumed):
            data = file.read(min(left, READ_STEP))
            if not data:
                raise EOFError(f"the archive ends inside member {info.filename!r}")
            left -= len(data)
            member.feed(memoryview(data))
        if member.crc != info.CRC and not member.overflowed:
            raise bad_member(info.filename)
        if not member.complete(info.compress_size, info.file_size):
            raise bad_member(info.filename, "is not the size its directory entry says")
        inflated += member.size
        tick(index, inflated)
