"""Download an archive from its signed URL: received into a few fixed buffers, written,
hashed and zip-checked in the same pass, resumed on faults, and only then moved into place.

The signed URL is a credential: it is fetched without the PlayCanvas token, never appears
in a message, and is asked for again when it stops working (401/403/404/410). Everything
the download host sends is untrusted: redirects are followed by hand and each hop is
checked as the first URL is (https, public addresses), header numbers are validated, no
``Content-Encoding`` is accepted, and one deadline bounds the whole download and check.

How the bytes move: this thread receives straight into one of ``BUFFERS`` preallocated
buffers (``readinto1`` on the connection's socket file, one ``recv`` at a time, so the
deadline is looked at between reads), writes it with ``os.pwrite`` and hands the same
buffer to two worker threads: one hashes (SHA-256), the other follows the zip
(:class:`~.zipcheck.ZipStream`: each member's CRC-32, inflating compressed members) and
computes the whole file's CRC-32 when asked. A buffer is reused once both are done with
it, so memory stays flat whatever the archive's size. Writeback to disk starts as the
bytes arrive (``sync_file_range``, where Linux has it), so that the final ``fsync`` has
little left to wait for.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import os
import re
import shutil
import socket
import ssl
import tempfile
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from . import retries
from .config import is_loopback
from .errors import DownloadFailed, TransientError
from .files import move_into_place
from .units import human_size
from .zipcheck import LIMITS, Limits, ZipStream, check_file

#: Bytes per buffer: large enough that Python's per-read overhead vanishes (a loopback
#: ``recv`` fills one in a call or two), small enough that the workers read a buffer while
#: it is still in the CPU's cache. Measured on the 2-core bench machine: 512 KiB gave
#: steady times; 1 MiB and 4 MiB buffers ran up to 1.7x slower in some runs.
CHUNK_SIZE = 512 << 10
#: How many buffers (4 MiB in all): how far the workers may lag behind the transfer.
BUFFERS = 8
#: (connect, read) timeouts, seconds: a stalled transfer is retried, not waited on forever.
DOWNLOAD_TIMEOUT = (15.0, 60.0)
MAX_ATTEMPTS = retries.DOWNLOAD.attempts
#: Redirects followed (each hop is checked like the first URL).
MAX_REDIRECTS = 5
PROGRESS_EVERY = 5.0
#: Free space to keep beyond the archive itself.
DISK_MARGIN = 16 << 20
#: The largest archive size a header may announce (1 TiB); anything beyond is a lie.
MAX_ARCHIVE = 1 << 40
#: Start writing back to disk every this many bytes received.
WRITEBACK_EVERY = 8 << 20
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Archive:
    """A downloaded, verified archive at its final path."""

    path: Path
    sha256: str
    size: int
    crc32: int | None


class _Expired(TransientError):
    """The signed URL stopped working: ask PlayCanvas for a fresh one."""


def _ignore(text: str) -> None:
    """No mask: outside GitHub Actions nothing needs one."""


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses a connection to ``host`` would use (the system's resolver)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


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
    mask: Callable[[str], None] = _ignore,
    deadline: float | None = None,
    resolve: Callable[[str, int], list[str]] = resolve_host,
    environ: Mapping[str, str] = os.environ,
    limits: Limits = LIMITS,
    place: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
) -> Archive:
    """Download the archive that ``fetch_url()`` points at into ``destination``.

    ``fetch_url`` is called for the first URL and again whenever the signed URL expires;
    ``mask`` is called with every URL the download goes to (each redirect hop) and its
    query before it is used. ``deadline`` (on ``clock``) bounds the whole download and
    check: every read, wait and retry. ``session`` is used with ``trust_env`` off: no
    ``.netrc``, and a proxy only from ``HTTPS_PROXY``/``NO_PROXY`` in ``environ``.
    Returns only once the archive is complete, verified and renamed into place; on any
    failure nothing is left at (or beside) ``destination``. With ``place=False`` the
    verified archive stays at its private temporary name beside ``destination`` (the
    returned ``path``), never renamed: the caller owns it and removes it.
    failure nothing is left at (or beside) ``destination``. ``progress``, when given, is
    called with (bytes so far, total or None) after every chunk, in place of the
    periodic progress lines in ``log`` (a progress bar).
    """
    time_left = _Deadline(clock, deadline)
    session.trust_env = False
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, part_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
    except OSError as exc:
        raise _write_failed(destination.parent, exc) from exc
    part = Path(part_name)
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(os.close, fd)
            hasher = stack.enter_context(ThreadPoolExecutor(1, "download-hash"))
            checker = stack.enter_context(ThreadPoolExecutor(1, "download-check"))
            transfer = _Transfer(
                fd,
                part,
                want_crc32=want_crc32,
                verify_zip=verify_zip,
                limits=limits,
                time_left=time_left,
                workers=(hasher, checker),
            )
            fetcher = _Fetcher(
                fetch_url,
                transfer,
                session=session,
                log=log,
                clock=clock,
                disk_free=disk_free,
                mask=mask,
                time_left=time_left,
                resolve=resolve,
                environ=environ,
                progress=progress,
            )
            retrying = retries.DOWNLOAD.retrying(
                TransientError, sleep=sleep, log=log, deadline=deadline, clock=clock
            )
            retrying(fetcher.attempt)
            transfer.finish()
            # The disk catches up with the last bytes while (rarely) the zip is read back.
            synced = hasher.submit(os.fsync, fd)
            try:
                if verify_zip and not transfer.zip_proven():
                    log(
                        "checking the zip by reading it back "
                        f"({transfer.zip_unproven()}; a single pass cannot vouch for it)"
                    )
                    check_file(part, limits=limits, tick=_CheckProgress(log, clock, time_left))
            finally:
                wait_for([synced])
            synced.result()
        if place:
            move_into_place(part, destination)
    except TransientError as exc:
        part.unlink(missing_ok=True)
        # Stopped short of its attempts: the next wait would have ended past the deadline.
        if time_left.expired() or retrying.statistics.get("attempt_number", 0) < MAX_ATTEMPTS:
            raise time_left.failure(fetcher.redact(str(exc))) from exc
        raise DownloadFailed(
            f"The archive could not be downloaded after {MAX_ATTEMPTS} attempts: "
            f"{fetcher.redact(str(exc))}. Nothing was written; run the backup again."
        ) from exc
    except OSError as exc:  # the network's are TransientError by now: this is the disk
        part.unlink(missing_ok=True)
        raise _write_failed(destination.parent, exc) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Archive(
        destination if place else part,
        transfer.sha256_hex(),
        transfer.size,
        transfer.crc32() if want_crc32 else None,
    )


class _Deadline:
    """The time left before ``deadline`` on ``clock`` (none: unlimited)."""

    def __init__(self, clock: Callable[[], float], deadline: float | None) -> None:
        self._clock, self._deadline = clock, deadline

    def left(self) -> float:
        if self._deadline is None:
            return float("inf")
        return self._deadline - self._clock()

    def expired(self) -> bool:
        return self.left() <= 0

    def check(self) -> None:
        if self.expired():
            raise self.failure()

    def failure(self, last: str = "") -> DownloadFailed:
        cause = f" (last: {last})" if last else ""
        return DownloadFailed(
            "The archive was not downloaded and checked before the deadline "
            f"(the 'timeout' input){cause}; nothing was kept. Run the backup again, "
            "or give it more time."
        )

    def timeout(self, wanted: float) -> float:
        """A socket timeout: ``wanted``, or less when the deadline is nearer."""
        return max(0.001, min(wanted, self.left()))


class _Transfer:
    """The bytes received so far: written to the file, and handed (the same buffers) to
    the hashing thread and the checking thread. What has been received is always on file
    (``size`` counts it), for a resume to start there."""

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        want_crc32: bool,
        verify_zip: bool,
        limits: Limits,
        time_left: _Deadline,
        workers: tuple[ThreadPoolExecutor, ThreadPoolExecutor],
    ) -> None:
        self.fd, self.path = fd, path
        self.want_crc32, self.verify_zip = want_crc32, verify_zip
        self.total: int | None = None
        self._limits, self._time_left = limits, time_left
        self._hasher, self._checker = workers
        self._buffers = [memoryview(bytearray(CHUNK_SIZE)) for _ in range(BUFFERS)]
        self._users: list[list[Future[None]]] = [[] for _ in range(BUFFERS)]
        self._next = 0
        self._writeback = _writeback_function()
        self.restart()

    def restart(self) -> None:
        """Forget every byte: the next ones are the archive's first."""
        self.finish()
        os.ftruncate(self.fd, 0)
        self._sha256 = hashlib.sha256()
        self._crc32 = 0
        self._zip: ZipStream | None = None
        self.size = 0
        self._written_back = 0

    def buffer(self) -> memoryview:
        """The next free buffer to receive into (waits until the workers are done with it)."""
        users, self._users[self._next] = self._users[self._next], []
        for user in users:
            user.result()
        return self._buffers[self._next]

    def commit(self, buffer: memoryview, count: int) -> None:
        """``count`` bytes were received into ``buffer``: write them and hand them on."""
        data = buffer[:count]
        try:
            written = 0
            while written < count:
                written += os.pwrite(self.fd, data[written:], self.size + written)
        except OSError as exc:  # a full disk, say: final, unlike a network fault
            raise _write_failed(self.path.parent, exc) from exc
        if self.size == 0 and self.verify_zip:
            self._zip = ZipStream(size=self.total, limits=self._limits, tick=self._tick)
        self.size += count
        self._users[self._next] = [self._hasher.submit(self._sha256.update, data)]
        if self._zip is not None or self.want_crc32:
            self._users[self._next].append(self._checker.submit(self._check, data))
        self._next = (self._next + 1) % BUFFERS
        if self._writeback is not None and self.size - self._written_back >= WRITEBACK_EVERY:
            self._writeback(self.fd, self._written_back, self.size - self._written_back)
            self._written_back = self.size

    def finish(self) -> None:
        """Until every byte received so far is hashed and checked (raises what they raised)."""
        for index in range(BUFFERS):
            users, self._users[index] = self._users[index], []
            for user in users:
                user.result()

    def zip_proven(self) -> bool:
        return self._zip is not None and self._zip.finish()

    def zip_unproven(self) -> str:
        return (self._zip.unproven if self._zip is not None else None) or "no data"

    def sha256_hex(self) -> str:
        return self._sha256.hexdigest()

    def crc32(self) -> int:
        return self._crc32

    def _check(self, data: memoryview) -> None:
        """On the checking thread, one buffer after the other."""
        if self.want_crc32:
            self._crc32 = zlib.crc32(data, self._crc32)
        if self._zip is not None:
            self._zip.feed(data)

    def _tick(self, members: int, inflated: int) -> None:
        self._time_left.check()


