"""A differential fuzz of the zip check against Python's zipfile (``make fuzz``).

Each case is a valid archive (zipfile with every method, zip64 and data descriptors, the
``zip`` CLI in several variants when it is installed, ``shutil.make_archive``, prefixes,
comments), then 0 to 3 stacked mutations (bit flips, truncations at record boundaries,
fields that lie, flag bits, comments holding signatures, duplicated and overlapping
entries, bytes deleted). It is fed to :class:`ZipStream` in random chunks of 1 byte to
512 KiB, with or without the archive's size, then judged by :func:`check_file`; the
oracle is zipfile (open, read every member, with the checks of current CPython that
3.11 lacks, written here independently of zipcheck's).

A *false accept* (we verify what the oracle refuses, or other members than it reads) or a
*crash* (any exception but VerificationFailed) fails the run; a *false reject* (we refuse
what the oracle reads) is counted: zipcheck is stricter on purpose in a few places (see
its docstring).

    python -m tests.fuzz_zip --cases 20000 --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playcanvas_backup.errors import VerificationFailed
from playcanvas_backup.zipcheck import (
    CENTRAL_HEADER,
    CENTRAL_SIG,
    DESCRIPTOR_SIG,
    END_RECORD,
    END_SIG,
    LOCAL_SIG,
    ZIP64_END_SIG,
    ZIP64_LOCATOR_SIG,
    Verdict,
    ZipStream,
    central_header,
    check_file,
    end_record,
)

ZIP_CLI = shutil.which("zip")
SIGNATURES = (LOCAL_SIG, CENTRAL_SIG, END_SIG, ZIP64_END_SIG, ZIP64_LOCATOR_SIG, DESCRIPTOR_SIG)
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


# -- valid archives ---------------------------------------------------------------------------


def _contents(rng: random.Random) -> dict[str, bytes]:
    """A few members: text, zeros, random bytes; ASCII and non-ASCII names, a folder."""
    names = ["project.json", "assets/a.png", "scripts/ü-ñ.js", "dir/", "x" * rng.randint(1, 60)]
    members = {}
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(names) + ("" if rng.random() < 0.7 else str(rng.randint(0, 99)))
        if name.endswith("/"):
            members[name] = b""
            continue
        kind = rng.random()
        size = rng.choice([0, 1, 100, 5000, 70_000])
        if kind < 0.4:
            data = (b"hello playcanvas " * (size // 16 + 1))[:size]
        elif kind < 0.6:
            data = bytes(size)
        else:
            data = rng.randbytes(size)
        members[name] = data
    return members


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        self.data += view
        return len(view)


def _with_zipfile(rng: random.Random) -> bytes:
    streamed = rng.random() < 0.3
    out: io.BytesIO | _Unseekable = _Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        items = list(_contents(rng).items())
        for index, (name, data) in enumerate(items):
            info = zipfile.ZipInfo(name, (2024, 5, 6, 7, 8, 10))
            info.compress_type = rng.choice(METHODS)
            if rng.random() < 0.2:
                info.comment = rng.choice(
                    [b"note", ZIP64_LOCATOR_SIG + rng.randbytes(16), END_SIG + bytes(18)]
                )
            if index == len(items) - 1 and rng.random() < 0.2:
                info.comment = ZIP64_LOCATOR_SIG + bytes(4) + rng.randbytes(8) + b"\1\0\0\0"
            with archive.open(info, "w", force_zip64=rng.random() < 0.3) as member:
                member.write(data)
        if rng.random() < 0.3:
            archive.comment = rng.choice([b"a comment", END_SIG, END_SIG + bytes(18), b"PK"])
    return bytes(out.data) if isinstance(out, _Unseekable) else out.getvalue()


def _write_tree(folder: Path, members: dict[str, bytes]) -> list[str]:
    written = []
    for name, data in members.items():
        path = folder / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        written.append(name.rstrip("/"))
    return written


ZIP_VARIANTS = [
    [],
    ["-0"],
    ["-9"],
    ["-1"],
    ["-fz"],
    ["-fd"],
    ["-fz", "-fd"],
    ["-Z", "bzip2"],
    ["-X"],
    ["-D"],
    ["-j"],
    ["-fz", "-0"],
    ["-fd", "-0"],
]


def _with_zip_cli(rng: random.Random, work: Path) -> bytes:
    assert ZIP_CLI is not None
    folder = Path(tempfile.mkdtemp(dir=work))
    names = _write_tree(folder, {"one.txt": b"one", **_contents(rng)})
    target = folder / "out.zip"
    options = rng.choice(ZIP_VARIANTS)
    if rng.random() < 0.2:  # to a pipe: sizes in data descriptors
        done = subprocess.run(
            [ZIP_CLI, "-q", *options, "-", *names], cwd=folder, capture_output=True, check=True
        )
        data = done.stdout
    else:
        comment = ["-z"] if rng.random() < 0.2 else []
        subprocess.run(
            [ZIP_CLI, "-q", "-r", *options, *comment, str(target), *names],
            cwd=folder,
            input=b"a comment\n.\n",
            capture_output=True,
            check=True,
        )
        data = target.read_bytes()
    shutil.rmtree(folder)
    return data


def _with_make_archive(rng: random.Random, work: Path) -> bytes:
    folder = Path(tempfile.mkdtemp(dir=work))
    _write_tree(folder / "tree", _contents(rng))
    (folder / "tree").mkdir(exist_ok=True)
    made = shutil.make_archive(str(folder / "made"), "zip", folder / "tree")
    data = Path(made).read_bytes()
    shutil.rmtree(folder)
    return data


def generate(rng: random.Random, work: Path) -> tuple[str, bytes]:
    """A valid archive and how it was made."""
    choice = rng.random()
    if choice < 0.25 and ZIP_CLI:
        kind, data = "zip-cli", _with_zip_cli(rng, work)
    elif choice < 0.3:
        kind, data = "make_archive", _with_make_archive(rng, work)
    else:
        kind, data = "zipfile", _with_zipfile(rng)
    if rng.random() < 0.05:
        kind, data = kind + "+prefix", rng.randbytes(rng.randint(1, 300)) + data
    return kind, data


# -- mutations --------------------------------------------------------------------------------


def _records(data: bytes) -> list[int]:
    return sorted(at for signature in SIGNATURES for at in _find_all(data, signature)) or [0]


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    changed = bytearray(data)
    changed[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(changed)


def _truncate_at_record(rng: random.Random, data: bytes) -> bytes:
    return data[: max(0, rng.choice(_records(data)) + rng.choice([-1, 0, 0, 1, 4, 30]))]


def _delete(rng: random.Random, data: bytes) -> bytes:
    at = rng.choice(_records(data)) + rng.randint(0, 60)
    return data[:at] + data[at + rng.choice([1, 2, 4]) :]


def _field_lie(rng: random.Random, data: bytes) -> bytes:
    """A 2-, 4- or 8-byte field of some record set to a lie."""
    at = rng.choice(_records(data)) + rng.choice([4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28])
    width = rng.choice([2, 4, 8])
    if at + width > len(data):
        return data
    value = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, (1 << 64) - 1, rng.getrandbits(32)])
    old = int.from_bytes(data[at : at + width], "little")
    value = rng.choice([value, old + 1, max(old - 1, 0), old * 2]) % (1 << (8 * width))
    return data[:at] + value.to_bytes(width, "little") + data[at + width :]


def _flag_bit(rng: random.Random, data: bytes) -> bytes:
    headers = _find_all(data, LOCAL_SIG) + _find_all(data, CENTRAL_SIG)
    if not headers:
        return data
    at = rng.choice(headers)
    at += 6 if data[at : at + 4] == LOCAL_SIG else 8
    if at + 2 > len(data):
        return data
    flags = int.from_bytes(data[at : at + 2], "little") ^ (1 << rng.choice([0, 3, 5, 6, 11, 13]))
    return data[:at] + flags.to_bytes(2, "little") + data[at + 2 :]


def _comment(rng: random.Random, data: bytes) -> bytes:
    """Append a signature, an empty end record or a zip64 locator (as if a comment)."""
    tail = rng.choice(
        [
            END_SIG,
            END_SIG + bytes(18),
            ZIP64_LOCATOR_SIG + bytes(16),
            ZIP64_LOCATOR_SIG + bytes(4) + rng.randbytes(8) + b"\1\0\0\0",
            LOCAL_SIG + bytes(26),
        ]
    )
    end = data.rfind(END_SIG)
    if end < 0 or end + END_RECORD.size > len(data) or rng.random() < 0.3:
        return data + tail
    record = end_record(data, end)
    body = data[end + END_RECORD.size :] + tail
    header = END_RECORD.pack(*record._replace(comment_length=len(body) % 0x10000))
    return data[:end] + header + body


def _directory(data: bytes) -> tuple[int, list[bytes], int] | None:
    """(start, entries, end) of a plain (not zip64) central directory, or None."""
    end = data.rfind(END_SIG)
    if end < 0 or end + END_RECORD.size > len(data):
        return None
    record = end_record(data, end)
    start = record.directory_offset
    if start + record.directory_size != end or data[end - 20 : end - 16] == ZIP64_LOCATOR_SIG:
        return None
    entries, at = [], start
    while at < end:
        if data[at : at + 4] != CENTRAL_SIG or at + CENTRAL_HEADER.size > end:
            return None
        header = central_header(data, at)
        size = CENTRAL_HEADER.size + header.name_length + header.extra_length
        size += header.comment_length
        entries.append(data[at : at + size])
        at += size
    return start, entries, end


def _rebuild(data: bytes, start: int, entries: list[bytes], end: int) -> bytes:
    record = end_record(data, end)
    directory = b"".join(entries)
    count = len(entries) % 0x10000
    header = END_RECORD.pack(
        *record._replace(disk_entries=count, entries=count, directory_size=len(directory))
    )
    return data[:start] + directory + header + data[end + END_RECORD.size :]


def _duplicate_or_overlap(rng: random.Random, data: bytes) -> bytes:
    """Two entries for one member, or an entry pointing into another's data."""
    found = _directory(data)
    if found is None or not found[1]:
        return data
    start, entries, end = found
    entry = rng.choice(entries)
    if rng.random() < 0.5:
        entries.insert(rng.randrange(len(entries) + 1), entry)
    else:
        index = rng.randrange(len(entries))
        header = central_header(entries[index])
        other = central_header(rng.choice(entries))
        offset = other.header_offset + rng.choice([0, 0, 10, 30])
        changed = CENTRAL_HEADER.pack(*header._replace(header_offset=offset % (1 << 32)))
        entries[index] = changed + entries[index][CENTRAL_HEADER.size :]
    return _rebuild(data, start, entries, end)


