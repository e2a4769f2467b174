"""The zip check: one pass as the bytes arrive, a read-back where one pass cannot vouch,
the same verdicts as zipfile's testzip, and bounded work whatever the archive claims."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from playcanvas_backup.errors import VerificationFailed
from playcanvas_backup.zipcheck import Limits, ZipStream, check_file
from tests.emulator.archives import (
    data_start,
    declared_bomb,
    empty_members,
    zip_bytes,
)

MEMBERS = {
    "project.json": b'{"name": "demo"}' * 200,
    "assets/1.bin": os.urandom(50_000),
    "assets/2.txt": b"some text " * 5_000,
}


def streamed(data: bytes, *, step: int = 65_521, limits: Limits | None = None) -> ZipStream:
    """``data`` fed to a ZipStream in pieces of ``step`` bytes."""
    stream = ZipStream(size=len(data), limits=limits or Limits())
    view = memoryview(data)
    for start in range(0, len(data), step):
        stream.feed(view[start : start + step])
    return stream


def zipfile_verdict(path: Path) -> str:
    """What today's check (zipfile's testzip) says: 'ok', 'crc:<member>' or 'unreadable'."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError):
        return "unreadable"
    return "ok" if bad is None else f"crc:{bad}"


def our_verdict(path: Path) -> str:
    try:
        check_file(path)
    except VerificationFailed as exc:
        if "fails its CRC check" in str(exc) or "is not the size" in str(exc):
            return "crc:" + str(exc).split("member '")[1].split("' ")[0]
        assert "not a readable zip" in str(exc), exc
        return "unreadable"
    return "ok"


