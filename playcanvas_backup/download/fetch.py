"""One archive's download from its signed URL: attempts, redirects, the final rename.

:func:`download` calls ``fetch_url()`` for the first URL and again whenever the signed URL
expires; ``mask`` gets every URL (each redirect hop) before it is used; ``deadline``
bounds every read, wait and retry; ``session`` is one of :func:`http.session`'s. It
returns once the archive is complete, verified and renamed into place; on any failure
nothing is left at (or beside) ``destination``. With ``place=False`` the verified archive
stays at its private temporary name beside ``destination`` (the returned ``path``): the
caller owns it and removes it. ``progress``, when given, is called with (bytes so far,
total or None) after every buffer, in place of the periodic progress lines.

The signed URL is a credential: it is fetched without the PlayCanvas token, never appears
in a message (:func:`untrusted.redact` with every hop's URL), and is asked for again when
it stops working. Everything the download host sends is untrusted: redirects are followed
by hand and each hop is checked as the first URL is (:mod:`.urls`); what each answer
means for the bytes on file is :mod:`.resume`'s; the bytes themselves are
:mod:`.transfer`'s. One deadline bounds the whole download and check.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from .. import http, retries, untrusted
from ..deadline import Deadline
from ..errors import DownloadFailed, TimedOut, TransientError
from ..files import move_into_place
from ..units import human_size
from ..zipcheck import LIMITS, Limits, check_file
from . import resume
from .transfer import Transfer, write_failed
from .urls import Resolve, check_url, is_loopback_url, resolve_host

#: (connect, read) timeouts, seconds: a stalled transfer is retried, not waited on forever.
DOWNLOAD_TIMEOUT = (15.0, 60.0)
MAX_ATTEMPTS = retries.DOWNLOAD.attempts
#: Redirects followed (each hop is checked like the first URL).
MAX_REDIRECTS = 5
PROGRESS_EVERY = 5.0
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Archive:
    """A downloaded, verified archive at its final path."""

    path: Path
    sha256: str
    size: int
    crc32: int | None


def _ignore(text: str) -> None:
    """No mask: outside GitHub Actions nothing needs one."""


def download(
    fetch_url: Callable[[], str],
    destination: Path,
    *,
    session: requests.Session | None = None,
    verify_zip: bool = True,
    want_crc32: bool = False,
    log: Callable[[str], None] = lambda message: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    disk_free: Callable[[Path], int] = lambda folder: shutil.disk_usage(folder).free,
    mask: Callable[[str], None] = _ignore,
    deadline: Deadline | None = None,
    resolve: Resolve = resolve_host,
    limits: Limits = LIMITS,
    place: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
) -> Archive:
    """Download the archive that ``fetch_url()`` points at into ``destination``, verified
    (see the module's docstring for each argument's part)."""
    deadline = deadline or Deadline.never(clock=clock)
    fd, part = _part_file(destination)
    fetcher: _Fetcher | None = None
    try:
        with Transfer(
            fd, part, want_crc32=want_crc32, verify_zip=verify_zip, limits=limits, deadline=deadline
        ) as transfer:
            fetcher = _Fetcher(
                fetch_url,
                transfer,
                session=session or http.session(),
                log=log,
                clock=clock,
                disk_free=disk_free,
                mask=mask,
                deadline=deadline,
                resolve=resolve,
                progress=progress,
            )
            _fetch_and_check(fetcher, transfer, sleep=sleep, limits=limits)
        if place:
            move_into_place(part, destination)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        final = _final(exc, destination, fetcher)
        if final is exc:
            raise
        raise final from exc
    crc32 = transfer.crc32() if want_crc32 else None
    return Archive(destination if place else part, transfer.sha256_hex(), transfer.size, crc32)


def _part_file(destination: Path) -> tuple[int, Path]:
    """A new private ``.<name>.<random>.part`` file beside ``destination``, open."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, part_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
    except OSError as exc:
        raise write_failed(destination.parent, exc) from exc
    return fd, Path(part_name)


def _fetch_and_check(
    fetcher: _Fetcher, transfer: Transfer, *, sleep: Callable[[float], None], limits: Limits
) -> None:
    """Every attempt until the archive is whole, then the zip read back if the single
    pass could not vouch for it, while the disk catches up with the last bytes."""
    retrying = retries.DOWNLOAD.retrying(
        TransientError, sleep=sleep, log=fetcher.log, deadline=fetcher.deadline
    )
    retrying(fetcher.attempt)
    fetcher.attempts = retrying.statistics.get("attempt_number", 1)
    transfer.finish()
    synced = transfer.sync()
    try:
        if transfer.verify_zip:
            check_file(
                transfer.path,
                limits=limits,
                tick=fetcher.check_progress(),
                stream=transfer.zip_stream(),
                log=fetcher.log,
            )
    finally:
        wait_for([synced])
    synced.result()


