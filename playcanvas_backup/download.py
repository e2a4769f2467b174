"""Download an archive from its signed URL: streamed, hashed in the same pass, resumed on
faults, verified, and only then moved into place.

The signed URL is a credential: it is fetched without the PlayCanvas token, never appears
in a message, and is asked for again when it stops working (403/404/410).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import requests
import urllib3

from . import retries
from .config import is_loopback
from .errors import DownloadFailed, TransientError, VerificationFailed
from .units import human_size

CHUNK_SIZE = 1 << 20
#: Buffers of CHUNK_SIZE for the hashing thread: how far it may lag behind the transfer.
HASH_BUFFERS = 3
#: (connect, read) timeouts, seconds: a stalled transfer is retried, not waited on forever.
DOWNLOAD_TIMEOUT = (15.0, 60.0)
MAX_ATTEMPTS = retries.DOWNLOAD.attempts
PROGRESS_EVERY = 5.0
#: Free space to keep beyond the archive itself.
DISK_MARGIN = 16 << 20


@dataclass(frozen=True)
class Archive:
    """A downloaded, verified archive at its final path."""

    path: Path
    sha256: str
    size: int
    crc32: int | None


class _Expired(TransientError):
    """The signed URL stopped working: ask PlayCanvas for a fresh one."""


def download(
    fetch_url: Callable[[], str],
    destination: Path,
    *,
    session: requests.Session,
    verify_zip: bool = True,
    want_crc32: bool = False,
    log: Callable[[str], None] = lambda message: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    disk_free: Callable[[Path], int] = lambda folder: shutil.disk_usage(folder).free,
) -> Archive:
    """Download the archive that ``fetch_url()`` points at into ``destination``.

    ``fetch_url`` is called for the first URL and again whenever the signed URL expires.
    Returns only once the archive is complete, verified and renamed into place; on any
    failure nothing is left at (or beside) ``destination``.
    """
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, part_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
    except OSError as exc:
        raise _write_failed(destination.parent, exc) from exc
    part = Path(part_name)
    try:
        # A worker thread hashes while this one receives and writes (all three release the
        # GIL), then writes the archive to disk (fsync) while this one checks the zip.
        with (
            os.fdopen(handle, "w+b") as file,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="download") as worker,
        ):
            transfer = _Transfer(file, part, want_crc32=want_crc32, hasher=worker)
            fetcher = _Fetcher(
                fetch_url, transfer, session=session, log=log, clock=clock, disk_free=disk_free
            )
            retries.DOWNLOAD.retrying(TransientError, sleep=sleep, log=log)(fetcher.attempt)
            transfer.wait()
            file.flush()
            synced = worker.submit(os.fsync, file.fileno())
            try:
                if verify_zip:
                    check_zip(part)
            finally:
                wait_for([synced])
            synced.result()
        # mkstemp made it private (0600); an archive gets the mode any new file would get,
        # so that later steps (the runner's own user, outside the container) can read it.
        part.chmod(0o666 & ~_umask())
        part.replace(destination)
        _fsync_directory(destination.parent)
    except TransientError as exc:
        part.unlink(missing_ok=True)
        raise DownloadFailed(
            f"The archive could not be downloaded after {MAX_ATTEMPTS} attempts: {exc}. "
            "Nothing was written; run the backup again."
        ) from exc
    except OSError as exc:  # the network's are TransientError by now: this is the disk
        part.unlink(missing_ok=True)
        raise _write_failed(destination.parent, exc) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Archive(
        destination,
        transfer.sha256_hex(),
        transfer.size,
        transfer.crc32() if want_crc32 else None,
    )


def check_zip(path: Path) -> None:
    """Read every member of the zip and check its CRC; raise VerificationFailed if any fails."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise VerificationFailed(
            f"The archive is not a readable zip ({exc}); it was not kept. "
            "Run the backup again; if it repeats, export the project "
            "from the PlayCanvas dashboard to compare."
        ) from exc
    if bad is not None:
        raise VerificationFailed(
            f"The archive's member '{bad}' fails its CRC check; the "
            "archive was not kept. Run the backup again."
        )