def flipped(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0xFF
    return bytes(changed)


GOOD = zip_bytes(MEMBERS)
CASES: dict[str, bytes] = {
    "flipped byte in a deflated member": flipped(GOOD, data_start(GOOD, 2) + 100),
    "flipped byte in a stored member": flipped(
        zip_bytes(MEMBERS, compression=zipfile.ZIP_STORED),
        data_start(zip_bytes(MEMBERS, compression=zipfile.ZIP_STORED), 1) + 5,
    ),
    "truncated member": GOOD[: data_start(GOOD, 1) + 1000],
    "truncated central directory": GOOD[:-30],
    "bad central directory signature": GOOD.replace(b"PK\x01\x02", b"PK\x01\x03", 1),
    "flipped byte in a zip64 member": flipped(
        zip_bytes(MEMBERS, zip64=True), data_start(zip_bytes(MEMBERS, zip64=True), 1) + 7
    ),
    "flipped byte in a streamed member": flipped(
        zip_bytes(MEMBERS, streamed=True), data_start(zip_bytes(MEMBERS, streamed=True), 2) + 9
    ),
    "bzip2 member damaged": flipped(
        zip_bytes(MEMBERS, compression=zipfile.ZIP_BZIP2),
        data_start(zip_bytes(MEMBERS, compression=zipfile.ZIP_BZIP2), 1) + 20,
    ),
    "not a zip at all": b"<Error><Code>AccessDenied</Code></Error>",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_archive_gets_the_verdict_testzip_gives(case: str, tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(CASES[case])

    with pytest.raises(VerificationFailed):
        check_file(path, stream=streamed(CASES[case]))
    assert our_verdict(path) == zipfile_verdict(path) != "ok"


LAYOUTS: dict[str, Callable[[], bytes]] = {
    "deflated": lambda: zip_bytes(MEMBERS),
    "stored": lambda: zip_bytes(MEMBERS, compression=zipfile.ZIP_STORED),
    "zip64": lambda: zip_bytes(MEMBERS, zip64=True),
    "deflated, sizes in data descriptors": lambda: zip_bytes(MEMBERS, streamed=True),
    "bzip2": lambda: zip_bytes(MEMBERS, compression=zipfile.ZIP_BZIP2),
    "lzma": lambda: zip_bytes(MEMBERS, compression=zipfile.ZIP_LZMA),
    "empty archive": lambda: zip_bytes({}),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("step", [1, 7, 65_521, 1 << 20])
def test_one_pass_proves_a_good_archive_in_pieces_of_any_size(layout: str, step: int) -> None:
    data = LAYOUTS[layout]()
    if step == 1 and len(data) > 20_000:
        data = zip_bytes({"small.txt": b"tiny " * 100})  # byte by byte: keep it short

    stream = streamed(data, step=step)

    assert stream.finish(), stream.unproven


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_reading_back_accepts_a_good_archive(layout: str, tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(LAYOUTS[layout]())

    check_file(path)  # raises if not


def test_a_stored_member_with_a_data_descriptor_needs_the_read_back(tmp_path: Path) -> None:
    data = zip_bytes(MEMBERS, compression=zipfile.ZIP_STORED, streamed=True)
    path = tmp_path / "a.zip"
    path.write_bytes(data)

    stream = streamed(data)

    assert not stream.finish()
    assert "stored member with a data descriptor" in (stream.unproven or "")
    check_file(path)


def test_bytes_after_the_end_record_are_zipfiles_call(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(GOOD + b"trailing")

    verdict = check_file(path, stream=streamed(GOOD + b"trailing"))

    assert verdict.members == 3 and verdict.read_back is None
    assert zipfile_verdict(path) == "ok"


def test_refuses_members_that_declare_far_more_than_the_archive_holds(tmp_path: Path) -> None:
    bomb = declared_bomb(200, declared=1 << 30)  # 200 GiB declared in a few KB
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    inflated: list[int] = []

    stream = streamed(bomb)  # the single pass stops following; it refuses nothing
    with pytest.raises(VerificationFailed, match="zip bomb"):
        check_file(path, stream=stream, tick=lambda members, size: inflated.append(size))

    assert not stream.finish()
    assert max(inflated, default=0) == 0


def test_any_archive_may_declare_the_floor(tmp_path: Path) -> None:
    data = zip_bytes({"zeros.bin": bytes(4 << 20)}, compression=zipfile.ZIP_BZIP2)
    path = tmp_path / "a.zip"
    path.write_bytes(data)

    assert len(data) * Limits().ratio < 4 << 20  # 4 MiB of zeros in a few hundred bytes
    assert streamed(data).finish()
    check_file(path)


def test_refuses_a_ratio_beyond_the_limit_when_the_floor_is_lower(tmp_path: Path) -> None:
    data = zip_bytes({"zeros.bin": bytes(4 << 20)})
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    strict = Limits(floor=0, ratio=100)

    with pytest.raises(VerificationFailed, match="at most 100 times its size"):
        check_file(path, limits=strict, stream=streamed(data, limits=strict))


def test_no_deflated_archive_is_refused_for_its_ratio(tmp_path: Path) -> None:
    """Deflate's ceiling is about 1032:1: the ratio allowed is above it."""
    data = zip_bytes({"zeros.bin": bytes(64 << 20)}, compression=zipfile.ZIP_DEFLATED)
    path = tmp_path / "a.zip"
    path.write_bytes(data)

    assert (64 << 20) / len(data) > 1000
    check_file(path, limits=Limits(floor=0), stream=streamed(data, step=1 << 20))


def test_never_inflates_a_member_past_its_declared_size(tmp_path: Path) -> None:
    """A member that lies: it declares 1000 bytes (of zeros) and inflates to 256 MiB of
    zeros. testzip reads what the member declares (and finds it good); the check refuses
    it, having inflated no more than the member declares."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = deflate.compress(bytes(256 << 20)) + deflate.flush()
    honest = zip_bytes({"liar.bin": bytes(1000)})
    start = data_start(honest, 0)
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        compressed = archive.infolist()[0].compress_size
    lying = honest[:start] + payload + honest[start + compressed :]
    path = tmp_path / "liar.zip"
    path.write_bytes(_fix_compressed_size(lying, len(payload)))
    inflated: list[int] = []

    with pytest.raises(VerificationFailed, match="is not the size its directory entry says"):
        check_file(path, tick=lambda members, size: inflated.append(size))

    assert max(inflated) <= 1000
    assert zipfile_verdict(path) == "ok"  # zipfile truncates at the declared size


def _fix_compressed_size(data: bytes, size: int) -> bytes:
    """Set the compressed size of the only member in both its headers (and the directory
    offset that moved with it)."""
    changed = bytearray(data)
    changed[18:22] = size.to_bytes(4, "little")
    central = changed.rfind(b"PK\x01\x02")
    changed[central + 20 : central + 24] = size.to_bytes(4, "little")
    end = changed.rfind(b"PK\x05\x06")
    changed[end + 16 : end + 20] = central.to_bytes(4, "little")
    return bytes(changed)


def test_checks_many_members_in_bounded_memory(tmp_path: Path) -> None:
    data = empty_members(10_000)  # zipfile holds about 4 MiB of ZipInfo for these
    path = tmp_path / "many.zip"
    path.write_bytes(data)

    tracemalloc.start()
    try:
        assert streamed(data, step=256 << 10).finish()
        streaming_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        check_file(path)
        reading_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert streaming_peak < 1 << 20  # nothing kept per member
    assert reading_peak < 10_000 * 1024  # zipfile's entries: under 1 KiB each


def test_refuses_more_members_than_the_limit(tmp_path: Path) -> None:
    data = empty_members(1_001)
    path = tmp_path / "many.zip"
    path.write_bytes(data)
    limits = Limits(members=1_000)

    with pytest.raises(VerificationFailed, match="more than 1,000 members"):
        check_file(path, limits=limits, stream=streamed(data, limits=limits))


def test_a_member_name_in_a_verdict_carries_no_control_characters(tmp_path: Path) -> None:
    name = "evil\n::stop-commands::x\x1b[31m"
    data = zip_bytes({name: b"hello" * 100}, compression=zipfile.ZIP_STORED)
    path = tmp_path / "a.zip"
    path.write_bytes(flipped(data, data_start(data, 0) + 3))

    with pytest.raises(VerificationFailed) as failure:
        check_file(path)

    assert "fails its CRC check" in str(failure.value)
    assert "\n" not in str(failure.value) and "\x1b" not in str(failure.value)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_good_archive_checked_in_one_pass_is_not_read_again(layout: str, tmp_path: Path) -> None:
    data = LAYOUTS[layout]()
    path = tmp_path / "a.zip"
    path.write_bytes(data)

    verdict = check_file(path, stream=streamed(data))

    assert verdict.read_back is None
    with zipfile.ZipFile(path) as archive:
        assert verdict.members == len(archive.infolist())


def test_a_single_pass_that_disagrees_with_the_directory_does_not_count(tmp_path: Path) -> None:
    """The data matches its local headers, but the directory (what zipfile reads) gives
    another CRC: the data is read back and judged against the directory."""
    central = GOOD.rfind(b"PK\x01\x02")
    data = flipped(GOOD, central + 16)  # the last entry's CRC-32
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    lines: list[str] = []

    with pytest.raises(VerificationFailed, match="fails its CRC check"):
        check_file(path, stream=streamed(data), log=lines.append)

    assert lines == [
        "checking the zip by reading it back (the members and the central directory "
        "disagree; a single pass cannot vouch for it)"
    ]