def _two_zip64_extras(rng: random.Random, data: bytes) -> bytes:
    """An entry whose extra field holds a zip64 extra twice (the second one lying)."""
    found = _directory(data)
    if found is None or not found[1]:
        return data
    start, entries, end = found
    index = rng.randrange(len(entries))
    header = central_header(entries[index])
    rest = entries[index][CENTRAL_HEADER.size :]
    name, extra = rest[: header.name_length], rest[header.name_length :]
    lie = struct.pack("<HHQQ", 1, 16, rng.getrandbits(20), rng.getrandbits(20))
    first = struct.pack("<HHQQ", 1, 16, header.size, header.compressed_size)
    extra = first + lie + extra
    changed = header._replace(size=0xFFFFFFFF, compressed_size=0xFFFFFFFF)
    changed = changed._replace(extra_length=header.extra_length + len(first) + len(lie))
    entries[index] = CENTRAL_HEADER.pack(*changed) + name + extra
    return _rebuild(data, start, entries, end)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip": _flip,
    "truncate": _truncate_at_record,
    "delete": _delete,
    "field": _field_lie,
    "flag": _flag_bit,
    "comment": _comment,
    "duplicate": _duplicate_or_overlap,
    "zip64-extras": _two_zip64_extras,
}


def mutate(rng: random.Random, data: bytes) -> tuple[list[str], bytes]:
    names = rng.choices(list(MUTATIONS), k=rng.choice([0, 1, 1, 2, 3]))
    for name in names:
        data = MUTATIONS[name](rng, data)
    return names, data


