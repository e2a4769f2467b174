"""The one client of the artifact's blob storage: Put Block and Put Block List over HTTP.

The signed upload URL comes from the artifact service: an Azure SAS URL on GitHub, a URL
the runner signs itself on act, Gitea and Forgejo (``sig``, ``expires``, ``artifactName``,
``taskID``). Its query is kept as given and ``&comp=...`` is appended to it as text:
decoding and re-encoding it, or keeping only Azure's parameters, breaks those signatures.

Never a single-shot Put Blob: act and Gitea do not store one. Each block is one Put Block
(base64 ids of one length, URL-encoded), then one Put Block List names them in order and
sets the blob's content type. act appends blocks in arrival order and ignores their ids,
so blocks go one at a time, except to Azure's blob hosts (GitHub's artifact storage),
where ``PARALLEL_BLOCKS`` are in flight at once, as the official client sends them.

Every request is retried under ``retries.BLOB_UPLOAD`` (which answers, how long between),
and ends by the archive's deadline: no socket waits past it, no retry starts after it.
Blocks go out on daemon threads: a run that stops (a failed block, ``SIGTERM``) abandons
the requests in flight instead of waiting for them. A final failure is an
``ArtifactError`` whose message says what to do and never holds the URL or its signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from .. import http, retries
from ..deadline import Deadline
from ..errors import ArtifactError
from ..retries import BLOB_UPLOAD, Policy

BLOCK_SIZE = 8 << 20
PARALLEL_BLOCKS = 5
CONTENT_TYPE = "application/zip"
#: The storage REST version sent as ``x-ms-version`` (Azure; Azurite 3.35 knows it too).
API_VERSION = "2025-11-05"
#: Azure's blob hosts, where GitHub keeps artifacts: blocks go there in parallel.
PARALLEL_HOST_SUFFIXES = (".blob.core.windows.net",)
#: The most of an answer's body that is read (error documents are small).
MAX_ANSWER = 64 << 10
_ERROR_CODE = re.compile(rb"<Code>\s*([A-Za-z0-9]{1,64})\s*</Code>")
_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})")


class Readable(Protocol):
    def read(self, n: int) -> bytes: ...


@dataclass(frozen=True)
class Uploaded:
    size: int
    sha256: str


class _Retryable(ArtifactError):
    """A 429/5xx answer, a dropped connection or a stall: worth another try."""


class _Abandoned(ArtifactError):
    """Another block failed for good: the rest of the upload is not worth sending."""


def stages_in_parallel(signed_url: str) -> bool:
    """Whether blocks may go in parallel: only to Azure's blob hosts (GitHub's storage)."""
    host = (urlsplit(signed_url).hostname or "").lower().rstrip(".")
    return host.endswith(PARALLEL_HOST_SUFFIXES)


def block_id(index: int) -> str:
    """Base64 of a fixed-width counter: every id has the same length, as Azure requires."""
    return base64.b64encode(f"block-{index:010d}".encode()).decode()


def block_list(ids: list[str]) -> bytes:
    """The Put Block List body: every block, in order, as the latest version of it."""
    latest = "".join(f"<Latest>{block}</Latest>" for block in ids)
    return f'<?xml version="1.0" encoding="utf-8"?><BlockList>{latest}</BlockList>'.encode()


def with_query(signed_url: str, **params: str) -> str:
    """``signed_url`` with ``params`` appended to its query, which stays as it was given."""
    base = signed_url.partition("#")[0]
    extra = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    if "?" not in base:
        return f"{base}?{extra}"
    return base + ("" if base.endswith(("?", "&")) else "&") + extra


def upload_blob(
    signed_url: str,
    stream: Readable,
    *,
    parallel: bool,
    block_size: int = BLOCK_SIZE,
    session: requests.Session | None = None,
    policy: Policy = BLOB_UPLOAD,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda message: None,
    clock: Callable[[], float] = time.time,
    deadline: Deadline | None = None,
) -> Uploaded:
    """Send everything ``stream`` gives as one block blob; return its size and SHA-256.

    The next block is read while the last ones are sent: at most ``PARALLEL_BLOCKS``
    (``parallel``) or one PUT in flight, and one more block in memory.
    """
    parts = urlsplit(signed_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArtifactError(
            "The artifact service gave an upload link that is not an http(s) URL; "
            "cannot upload the artifact."
        )
    connections = http.session(connections=PARALLEL_BLOCKS) if session is None else session
    blob = _Blob(
        signed_url,
        session=connections,
        policy=policy,
        sleep=sleep,
        log=log,
        clock=clock,
        deadline=deadline or Deadline.never(clock=clock),
    )
    try:
        return _upload(blob, stream, PARALLEL_BLOCKS if parallel else 1, block_size)
    finally:
        connections.close()


def _upload(blob: _Blob, stream: Readable, width: int, block_size: int) -> Uploaded:
    """Put each block with at most ``width`` in flight, then the block list."""
    digest = hashlib.sha256()
    ids: list[str] = []
    in_flight: deque[Future[None]] = deque()
    size = 0
    try:
        while block := stream.read(block_size):
            digest.update(block)
            if len(in_flight) >= width:
                in_flight.popleft().result()
            ids.append(block_id(len(ids)))
            in_flight.append(_in_background(blob.put_block, len(ids), ids[-1], block))
            size += len(block)
        while in_flight:
            in_flight.popleft().result()
    except BaseException:
        # The blocks in flight end on their own (their next try sees this); nobody waits.
        blob.abandon()
        raise
    blob.put_block_list(ids)
    return Uploaded(size, digest.hexdigest())


def _in_background(put: Callable[[int, str, bytes], None], *args: object) -> Future[None]:
    """``put(*args)`` on a daemon thread of its own: a run that stops does not wait for it."""
    future: Future[None] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                put(*args)  # type: ignore[arg-type]
            except BaseException as exc:  # handed to whoever waits for the block
                future.set_exception(exc)
            else:
                future.set_result(None)

    threading.Thread(target=run, name="artifact-block", daemon=True).start()
    return future


class _Blob:
    """The requests to one signed blob URL, each under the retry policy."""

    def __init__(
        self,
        signed_url: str,
        *,
        session: requests.Session,
        policy: Policy,
        sleep: Callable[[float], None],
        log: Callable[[str], None],
        clock: Callable[[], float],
        deadline: Deadline,
    ) -> None:
        self._url = signed_url
        self._session = session
        self._policy = policy
        self._deadline = deadline
        self._sleep, self._log, self._clock = sleep, log, clock
        self._abandoned = threading.Event()

    def abandon(self) -> None:
        self._abandoned.set()

    def put_block(self, number: int, block: str, data: bytes) -> None:
        self._send(
            f"block {number}",
            with_query(self._url, comp="block", blockid=block),
            data,
            {"Content-Type": "application/octet-stream"},
        )

    def put_block_list(self, ids: list[str]) -> None:
        self._send(
            "the block list",
            with_query(self._url, comp="blocklist"),
            block_list(ids),
            {"Content-Type": "application/xml", "x-ms-blob-content-type": CONTENT_TYPE},
        )

    def _send(self, what: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        retrying = self._policy.retrying(
            _Retryable,
            sleep=self._sleep,
            log=self._log,
            prefix=f"artifact upload, {what}: ",
            deadline=self._deadline,
        )
        try:
            retrying(self._put, what, url, body, headers)
        except _Retryable as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise ArtifactError(
                f"Uploading {what} of the artifact failed {tries} times, the last time: "
                f"{exc}. The archive itself was saved."
            ) from None

    def _put(self, what: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self._abandoned.is_set():
            raise _Abandoned("the artifact upload was abandoned after another block failed")
        self._deadline.check(f"The artifact upload ({what})")
        stall = self._deadline.timeout(self._policy.stall_timeout)
        try:
            response = self._session.put(
                url,
                data=body,
                headers={"x-ms-version": API_VERSION, **headers},
                timeout=(stall, stall),
                stream=True,
                # A redirect would carry the block (and the link) somewhere else.
                allow_redirects=False,
            )
            answer = _read_capped(response)
        # The exceptions' own text holds the URL, signature included: never shown.
        except requests.RequestException as exc:
            self._deadline.check(f"The artifact upload ({what})")
            if not self._policy.retried_error(exc):
                raise ArtifactError(
                    f"Uploading {what} of the artifact failed ({type(exc).__name__}); "
                    "the archive itself was saved."
                ) from None
            if _timed_out(exc):
                raise _Retryable(
                    f"upload progress stalled (no data moved for {stall:g} s)"
                ) from None
            raise _Retryable(
                f"the connection to the artifact storage failed ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        raise self._failure(what, status, answer, len(body))

    def _failure(self, what: str, status: int, answer: bytes, size: int) -> ArtifactError:
        """What an answer that is not 2xx means: retried (``_Retryable``) or final."""
        code = _error_code(answer)
        label = f"HTTP {status} {code}".rstrip()
        if b"quota" in answer.lower():
            return ArtifactError(
                f"The artifact storage is full ({label}, quota exceeded). Delete old "
                "artifacts or raise the storage limit, then run the backup again; the "
                "archive itself was saved."
            )
        if status in (401, 403):
            return ArtifactError(self._refused(label, answer))
        if status == 413:
            return ArtifactError(
                f"The artifact storage refused {what} ({size / (1 << 20):.1f} MiB) as "
                f"too large ({label}). Something in front of the runner's artifact server "
                "limits request bodies (e.g. nginx's client_max_body_size): allow at least "
                f"{BLOCK_SIZE >> 20} MiB."
            )
        if self._policy.retried_status(status):
            return _Retryable(f"the artifact storage answered {label}")
        return ArtifactError(
            f"The artifact storage refused {what} ({label}); the archive itself was saved."
        )

    def _refused(self, label: str, answer: bytes) -> str:
        """401/403: an expired link, or a signature the storage did not accept."""
        detail = answer.lower()
        expired = b"expired" in detail or b"specified time frame" in detail
        expires_at = _expiry(self._url)
        if expired or (expires_at is not None and expires_at <= self._clock()):
            return (
                f"The artifact storage refused the upload ({label}): the signed upload link "
                "has expired. Run the job again; the archive itself was saved."
            )
        return (
            f"The artifact storage refused the upload's signature ({label}): the signed "
            "upload link from the runner's artifact service was not accepted. Run the job "
            "again; if it keeps happening, check that nothing between the runner and its "
            "artifact server rewrites URLs and that the machines' clocks are right."
        )


def _read_capped(response: requests.Response) -> bytes:
    """The answer's body, at most ``MAX_ANSWER`` bytes of it; the response is closed."""
    data = bytearray()
    try:
        for chunk in response.iter_content(8192):
            data += chunk
            if len(data) >= MAX_ANSWER:
                break
    finally:
        response.close()
    return bytes(data[:MAX_ANSWER])


def _timed_out(exc: BaseException) -> bool:
    """Whether a socket timeout is behind ``exc`` (urllib3 wraps one met while sending)."""
    return any(isinstance(link, requests.Timeout | TimeoutError) for link in retries.causes(exc))


def _error_code(answer: bytes) -> str:
    """Azure's error code from an error document (letters and digits only), or ''."""
    match = _ERROR_CODE.search(answer)
    return match.group(1).decode() if match else ""


def _expiry(signed_url: str) -> float | None:
    """When the link expires, from Azure's ``se`` or act's ``expires``, if it says."""
    params = dict(parse_qsl(urlsplit(signed_url).query))
    try:
        if "se" in params:
            return datetime.fromisoformat(params["se"].replace("Z", "+00:00")).timestamp()
        match = _GO_TIME.match(params.get("expires", ""))
        if match:
            moment = datetime.strptime(" ".join(match.groups()), "%Y-%m-%d %H:%M:%S %z")
            return moment.astimezone(UTC).timestamp()
    except ValueError:
        return None
    return None
