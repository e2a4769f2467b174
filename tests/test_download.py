"""The downloader on its own, against the emulator's download host, with no real waits."""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import os
import socket
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from playcanvas_backup import http
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.download import MAX_ATTEMPTS, download
from playcanvas_backup.errors import DownloadFailed, TimedOut, VerificationFailed
from playcanvas_backup.http import Network
from playcanvas_backup.workflow import Workflow
from tests.emulator import Emulator
from tests.emulator.archives import data_start, declared_bomb, zip_bytes
from tests.scripted_host import Reply, Request, ScriptedHost, serve_bytes, untrusted_tls

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
    archive = download(lambda: link(pc), target, session=http.session(), want_crc32=True)

    data = served(pc)
    assert target.read_bytes() == data
    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert archive.size == len(data)
    assert archive.crc32 == zlib.crc32(data)


def test_gives_up_after_the_attempts_and_leaves_nothing(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.drops, pc.faults.drop_after, pc.faults.no_range = 1000, 100, True

    with pytest.raises(DownloadFailed, match=f"after {MAX_ATTEMPTS} attempts"):
        download(lambda: link(pc), tmp_path / "a.zip", session=http.session(), sleep=no_wait)

    assert len(pc.downloads()) == MAX_ATTEMPTS
    assert list(tmp_path.iterdir()) == []


def test_checks_free_space_before_writing(pc: Emulator, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="Not enough free disk space"):
        download(
            lambda: link(pc),
            tmp_path / "a.zip",
            session=http.session(),
            disk_free=lambda folder: 1000,
        )

    assert len(pc.downloads()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_zip_is_not_kept(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.corrupt_zip = True

    with pytest.raises(VerificationFailed, match="CRC"):
        download(lambda: link(pc), tmp_path / "a.zip", session=http.session())

    assert list(tmp_path.iterdir()) == []


def test_an_existing_archive_is_replaced_only_when_the_new_one_is_good(
    pc: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "a.zip"
    target.write_bytes(b"yesterday's backup")
    pc.faults.corrupt_zip = True

    with pytest.raises(VerificationFailed):
        download(lambda: link(pc), target, session=http.session())

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
            session=http.session(),
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
            session=http.session(),
        )

    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_download_leaves_nothing(pc: Emulator, tmp_path: Path) -> None:
    def cancelled() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(cancelled, tmp_path / "a.zip", session=http.session())

    assert list(tmp_path.iterdir()) == []


def test_reports_progress_every_few_seconds(pc: Emulator, tmp_path: Path) -> None:
    pc._projects[PROJECT].archive_size = 3 << 20
    ticks = iter(range(0, 10_000, 2))  # every look at the clock is two seconds later
    lines: list[str] = []

    download(
        lambda: link(pc),
        tmp_path / "a.zip",
        session=http.session(),
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
    download(lambda: link(pc), target, session=http.session())

    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by later steps


WRITE_LIMITED = """
import resource, signal, sys
from pathlib import Path
from playcanvas_backup import http
from playcanvas_backup.download import download
from playcanvas_backup.errors import DownloadFailed
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
try:
    download(lambda: sys.argv[1], Path(sys.argv[2]), session=http.session())
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


# -- the zip check in the same pass ---------------------------------------------------------


def test_checks_the_zip_in_the_same_pass(pc: Emulator, tmp_path: Path) -> None:
    lines: list[str] = []

    download(lambda: link(pc), tmp_path / "a.zip", session=http.session(), log=lines.append)

    assert not any("reading it back" in line for line in lines), lines


def test_a_resumed_download_continues_the_zip_check(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.drops, pc.faults.drop_after = 1, 70_001
    lines: list[str] = []

    archive = download(
        lambda: link(pc),
        tmp_path / "a.zip",
        session=http.session(),
        sleep=no_wait,
        log=lines.append,
    )

    assert [r.headers.get("Range") for r in pc.downloads()] == [None, "bytes=70001-"]
    assert not any("reading it back" in line for line in lines), lines
    assert archive.sha256 == hashlib.sha256(served(pc)).hexdigest()


def test_a_download_started_over_restarts_the_zip_check(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.drops, pc.faults.drop_after, pc.faults.no_range = 1, 70_001, True
    lines: list[str] = []

    archive = download(
        lambda: link(pc),
        tmp_path / "a.zip",
        session=http.session(),
        sleep=no_wait,
        log=lines.append,
    )

    assert any("starting over" in line for line in lines), lines
    assert not any("reading it back" in line for line in lines), lines
    assert archive.sha256 == hashlib.sha256(served(pc)).hexdigest()


def fetch_bytes(data: bytes, tmp_path: Path, **options: Any) -> tuple[Path, list[str]]:
    """Download ``data`` from a scripted host; returns the target and the log lines."""
    lines: list[str] = []
    target = tmp_path / "a.zip"
    with ScriptedHost(serve_bytes(data)) as host:
        download(
            lambda: host.url("/a.zip?sig=1"),
            target,
            session=http.session(),
            sleep=no_wait,
            log=lines.append,
            **options,
        )
    return target, lines


def test_a_layout_one_pass_cannot_follow_is_read_back(tmp_path: Path) -> None:
    data = zip_bytes(
        {"a.txt": b"x" * 5000, "b.bin": os.urandom(999)},
        streamed=True,
        compression=zipfile.ZIP_STORED,
    )

    target, lines = fetch_bytes(data, tmp_path)

    assert target.read_bytes() == data
    assert any("reading it back (a stored member with a data descriptor" in line for line in lines)


def test_a_damaged_layout_that_is_read_back_is_refused(tmp_path: Path) -> None:
    data = zip_bytes(
        {"a.txt": b"x" * 5000, "b.bin": os.urandom(999)},
        streamed=True,
        compression=zipfile.ZIP_STORED,
    )
    damaged = bytearray(data)
    damaged[data_start(data, 1) + 10] ^= 0xFF

    with pytest.raises(VerificationFailed, match=r"member 'b\.bin' fails its CRC check"):
        fetch_bytes(bytes(damaged), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_refuses_a_zip_bomb_without_inflating_it(tmp_path: Path) -> None:
    bomb = declared_bomb(200, declared=1 << 30)  # 200 GiB of zeros declared in a few KB

    with pytest.raises(VerificationFailed, match="zip bomb"):
        fetch_bytes(bomb, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_logs_progress_while_reading_a_long_archive_back(tmp_path: Path) -> None:
    data = zip_bytes(
        {f"{i}.txt": b"x" * 100 for i in range(50)}, streamed=True, compression=zipfile.ZIP_STORED
    )
    ticks = iter(range(0, 1_000_000, 2))

    _, lines = fetch_bytes(data, tmp_path, clock=lambda: float(next(ticks)))

    assert any(line.startswith("checking the zip: ") and "members" in line for line in lines)


# -- a hostile download host ----------------------------------------------------------------


class LoopbackOnly(http.Session):
    """A session that fails the test if it is ever asked to connect off this machine."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        host = urlsplit(request.url or "").hostname or ""
        assert ipaddress.ip_address(host).is_loopback, f"a connection to {host} was attempted"
        return super().send(request, **kwargs)


def test_follows_a_redirect_and_masks_and_redacts_each_hop(tmp_path: Path) -> None:
    data = zip_bytes({"a.txt": b"hello"})
    lines: list[str] = []

    def script(request: Request) -> Reply:
        if request.target.startswith("/start"):
            return Reply(302, [("Location", "/final?sig=hop-two-secret")])
        return serve_bytes(data)(request)

    workflow = Workflow({}, out=io.StringIO())
    with ScriptedHost(script) as host:
        download(
            lambda: host.url("/start?sig=first"),
            tmp_path / "a.zip",
            session=LoopbackOnly(),
            mask=workflow.mask_url,
            log=lines.append,
        )

    assert (tmp_path / "a.zip").read_bytes() == data
    masked = workflow.secrets
    assert host.url("/final?sig=hop-two-secret") in masked and "sig=hop-two-secret" in masked
    assert "hop-two-secret" in masked
    assert not any("hop-two-secret" in line for line in lines)


def test_a_redirect_signature_never_reaches_a_message(tmp_path: Path) -> None:
    def script(request: Request) -> Reply:
        if request.target.startswith("/start"):
            return Reply(302, [("Location", "/broken?sig=hop-two-secret")])
        return Reply(200, [("Content-Length", "5000")], b"short", close=True)  # breaks off

    with ScriptedHost(script) as host, pytest.raises(DownloadFailed) as failure:
        download(
            lambda: host.url("/start?sig=first"),
            tmp_path / "a.zip",
            session=LoopbackOnly(),
            sleep=no_wait,
        )

    assert "hop-two-secret" not in str(failure.value)


@pytest.mark.parametrize(
    ("location", "address", "refusal"),
    [
        ("http://10.0.0.5/a.zip", None, "not https"),
        ("https://metadata.example/latest", "169.254.169.254", "not a public address"),
        ("https://storage.example/a.zip", "10.0.0.5", "not a public address"),
        ("https://storage.example/a.zip", "192.168.1.20", "not a public address"),
        ("https://storage.example/a.zip", "fd00:ec2::254", "not a public address"),
        ("https://storage.example/a.zip", "::ffff:172.16.0.1", "not a public address"),
        ("https://user:pw@storage.example/a.zip", "93.184.216.34", "carries credentials"),
    ],
)
def test_refuses_a_redirect_to_an_address_that_is_not_public(
    location: str, address: str | None, refusal: str, tmp_path: Path
) -> None:
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return [address] if address else []

    with (
        ScriptedHost(lambda request: Reply(302, [("Location", location)])) as host,
        pytest.raises(DownloadFailed, match=refusal),
    ):
        download(
            lambda: host.url("/a.zip?sig=1"),
            tmp_path / "a.zip",
            session=LoopbackOnly(),
            resolve=resolve,
            verify_zip=False,
        )

    assert len(host.requests) == 1  # refused before any connection to the new host
    assert list(tmp_path.iterdir()) == []


def test_gives_up_after_a_few_redirects(tmp_path: Path) -> None:
    with (
        ScriptedHost(lambda request: Reply(302, [("Location", "/again?sig=1")])) as host,
        pytest.raises(DownloadFailed, match="redirected more than 5 times"),
    ):
        download(lambda: host.url("/a.zip"), tmp_path / "a.zip", session=LoopbackOnly())

    assert len(host.requests) == 6


def test_a_gzip_body_is_never_saved_even_without_verify(tmp_path: Path) -> None:
    body = gzip.compress(zip_bytes({"a.txt": b"hello"}))
    reply = Reply(200, [("Content-Encoding", "gzip")], body)

    with (
        ScriptedHost(lambda request: reply) as host,
        pytest.raises(DownloadFailed, match="encoded \\('gzip'\\)"),
    ):
        download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            verify_zip=False,
            sleep=no_wait,
        )

    assert len(host.requests) == 1  # final: not retried
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", ["\u00b2", "1e3", "-5", "99999999999999999999999", " 0x10"])
def test_an_invalid_content_length_fails_cleanly(length: str, tmp_path: Path) -> None:
    reply = Reply(200, [("Content-Length", length)], b"", length=False)

    with (
        ScriptedHost(lambda request: reply) as host,
        pytest.raises(DownloadFailed, match="invalid Content-Length"),
    ):
        download(lambda: host.url("/a.zip"), tmp_path / "a.zip", session=http.session())

    assert list(tmp_path.iterdir()) == []


def test_a_host_trickling_bytes_fails_when_the_deadline_passes(tmp_path: Path) -> None:
    """A byte every (emulated) 59 s: each read is within the read timeout, but the
    deadline (300 s) ends the download after a few of them."""
    now = [0.0]

    def clock() -> float:
        now[0] += 59.0
        return now[0]

    reply = Reply(200, [], b"x" * 1000, trickle=0.01)
    started = time.monotonic()

    with (
        ScriptedHost(lambda request: reply) as host,
        pytest.raises(TimedOut, match="did not finish within 'timeout' \\(300 s\\)"),
    ):
        download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            clock=clock,
            deadline=Deadline(300.0, clock, 300),
            sleep=no_wait,
        )

    assert time.monotonic() - started < 5
    assert len(host.requests) == 1
    assert list(tmp_path.iterdir()) == []


def test_retries_never_wait_past_the_deadline(pc: Emulator, tmp_path: Path) -> None:
    pc.faults.download_errors = 1000
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(TimedOut, match="longer than 'timeout' \\(5 s\\)"):
        download(
            lambda: link(pc),
            tmp_path / "a.zip",
            session=http.session(),
            clock=lambda: now[0],
            sleep=sleep,
            deadline=Deadline(5.0, lambda: now[0], 5),
        )

    assert sum(waits) <= 5.0
    assert list(tmp_path.iterdir()) == []


def test_a_certificate_failure_is_final_at_once(tmp_path: Path) -> None:
    waits: list[float] = []
    with (
        untrusted_tls(tmp_path) as tls,
        ScriptedHost(serve_bytes(b"PK"), tls=tls) as host,
        pytest.raises(DownloadFailed, match="certificate failed verification"),
    ):
        download(
            lambda: host.url("/a.zip?sig=1"),
            tmp_path / "out" / "a.zip",
            session=http.session(),
            sleep=waits.append,
        )

    assert waits == []


def test_a_malformed_link_is_final_at_once(tmp_path: Path) -> None:
    waits: list[float] = []

    with pytest.raises(DownloadFailed, match="not a valid URL"):
        download(
            lambda: "http://127.0.0.1:99999/a.zip",
            tmp_path / "a.zip",
            session=LoopbackOnly(),
            sleep=waits.append,
        )

    assert waits == []


def test_sends_no_netrc_credentials(
    pc: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "home" / ".netrc"
    netrc.parent.mkdir()
    netrc.write_text("machine 127.0.0.2 login runner password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(netrc.parent))
    monkeypatch.setenv("NETRC", str(netrc))

    download(lambda: link(pc), tmp_path / "a.zip", session=http.session())

    assert "Authorization" not in pc.downloads()[0].headers


def test_uses_the_proxy_from_https_proxy_only(tmp_path: Path) -> None:
    """HTTPS_PROXY is honoured (the proxy resolves and connects, so no address check
    here); the proxy here refuses the tunnel, which is retried and fails."""
    with (
        ScriptedHost(lambda request: Reply(403, [], b"no")) as proxy,
        pytest.raises(DownloadFailed),
    ):
        download(
            lambda: "https://storage.example/a.zip?sig=1",
            tmp_path / "a.zip",
            session=http.session(Network(https_proxy=proxy.origin)),
            sleep=no_wait,
            resolve=lambda host, port: pytest.fail("resolved although a proxy connects"),
        )

    assert proxy.requests[0].method == "CONNECT"
    assert proxy.requests[0].target == "storage.example:443"


def test_no_proxy_sends_the_download_direct_with_the_address_check(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="not a public address"):
        download(
            lambda: "https://storage.example/a.zip?sig=1",
            tmp_path / "a.zip",
            session=LoopbackOnly(Network(https_proxy="http://127.0.0.9:1", no_proxy=".example")),
            resolve=lambda host, port: ["10.1.2.3"],
        )


def test_receives_a_chunked_body_whole(tmp_path: Path) -> None:
    data = zip_bytes({"a.bin": os.urandom(300_000)}, compression=zipfile.ZIP_STORED)
    chunks = b"".join(
        b"%x\r\n" % len(data[i : i + 70_000]) + data[i : i + 70_000] + b"\r\n"
        for i in range(0, len(data), 70_000)
    )
    reply = Reply(200, [("Transfer-Encoding", "chunked")], chunks + b"0\r\n\r\n", length=False)
    lines: list[str] = []

    with ScriptedHost(lambda request: reply) as host:
        archive = download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            log=lines.append,
        )

    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert not any("reading it back" in line for line in lines), lines


# -- verify: false still checks what it can ---------------------------------------------------


def test_without_verify_a_body_shorter_than_its_length_is_not_kept(tmp_path: Path) -> None:
    reply = Reply(200, [("Content-Length", "1000")], b"x" * 10, length=False, close=True)

    with (
        ScriptedHost(lambda request: reply) as host,
        pytest.raises(DownloadFailed, match=r"after 10 of 1000 bytes|broke off after 10 bytes"),
    ):
        download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            verify_zip=False,
            sleep=no_wait,
        )

    assert list(tmp_path.iterdir()) == []


def test_without_verify_a_body_without_a_length_is_not_kept(tmp_path: Path) -> None:
    data = zip_bytes({"a.txt": b"hello"})

    with (
        ScriptedHost(lambda request: Reply(200, [], data, length=False)) as host,
        pytest.raises(DownloadFailed, match="without its length, and 'verify' is false"),
    ):
        download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            verify_zip=False,
            sleep=no_wait,
        )

    assert list(tmp_path.iterdir()) == []


def test_with_verify_a_body_without_a_length_is_kept_once_its_zip_is_verified(
    tmp_path: Path,
) -> None:
    data = zip_bytes({"a.txt": b"hello"})

    with ScriptedHost(lambda request: Reply(200, [], data, length=False)) as host:
        archive = download(lambda: host.url("/a.zip"), tmp_path / "a.zip", session=http.session())

    assert archive.path.read_bytes() == data


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("cut", [0, 12, 30])
def test_a_connection_cut_inside_the_headers_is_retried(
    tmp_path: Path, verify: bool, cut: int
) -> None:
    data = zip_bytes({"a.txt": b"hello"})
    whole = serve_bytes(data)
    replies = iter([Reply(200, [], data, cut_headers=cut)])

    def script(request: Request) -> Reply:
        return next(replies, None) or whole(request)

    with ScriptedHost(script) as host:
        archive = download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            verify_zip=verify,
            sleep=no_wait,
        )

    assert archive.path.read_bytes() == data
    assert len(host.requests) == 2


def test_a_stalled_download_host_is_left_when_the_deadline_passes(tmp_path: Path) -> None:
    """No byte for 30 s: the socket's timeout is the deadline's, not the 60 s stall limit."""
    reply = Reply(200, [], b"ab", trickle=30)
    started = time.monotonic()

    with (
        ScriptedHost(lambda request: reply) as host,
        pytest.raises(TimedOut, match=r"'timeout' \(2 s\)"),
    ):
        download(
            lambda: host.url("/a.zip"),
            tmp_path / "a.zip",
            session=http.session(),
            deadline=Deadline.after(2, clock=time.monotonic),
            sleep=no_wait,
        )

    assert time.monotonic() - started < 4
    assert list(tmp_path.iterdir()) == []