# -- the oracle: zipfile, with current CPython's refusals -------------------------------------


def oracle(path: Path) -> tuple[bool, bytes | None, str]:
    """(accepted, digest of its members, why not): zipfile opens the archive and reads
    every member through its CRC check."""
    try:
        with path.open("rb") as file, zipfile.ZipFile(file) as archive:
            _oracle_zip64(file)
            members = sorted(archive.infolist(), key=lambda info: info.header_offset)
            digest = hashlib.sha256()
            for index, info in enumerate(members):
                start = _oracle_overlap(file, archive, members, index)
                _oracle_unicode_path(info)
                with archive.open(info) as member:
                    while member.read(1 << 20):
                        pass
                digest.update(
                    struct.pack(
                        "<QQHIQQ",
                        info.header_offset,
                        start,
                        info.compress_type,
                        info.CRC,
                        info.compress_size,
                        info.file_size,
                    )
                )
    except Exception as exc:  # the oracle refuses: any reason
        return False, None, f"{type(exc).__name__}: {exc}"[:200]
    return True, digest.digest(), ""


def _oracle_zip64(file: io.BufferedReader) -> None:
    """gh-139700: the zip64 locator must point at a consistent zip64 end record."""
    size = file.seek(0, 2)
    file.seek(max(0, size - 65_557))
    tail = file.read()
    at = len(tail) - 22
    if not (at >= 0 and tail[at : at + 4] == END_SIG and tail[-2:] == b"\0\0"):
        at = tail.rfind(END_SIG)
    location = size - len(tail) + at
    if location < 20:
        return
    file.seek(location - 20)
    signature, _, offset, _ = struct.unpack("<4sIQI", file.read(20))
    if signature != ZIP64_LOCATOR_SIG:
        return
    expected = location - 20 - 56
    if offset > expected:
        raise zipfile.BadZipFile("zip64 locator points past its record")
    file.seek(offset)
    record = file.read(56)
    extensible = expected - offset
    if record[:4] != ZIP64_END_SIG and offset != expected:
        file.seek(expected)
        record, extensible = file.read(56), 0
    if record[:4] != ZIP64_END_SIG:
        raise zipfile.BadZipFile("no zip64 end record")
    size64 = struct.unpack_from("<Q", record, 4)[0]
    cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
    if cd_offset + cd_size != offset or size64 + 12 != 56 + extensible:
        raise zipfile.BadZipFile("inconsistent zip64 end record")