class _Transfer:
    """The bytes received so far: written here, and hashed (and CRC'd) in the same pass on
    the ``hasher``'s thread, so that hashing overlaps receiving and writing. What has been
    received is always on file (``size`` counts it), for a resume to start there.

    The hashing thread reads copies in a few fixed buffers rather than the received chunks:
    handing it the chunks kept several alive at a time and left the allocator with holes
    of varying sizes, and the peak memory grew with the archive (up to 6 MiB more).
    """

    def __init__(self, file: BinaryIO, path: Path, *, want_crc32: bool, hasher: Executor) -> None:
        self.file = file
        self.path = path
        self.want_crc32 = want_crc32
        self.total: int | None = None
        self._hasher = hasher
        self._buffers = [bytearray(CHUNK_SIZE) for _ in range(HASH_BUFFERS)]
        self._next_buffer = 0
        self._behind: deque[Future[None]] = deque()
        self.restart()

    def restart(self) -> None:
        self.wait()
        self.file.seek(0)
        self.file.truncate()
        self._sha256 = hashlib.sha256()
        self._crc32 = 0
        self.size = 0

    def write(self, chunk: bytes) -> None:
        try:
            self.file.write(chunk)
        except OSError as exc:  # a full disk, say: final, unlike a network fault
            raise _write_failed(self.path.parent, exc) from exc
        self.size += len(chunk)
        view = memoryview(chunk)
        for start in range(0, len(view), CHUNK_SIZE):
            self._hash_soon(view[start : start + CHUNK_SIZE])

    def _hash_soon(self, piece: memoryview) -> None:
        """Copy ``piece`` into the next buffer and have the hashing thread take it from there."""
        while len(self._behind) >= HASH_BUFFERS:  # the next buffer is the oldest one in use
            self._behind.popleft().result()
        buffer = self._buffers[self._next_buffer]
        self._next_buffer = (self._next_buffer + 1) % HASH_BUFFERS
        buffer[: len(piece)] = piece
        self._behind.append(self._hasher.submit(self._digest, memoryview(buffer)[: len(piece)]))

    def wait(self) -> None:
        """Until every byte written so far is hashed."""
        while self._behind:
            self._behind.popleft().result()

    def sha256_hex(self) -> str:
        self.wait()
        return self._sha256.hexdigest()

    def crc32(self) -> int:
        self.wait()
        return self._crc32

    def _digest(self, chunk: memoryview) -> None:
        """On the hasher's thread, one chunk after the other."""
        self._sha256.update(chunk)
        if self.want_crc32:
            self._crc32 = zlib.crc32(chunk, self._crc32)


