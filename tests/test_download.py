"""The downloader on its own, against the emulator's download host, with no real waits."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from playcanvas_backup.download import MAX_ATTEMPTS, download
from playcanvas_backup.errors import DownloadFailed, VerificationFailed
from tests.emulator import Emulator

PROJECT = 5


@pytest.fixture
def pc() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.add_project(PROJECT, archive_size=200_000)
        yield emulator


def link(pc: Emulator) -> str:
    """A fresh signed URL, as a completed job carries it."""
    session = requests.Session()
    auth = {"Authorization": f"Bearer {pc.token}"}
    job = session.post(f"{pc.api_url}/projects/{PROJECT}/export", headers=auth).json()
    job = session.get(f"{pc.api_url}/jobs/{job['id']}", headers=auth).json()
    return str(job["data"]["url"])


def no_wait(seconds: float) -> None:
    """Retries happen at once in these tests."""


def served(pc: Emulator) -> bytes:
    branch_id = pc._projects[PROJECT].branches[0]["id"]
    return pc.archive_path(PROJECT, branch_id).read_bytes()


def test_hashes_and_crcs_in_the_same_pass(pc: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "a.zip"
    archive = download(lambda: link(pc), target, session=requests.Session(), want_crc32=True)

    data = served(pc)
    assert target.read_bytes() == data
    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert archive.size == len(data)
    assert archive.crc32 == zlib.crc32(data)


def test_gives_up_after_the_attempts_and_leaves_nothing(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.drops, pc.faults.drop_after, pc.faults.no_range = 1000, 100, True

    with pytest.raises(DownloadFailed, match=f"after {MAX_ATTEMPTS} attempts"):
        download(lambda: link(pc), tmp_path / "a.zip", session=requests.Session(), sleep=no_wait)

    assert len(pc.downloads()) == MAX_ATTEMPTS
    assert list(tmp_path.iterdir()) == []


def test_checks_free_space_before_writing(pc: Emulator, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="Not enough free disk space"):
        download(
            lambda: link(pc),
            tmp_path / "a.zip",
            session=requests.Session(),
            disk_free=lambda folder: 1000,
        )

    assert len(pc.downloads()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_zip_is_not_kept(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.corrupt_zip = True

    with pytest.raises(VerificationFailed, match="CRC"):
        download(lambda: link(pc), tmp_path / "a.zip", session=requests.Session())

    assert list(tmp_path.iterdir()) == []


def test_an_existing_archive_is_replaced_only_when_the_new_one_is_good(
    pc: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "a.zip"
    target.write_bytes(b"yesterday's backup")
    pc.faults.corrupt_zip = True

    with pytest.raises(VerificationFailed):
        download(lambda: link(pc), target, session=requests.Session())

    assert target.read_bytes() == b"yesterday's backup"


def test_never_puts_the_signed_url_in_a_message(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/archive.zip?X-Amz-Signature=s3cr3t-signature"
    lines: list[str] = []

    with pytest.raises(DownloadFailed) as failure:
        download(
            lambda: url,
            tmp_path / "a.zip",
            session=requests.Session(),
            sleep=no_wait,
            log=lines.append,
        )

    assert "ConnectionError" in str(failure.value)
    for text in [str(failure.value), *lines]:
        assert "s3cr3t-signature" not in text
        assert "archive.zip?" not in text


def test_refuses_a_plain_http_link_to_another_host(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="not https"):
        download(
            lambda: "http://storage.example.com/a.zip?sig=1",
            tmp_path / "a.zip",
            session=requests.Session(),
        )

    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_download_leaves_nothing(pc: Emulator, tmp_path: Path) -> None:
    def cancelled() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(cancelled, tmp_path / "a.zip", session=requests.Session())

    assert list(tmp_path.iterdir()) == []


def test_reports_progress_every_few_seconds(pc: Emulator, tmp_path: Path) -> None:
    pc._projects[PROJECT].archive_size = 3 << 20
    ticks = iter(range(0, 10_000, 2))  # every look at the clock is two seconds later
    lines: list[str] = []

    download(
        lambda: link(pc),
        tmp_path / "a.zip",
        session=requests.Session(),
        log=lines.append,
        clock=lambda: float(next(ticks)),
    )

    progress = [line for line in lines if line.startswith("downloaded ")]
    assert progress, lines
    assert all(
        "MiB" in line and "%" in line and "s left" in line and "/s" in line for line in progress
    )


def test_gives_the_archive_the_usual_file_mode(pc: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "a.zip"
    download(lambda: link(pc), target, session=requests.Session())

    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by later steps


WRITE_LIMITED = """
import resource, signal, sys
import requests
from pathlib import Path
from playcanvas_backup.download import download
from playcanvas_backup.errors import DownloadFailed
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
try:
    download(lambda: sys.argv[1], Path(sys.argv[2]), session=requests.Session())
except DownloadFailed as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_failing_disk_is_final_and_leaves_nothing(pc: Emulator, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITE_LIMITED, link(pc), str(tmp_path / "out" / "a.zip")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert done.returncode == 3, done.stdout + done.stderr
    assert "Writing the archive in" in done.stdout and "File too large" in done.stdout
    assert len(pc.downloads()) == 1  # not retried
    assert list((tmp_path / "out").iterdir()) == []