def _oracle_overlap(
    file: io.BufferedReader, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], index: int
) -> int:
    """gh-109858: a member's data must end before the next local header."""
    info = members[index]
    end = members[index + 1].header_offset if index + 1 < len(members) else archive.start_dir
    file.seek(info.header_offset)
    header = file.read(30)
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    start: int = info.header_offset + 30 + name_length + extra_length
    if start + info.compress_size > end:
        raise zipfile.BadZipFile("Overlapped entries")
    return start


def _oracle_unicode_path(info: zipfile.ZipInfo) -> None:
    extra = info.extra
    while len(extra) >= 4:
        kind, length = struct.unpack("<HH", extra[:4])
        body = extra[4 : 4 + length]
        if kind == 0x7075:
            if len(body) < 5:
                raise zipfile.BadZipFile("short unicode path")
            raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            if body[0] == 1 and struct.unpack_from("<I", body, 1)[0] == zlib.crc32(raw):
                body[5:].decode("utf-8")
        extra = extra[4 + length :]


# -- one case -----------------------------------------------------------------------------------


@dataclass
class Counts:
    cases: int = 0
    accepted: int = 0
    rejected: int = 0
    false_accepts: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    false_rejects: Counter[str] = field(default_factory=Counter)
    read_back: int = 0

    def summary(self) -> str:
        common = ", ".join(f"{reason} x{n}" for reason, n in self.false_rejects.most_common(8))
        return (
            f"{self.cases} cases: {self.accepted} verified, {self.rejected} refused "
            f"({self.read_back} read back); false accepts {len(self.false_accepts)}, "
            f"crashes {len(self.crashes)}, false rejects {sum(self.false_rejects.values())}"
            + (f" ({common})" if common else "")
        )


def _feed(rng: random.Random, data: bytes) -> ZipStream:
    stream = ZipStream(size=len(data) if rng.random() < 0.5 else None)
    view, at = memoryview(data), 0
    while at < len(data):
        step = int(2 ** rng.uniform(0, 19))  # 1 byte to 512 KiB
        stream.feed(view[at : at + step])
        at += step
    return stream


Verify = Callable[..., Verdict]


def run_case(
    seed: int, number: int, work: Path, counts: Counts, verify: Verify = check_file
) -> None:
    """Case ``number`` of the run seeded ``seed`` (reproducible alone: ``--only``)."""
    rng = random.Random(f"{seed}:{number}")
    kind, data = generate(rng, work)
    mutations, data = mutate(rng, data)
    label = f"case {number}: {kind} {'+'.join(mutations) or 'unmutated'} ({len(data)} B)"
    path = work / "case.zip"
    path.write_bytes(data)
    counts.cases += 1
    try:
        verdict = verify(path, stream=_feed(rng, data))
    except VerificationFailed as exc:
        counts.rejected += 1
        accepted, _, _ = oracle(path)
        if accepted:
            reason = re.sub(r"\d[\d,]*", "N", str(exc).split(";")[0])
            counts.false_rejects[reason.split("zip (")[-1][:80]] += 1
        return
    except Exception as exc:
        counts.crashes.append(f"{label}: {type(exc).__name__}: {exc}")
        return
    counts.accepted += 1
    counts.read_back += verdict.read_back is not None
    accepted, digest, why = oracle(path)
    if not accepted or digest != verdict.digest:
        counts.false_accepts.append(f"{label}: oracle: {why or 'other members'}")


def run(
    cases: int, seed: int, work: Path, *, only: int | None = None, verify: Verify = check_file
) -> Counts:
    """``cases`` cases (or case ``only``) of the run seeded ``seed``, judged by ``verify``."""
    counts = Counts()
    for number in range(cases) if only is None else [only]:
        run_case(seed, number, work, counts, verify)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", type=int, help="run this case of the run alone")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        counts = run(options.cases, options.seed, Path(folder), only=options.only)
    print(counts.summary())
    for line in counts.false_accepts[:20] + counts.crashes[:20]:
        print("  " + line)
    return 1 if counts.false_accepts or counts.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