class _CheckProgress:
    """While reading the zip back: the deadline, and a progress line every few seconds."""

    def __init__(
        self, log: Callable[[str], None], clock: Callable[[], float], time_left: _Deadline
    ) -> None:
        self._log, self._clock, self._time_left = log, clock, time_left
        self._next = clock() + PROGRESS_EVERY

    def __call__(self, members: int, inflated: int) -> None:
        self._time_left.check()
        now = self._clock()
        if now >= self._next and members:
            self._next = now + PROGRESS_EVERY
            self._log(f"checking the zip: {members:,} members, {human_size(inflated)} inflated")


class _Fetcher:
    """One attempt at a time: follow redirects by hand, resume with Range where the host
    allows it, receive into the transfer's buffers."""

    def __init__(
        self,
        fetch_url: Callable[[], str],
        transfer: _Transfer,
        *,
        session: requests.Session,
        log: Callable[[str], None],
        clock: Callable[[], float],
        disk_free: Callable[[Path], int],
        mask: Callable[[str], None],
        time_left: _Deadline,
        resolve: Callable[[str, int], list[str]],
        environ: Mapping[str, str],
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self._fetch_url = fetch_url
        self._progress = progress
        self._disk_free = disk_free
        self._url: str | None = None
        self._transfer = transfer
        self._session = session
        self._log, self._clock, self._mask = log, clock, mask
        self._time_left = time_left
        self._resolve = resolve
        self._environ = environ
        self._ca_bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
        #: Every URL this download went to: cut out of every message.
        self._secrets: list[str] = []

    def redact(self, text: str) -> str:
        """``text`` with every URL of this download (and its path and query) cut out."""
        for url in sorted(self._secrets, key=len, reverse=True):
            parts = urlsplit(url)
            for secret in (
                url,
                parts.path + ("?" + parts.query if parts.query else ""),
                parts.query,
            ):
                if len(secret) > 1:
                    text = text.replace(secret, "<signed URL>")
        return text

    def attempt(self) -> None:
        self._time_left.check()
        if self._url is None:
            self._url = self._fetch_url()
            self._remember(self._url)
        transfer = self._transfer
        try:
            with self._open(self._url) as response:
                self._start(response)
                self._receive(response)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if self._time_left.expired():
                raise self._time_left.failure() from exc
            raise TransientError(
                f"the download broke off after {transfer.size} bytes ({self._describe(exc)})"
            ) from exc
        if transfer.total is not None and transfer.size != transfer.total:
            if transfer.size > transfer.total:
                transfer.restart()
            raise TransientError(
                f"the download ended after {transfer.size} of {transfer.total} bytes"
            )

    def _remember(self, url: str) -> None:
        """Mask and redact ``url`` (the whole link and its query: the signature)."""
        self._secrets.append(url)
        self._mask(url)
        query = urlsplit(url).query
        if query:
            self._mask(query)

    def _open(self, first: str) -> requests.Response:
        """The response of the last hop: redirects followed by hand, each hop checked."""
        url = first
        loopback_ok = _is_loopback_url(first)
        headers = {"Accept-Encoding": "identity"}
        if self._transfer.size:
            headers["Range"] = f"bytes={self._transfer.size}-"
        for hop in range(MAX_REDIRECTS + 1):
            proxies = _proxies(url, self._environ)
            _check_url(url, resolve=None if proxies else self._resolve, loopback_ok=loopback_ok)
            response = self._get(url, headers, proxies)
            if response.status_code not in REDIRECTS or "Location" not in response.headers:
                return response
            response.close()
            try:
                url = urljoin(url, response.headers["Location"].strip())
            except ValueError as exc:
                raise DownloadFailed(
                    "The download host sent a redirect that is not a URL; refusing to follow it."
                ) from exc
            self._remember(url)
            if hop < MAX_REDIRECTS:
                self._log(f"following a redirect to {urlsplit(url).hostname or '?'!r}")
        raise DownloadFailed(
            f"The download link redirected more than {MAX_REDIRECTS} times; refusing to "
            "follow it further. Run the backup again."
        )

    def _get(self, url: str, headers: dict[str, str], proxies: dict[str, str]) -> requests.Response:
        connect, read = DOWNLOAD_TIMEOUT
        timeout = (self._time_left.timeout(connect), self._time_left.timeout(read))
        try:
            return self._session.get(
                url,
                headers=headers,
                stream=True,
                timeout=timeout,
                allow_redirects=False,
                proxies=proxies,
                verify=self._ca_bundle or True,
            )
        except retries.UNUSABLE_REQUEST as exc:
            raise DownloadFailed(
                f"The download link cannot be fetched ({self._describe(exc)}); "
                "run the backup again."
            ) from exc
        except requests.exceptions.SSLError as exc:
            if _certificate_failed(exc):
                raise DownloadFailed(
                    "The download host's TLS certificate failed verification "
                    f"({self._describe(exc)}); refusing to fetch the archive."
                ) from exc
            raise

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
        if status not in {200, 206} or (status == 206 and not transfer.size):
            raise DownloadFailed(
                f"The download host answered {status}, which this tool does not expect. "
                "Run the backup again."
            )
        _check_encoding(response.headers)
        length = _size_header(response.headers.get("Content-Length"), "Content-Length")
        if status == 206:
            first, last, total = _content_range(response.headers.get("Content-Range", ""))
            if (
                first != transfer.size
                or (transfer.total is not None and total != transfer.total)
                or (
                    length is not None
                    and last is not None
                    and first is not None
                    and length != last - first + 1
                )
            ):
                transfer.restart()
                raise TransientError("the download host resumed at the wrong place; starting over")
            self._log(f"resuming the download at {human_size(transfer.size)}")
        else:
            if transfer.size:
                self._log("the download host does not resume (no Range support); starting over")
                transfer.restart()
            if transfer.total is not None and length is not None and length != transfer.total:
                self._log("the archive's size changed between attempts; starting over")
            transfer.total = length
        if transfer.total is not None:
            needed, free = transfer.total - transfer.size, self._disk_free(transfer.path.parent)
            if free < needed + DISK_MARGIN:
                raise DownloadFailed(
                    f"Not enough free disk space in {transfer.path.parent}: the archive needs "
                    f"{human_size(needed)} more and {human_size(free)} is free. Free some space "
                    "or choose another 'path'."
                )

    def _receive(self, response: requests.Response) -> None:
        """Receive the body into the transfer's buffers, one ``recv`` at a time."""
        transfer, time_left = self._transfer, self._time_left
        length = transfer.total - transfer.size if transfer.total is not None else None
        read_into, sock = _body_reader(response, length)
        progress = _Progress(transfer, self._log, self._clock, self._progress)
        ended = False
        while not ended:
            buffer, filled = transfer.buffer(), 0
            try:
                while filled < CHUNK_SIZE:
                    time_left.check()
                    if sock is not None and time_left.left() < DOWNLOAD_TIMEOUT[1]:
                        sock.settimeout(time_left.timeout(DOWNLOAD_TIMEOUT[1]))
                    count = read_into(buffer[filled:])
                    if not count:
                        ended = True
                        break
                    filled += count
            finally:
                # What arrived before a fault is kept: a resume starts after it.
                if filled:
                    transfer.commit(buffer, filled)
            progress.update()

    def _describe(self, exc: BaseException) -> str:
        text = self.redact(str(exc))
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _body_reader(
    response: requests.Response, length: int | None
) -> tuple[Callable[[memoryview], int], Any]:
    """A function that receives at most ``len(view)`` body bytes into ``view`` (0 at the
    end) with at most one ``recv``, and the socket underneath (None if not found).

    A body with a Content-Length or none (ended by the connection's close) is read from
    the connection's own socket file, straight into the buffer: urllib3's ``readinto``
    would allocate a new bytes object for every read, and ``http.client``'s fills the
    whole buffer before it returns (no deadline check in between). A chunked body goes
    through urllib3 (``read1``: one chunk at a time, copied).
    """
    raw = response.raw
    http_response = getattr(raw, "_fp", None)
    socket_file = getattr(http_response, "fp", None)
    if getattr(http_response, "chunked", True) or not hasattr(socket_file, "readinto1"):

        def read_chunked(view: memoryview) -> int:
            data = raw.read1(len(view))
            view[: len(data)] = data
            return len(data)

        return read_chunked, None
    sock = getattr(getattr(socket_file, "raw", None), "_sock", None)
    left = length

    def read_into(view: memoryview) -> int:
        nonlocal left
        if left is not None:
            view = view[:left]
            if not view:
                return 0
        count: int = socket_file.readinto1(view)  # type: ignore[union-attr]
        if left is not None:
            left -= count
        return count

    return read_into, sock


class _Progress:
    """Log bytes, percent, rate and time left, at most every few seconds; or, given
    ``each``, tell it the bytes after every chunk instead."""

    def __init__(
        self,
        transfer: _Transfer,
        log: Callable[[str], None],
        clock: Callable[[], float],
        each: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self._transfer, self._log, self._clock, self._each = transfer, log, clock, each
        self._started = clock()
        self._start_size = transfer.size
        self._next = self._started + PROGRESS_EVERY

    def update(self) -> None:
        if self._each is not None:
            self._each(self._transfer.size, self._transfer.total)
            return
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


def _is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def _check_url(
    url: str, *, resolve: Callable[[str, int], list[str]] | None, loopback_ok: bool
) -> None:
    """Refuse (DownloadFailed, before any connection) a URL that is not https (plain http
    only to loopback), carries credentials, or whose host resolves to an address that is
    not public (private, link-local such as cloud metadata, reserved; loopback only when
    the first link was loopback). ``resolve`` is None when a proxy makes the connection."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DownloadFailed("The download link is not a valid URL; refusing to fetch it.") from exc
    shown = repr(host[:100])
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise DownloadFailed(
            f"The download link is not https (host {shown}); "
            "refusing to fetch the archive over an insecure connection."
        )
    if parts.username is not None or parts.password is not None:
        raise DownloadFailed(f"The download link to {shown} carries credentials; refusing it.")
    if resolve is None:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = []
    try:
        addresses = addresses or resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise TransientError(f"the download host {shown} could not be resolved ({exc})") from exc
    for address in addresses:
        if not _public(address, loopback_ok=loopback_ok):
            raise DownloadFailed(
                f"The download link's host {shown} is at {address}, which is not a public "
                "address (private, link-local or metadata); refusing to fetch it."
            )


def _public(address: str, *, loopback_ok: bool) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return loopback_ok
    return ip.is_global and not ip.is_multicast


def _proxies(url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy for ``url`` from HTTPS_PROXY and NO_PROXY only (plain http, which only
    goes to loopback, never through a proxy)."""
    parts = urlsplit(url)
    proxy = environ.get("HTTPS_PROXY") or environ.get("https_proxy")
    if parts.scheme != "https" or not proxy:
        return {}
    host = (parts.hostname or "").lower()
    for entry in (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(","):
        pattern = entry.strip().lower()
        if pattern.startswith("*."):
            pattern = pattern[1:]
        if pattern == "*" or (
            pattern and (host == pattern.lstrip(".") or host.endswith("." + pattern.lstrip(".")))
        ):
            return {}
    return {"https": proxy}


def _check_encoding(headers: Mapping[str, str]) -> None:
    """Refuse a body that is not the archive's own bytes (gzip'd, say): it would be saved
    as the zip, or pass a check that reads something else."""
    encoding = headers.get("Content-Encoding", "").strip().lower()
    transfer = headers.get("Transfer-Encoding", "").strip().lower()
    if encoding not in {"", "identity"} or transfer not in {"", "identity", "chunked"}:
        shown = (encoding or transfer)[:40].encode("ascii", "replace").decode()
        raise DownloadFailed(
            f"The download host sent the archive encoded ({shown!r}) although it was asked "
            "for the plain bytes; refusing to save it. Run the backup again."
        )


_NUMBER = re.compile(r"[0-9]{1,16}", re.ASCII)


def _size_header(value: str | None, name: str) -> int | None:
    """A byte count from a header: ASCII digits, at most MAX_ARCHIVE (DownloadFailed else)."""
    if value is None:
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text) and int(text) <= MAX_ARCHIVE:
        return int(text)
    raise DownloadFailed(
        f"The download host sent an invalid {name} header ({text[:30]!r}); "
        "refusing the transfer. Run the backup again."
    )


_RANGE = re.compile(r"bytes ([0-9]{1,16})-([0-9]{1,16})/([0-9]{1,16}|\*)", re.ASCII)


def _content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """(first, last, total) of a Content-Range; Nones when it is not a valid one."""
    match = _RANGE.fullmatch(value.strip())
    if not match:
        return None, None, None
    first, last = int(match.group(1)), int(match.group(2))
    total = int(match.group(3)) if match.group(3) != "*" else None
    if last < first or (total is not None and (last >= total or total > MAX_ARCHIVE)):
        return None, None, None
    return first, last, total


def _certificate_failed(exc: BaseException) -> bool:
    """Whether a certificate check is behind ``exc`` (its causes and arguments)."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop()
        if not isinstance(item, BaseException) or item in seen:
            continue
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return False


@functools.cache
def _writeback_function() -> Callable[[int, int, int], None] | None:
    """``sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE)``: start writing those
    bytes to disk now, without waiting (Linux only; None elsewhere)."""
    try:
        import ctypes  # noqa: PLC0415 (only the downloader needs it; keeps start-up quick)

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    write = 2  # SYNC_FILE_RANGE_WRITE

    def start_writeback(fd: int, offset: int, count: int) -> None:
        function(fd, offset, count, write)  # a failure only means no early writeback

    return start_writeback


def _write_failed(directory: Path, exc: OSError) -> DownloadFailed:
    return DownloadFailed(
        f"Writing the archive in {directory} failed ({exc.strerror or exc}); nothing was kept. "
        "Free some disk space or choose another 'path', then run the backup again."
    )