class _Fetcher:
    """One attempt at a time: resume with Range where the host allows it."""

    def __init__(
        self,
        fetch_url: Callable[[], str],
        transfer: _Transfer,
        *,
        session: requests.Session,
        log: Callable[[str], None],
        clock: Callable[[], float],
        disk_free: Callable[[Path], int],
    ) -> None:
        self._fetch_url = fetch_url
        self._disk_free = disk_free
        self._url: str | None = None
        self._transfer = transfer
        self._session = session
        self._log = log
        self._clock = clock

    def attempt(self) -> None:
        if self._url is None:
            self._url = _checked(self._fetch_url())
        url, transfer = self._url, self._transfer
        headers = {"Accept-Encoding": "identity"}
        if transfer.size:
            headers["Range"] = f"bytes={transfer.size}-"
        try:
            with self._session.get(
                url, headers=headers, stream=True, timeout=DOWNLOAD_TIMEOUT, allow_redirects=True
            ) as response:
                self._start(response)
                progress = _Progress(transfer, self._log, self._clock)
                # read1 hands over what has arrived (up to CHUNK_SIZE): when the connection
                # breaks, every byte received so far is on disk and the resume starts there.
                while chunk := response.raw.read1(CHUNK_SIZE):
                    transfer.write(chunk)
                    progress.update()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(
                f"the download broke off after {transfer.size} bytes ({_redact(exc, url)})"
            ) from exc
        if transfer.total is not None and transfer.size != transfer.total:
            if transfer.size > transfer.total:
                transfer.restart()
            raise TransientError(
                f"the download ended after {transfer.size} of {transfer.total} bytes"
            )

    def _start(self, response: requests.Response) -> None:
        """Check the status and decide: append (206), start over (200) or give up."""
        transfer, status = self._transfer, response.status_code
        if status in {401, 403, 404, 410}:
            self._url = None
            raise _Expired(
                f"the signed download link answered {status} (expired?); "
                "asking PlayCanvas for a fresh one"
            )
        if status == 416:
            transfer.restart()
            raise TransientError("the download host refused to resume; starting over")
        if status == 429 or status >= 500:
            raise TransientError(f"the download host answered {status}")
        if status == 206 and transfer.size:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != transfer.size or (transfer.total and total != transfer.total):
                transfer.restart()
                raise TransientError("the download host resumed at the wrong place; starting over")
            self._log(f"resuming the download at {human_size(transfer.size)}")
        elif status == 200:
            if transfer.size:
                self._log("the download host does not resume (no Range support); starting over")
                transfer.restart()
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            if transfer.total is not None and total is not None and total != transfer.total:
                self._log("the archive's size changed between attempts; starting over")
            transfer.total = total
        else:
            raise DownloadFailed(
                f"The download host answered {status} {response.reason}, "
                "which this tool does not expect. Run the backup again."
            )
        if transfer.total is not None:
            needed, free = transfer.total - transfer.size, self._disk_free(transfer.path.parent)
            if free < needed + DISK_MARGIN:
                raise DownloadFailed(
                    f"Not enough free disk space in {transfer.path.parent}: the archive needs "
                    f"{human_size(needed)} more and {human_size(free)} is free. Free some space "
                    "or choose another 'path'."
                )


class _Progress:
    """Log bytes, percent, rate and time left, at most every few seconds."""

    def __init__(
        self, transfer: _Transfer, log: Callable[[str], None], clock: Callable[[], float]
    ) -> None:
        self._transfer, self._log, self._clock = transfer, log, clock
        self._started = clock()
        self._start_size = transfer.size
        self._next = self._started + PROGRESS_EVERY

    def update(self) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + PROGRESS_EVERY
        size, total = self._transfer.size, self._transfer.total
        rate = (size - self._start_size) / max(now - self._started, 1e-9)
        line = f"downloaded {human_size(size)}"
        if total:
            left = (total - size) / rate if rate else float("inf")
            line += f" of {human_size(total)} ({100 * size // total}%), about {left:.0f} s left"
        self._log(f"{line}, {human_size(int(rate))}/s")


def _checked(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return url
    raise DownloadFailed(
        f"PlayCanvas gave a download link that is not https (host {host!r}); "
        "refusing to fetch the archive over an insecure connection."
    )


def _content_range(value: str) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", value.strip())
    if not match:
        return None, None
    total = match.group(2)
    return int(match.group(1)), int(total) if total.isdigit() else None


def _redact(exc: BaseException, url: str) -> str:
    """An exception's text with the signed URL (and its path and query) cut out."""
    parts = urlsplit(url)
    text = str(exc)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
        if secret:
            text = text.replace(secret, "<signed URL>")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _write_failed(directory: Path, exc: OSError) -> DownloadFailed:
    return DownloadFailed(
        f"Writing the archive in {directory} failed ({exc.strerror or exc}); nothing was kept. "
        "Free some disk space or choose another 'path', then run the backup again."
    )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