def _final(exc: BaseException, destination: Path, fetcher: _Fetcher | None) -> BaseException:
    """The error a failed download ends with: never the URL, always what to do."""
    redact = fetcher.redact if fetcher is not None else str
    if isinstance(exc, TimedOut):
        return TimedOut(f"{redact(str(exc))} Nothing of the archive was kept.")
    if isinstance(exc, TransientError):
        return DownloadFailed(
            f"The archive could not be downloaded after {MAX_ATTEMPTS} attempts: "
            f"{redact(str(exc))}. Nothing was written; run the backup again."
        )
    if isinstance(exc, OSError):  # the network's are TransientError by now: this is the disk
        return write_failed(destination.parent, exc)
    return exc


class _Fetcher:
    """One attempt at a time: follow redirects by hand, resume with Range where the host
    allows it, receive into the transfer's buffers."""

    def __init__(
        self,
        fetch_url: Callable[[], str],
        transfer: Transfer,
        *,
        session: requests.Session,
        log: Callable[[str], None],
        clock: Callable[[], float],
        disk_free: Callable[[Path], int],
        mask: Callable[[str], None],
        deadline: Deadline,
        resolve: Resolve,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self._fetch_url = fetch_url
        self._progress = progress
        self._disk_free = disk_free
        self._url: str | None = None
        self._transfer = transfer
        self._session = session
        self._network = getattr(session, "network", http.Network())
        self.log, self._clock, self._mask = log, clock, mask
        self.deadline = deadline
        self._resolve = resolve
        self.attempts = 0
        #: Every URL this download went to: cut out of every message.
        self._secrets: list[str] = []

    def redact(self, text: str) -> str:
        """``text`` with every URL of this download (and its path and query) cut out."""
        return untrusted.redact(text, self._secrets)

    def check_progress(self) -> Callable[[int, int], None]:
        """While reading the zip back: the deadline, and a progress line every few seconds."""
        next_line = [self._clock() + PROGRESS_EVERY]

        def tick(members: int, inflated: int) -> None:
            self.deadline.check("The archive's zip check")
            now = self._clock()
            if now >= next_line[0] and members:
                next_line[0] = now + PROGRESS_EVERY
                self.log(f"checking the zip: {members:,} members, {human_size(inflated)} inflated")

        return tick

    def attempt(self) -> None:
        self.deadline.check("The archive's download")
        if self._url is None:
            self._url = self._fetch_url()
            self._remember(self._url)
        transfer = self._transfer
        try:
            with self._open(self._url) as response:
                resume.start(response, transfer, log=self.log, disk_free=self._disk_free)
                progress = _Progress(transfer, self.log, self._clock, self._progress)
                transfer.receive(response, progress.update)
        except resume.Expired:
            self._url = None
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            self.deadline.check("The archive's download")
            raise TransientError(
                f"the download broke off after {transfer.size} bytes ({self._describe(exc)})"
            ) from exc
        resume.check_ended(transfer)

    def _remember(self, url: str) -> None:
        """Mask ``url`` (the masker decides what in it to hide: ``Workflow.mask_url``) and
        redact it, its path and query, from this download's messages."""
        parts = urlsplit(url)
        for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
        self._mask(url)

    def _open(self, first: str) -> requests.Response:
        """The response of the last hop: redirects followed by hand, each hop checked."""
        url = first
        loopback_ok = is_loopback_url(first)
        headers = resume.range_header(self._transfer)
        for hop in range(MAX_REDIRECTS + 1):
            proxies = self._network.proxies_for(url)
            check_url(url, resolve=None if proxies else self._resolve, loopback_ok=loopback_ok)
            response = self._get(url, headers)
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
                self.log(f"following a redirect to {urlsplit(url).hostname or '?'!r}")
        raise DownloadFailed(
            f"The download link redirected more than {MAX_REDIRECTS} times; refusing to "
            "follow it further. Run the backup again."
        )

    def _get(self, url: str, headers: dict[str, str]) -> requests.Response:
        connect, read = DOWNLOAD_TIMEOUT
        try:
            return self._session.get(
                url,
                headers=headers,
                stream=True,
                timeout=(self.deadline.timeout(connect), self.deadline.timeout(read)),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            if retries.DOWNLOAD.retried_error(exc):
                raise
            if retries.certificate_failed(exc):
                raise DownloadFailed(
                    "The download host's TLS certificate failed verification "
                    f"({self._describe(exc)}); refusing to fetch the archive."
                ) from exc
            raise DownloadFailed(
                f"The download link cannot be fetched ({self._describe(exc)}); "
                "run the backup again."
            ) from exc

    def _describe(self, exc: BaseException) -> str:
        text = self.redact(str(exc))
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Progress:
    """Log bytes, percent, rate and time left, at most every few seconds; or, given
    ``each``, tell it the bytes after every buffer instead."""

    def __init__(
        self,
        transfer: Transfer,
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
