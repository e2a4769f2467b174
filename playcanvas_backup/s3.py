"""The S3 client (``s3-uri``): store a finished archive, verified by the store, once.

The one module that talks to S3-compatible stores (AWS, R2, B2, MinIO, ...), with boto3
(what those stores document; bench/s3_clients.py has the comparison with obstore).

Storing an archive:

1. ``HEAD`` the key: an object already there with the same recorded SHA-256 and size is
   not uploaded again ("already stored": reruns are idempotent).
2. Upload with the SHA-256 as the S3 checksum (``x-amz-checksum-sha256``), so that a store
   that checks it refuses a body that changed on the way. Below :data:`MULTIPART_THRESHOLD`
   one ``PutObject``; above, a multipart upload whose parts (:data:`PART_SIZE`, at most
   :data:`PARALLEL_PARTS` in flight, each read from disk as it is sent) each carry their
   own SHA-256. An unfinished multipart upload is invisible and aborted: no half-written
   object is ever at the key.
3. ``HEAD`` again with ``ChecksumMode=ENABLED``: the size, the recorded SHA-256
   (``x-amz-meta-sha256``) and the store's checksum must be what we sent. For a single
   ``PutObject`` the store's checksum is the file's SHA-256; for a multipart upload S3
   reports a *composite* checksum (the SHA-256 of the parts' SHA-256s, then ``-<parts>``),
   which is checked as such; the file's own SHA-256 is in the metadata for the restore.

The object's metadata records the ``archives`` entry (:func:`archive_metadata`), so that a
restore can check what it fetched. Credentials come the standard way only (``AWS_*``
variables, given as ``env``, or the chain boto3 reads: profile, web identity, instance
role); they are never logged. Every request is tried under :data:`retries.S3` (botocore's
own retries are off) and none starts past the archive's ``deadline``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from . import __version__, retries, untrusted
from .deadline import Deadline
from .errors import BackupError, TransientError
from .finished import FinishedArchive
from .s3uri import CREDENTIAL_ENV, split

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
MIB = 1 << 20
#: Archives from this size on go up in parts.
MULTIPART_THRESHOLD = 64 * MIB
#: The size of each part (larger for an archive that would pass S3's 10,000 parts).
PART_SIZE = 16 * MIB
PARALLEL_PARTS = 4
MAX_PARTS = 10_000
#: (connect, read) timeouts of each request, seconds.
TIMEOUTS = (15.0, 120.0)
#: How long the abort of an unfinished multipart upload may take, seconds.
ABORT_SECONDS = 10.0
#: Statuses worth another try (as the AWS SDKs retry them).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Error codes worth another try: throttling, a slow client, a body changed on the way.
RETRY_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "InternalError", "BadDigest", "XAmzContentChecksumMismatch"}
)
REFUSED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)


class S3Error(BackupError):
    """The archive could not be stored in S3 (final); it stays on disk."""

    title = "S3 upload failed"


class S3Refused(S3Error):
    """The store refused the credentials or the permission (403)."""

    title = "S3 refused the request"


class S3Unavailable(TransientError):
    """A fault worth another try: 5xx, throttling, a dropped connection, a body changed."""


@dataclass(frozen=True)
class Stored:
    """An archive in S3, verified: its URI, its version (versioned buckets), and whether
    it was there already."""

    uri: str
    version_id: str | None
    already: bool
    #: The store reported its SHA-256 checksum of the bytes and it matched (False: a store
    #: that keeps none; only the size and the recorded SHA-256 were checked).
    checksum_checked: bool = True


@dataclass(frozen=True)
class ObjectInfo:
    """What a ``HEAD`` tells about an object."""

    size: int
    metadata: Mapping[str, str]
    checksum_sha256: str | None
    version_id: str | None
    modified: datetime | None


@dataclass(frozen=True)
class Listed:
    """One object of a listing."""

    key: str
    size: int
    modified: datetime


def archive_metadata(
    *,
    stored_sha256: str,
    archive_sha256: str,
    archive_size: int,
    encrypted: bool,
    project_id: int,
    branch: str,
    branch_id: str | None,
    job_id: int | None,
    created: datetime,
) -> dict[str, str]:
    """The object metadata (``x-amz-meta-*``) recording an archive: ``sha256`` of the
    stored bytes, the plaintext archive's ``archive-sha256``/``archive-size`` (what a
    restore yields), and where it came from. Values are ASCII (the branch is %-encoded).

    >>> from datetime import UTC
    >>> archive_metadata(stored_sha256="ab", archive_sha256="ab", archive_size=3,
    ...     encrypted=False, project_id=7, branch="é", branch_id=None, job_id=9,
    ...     created=datetime(2026, 1, 2, tzinfo=UTC))["branch"]
    '%C3%A9'
    """
    values = {
        "sha256": stored_sha256,
        "archive-sha256": archive_sha256,
        "archive-size": str(archive_size),
        "encrypted": "true" if encrypted else "false",
        "project-id": str(project_id),
        "branch": quote(branch, safe=""),
        "job-id": str(job_id) if job_id is not None else "",
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if branch_id:
        values["branch-id"] = quote(branch_id, safe="")
    return values


def recorded_branch(metadata: Mapping[str, str]) -> str | None:
    """The branch name recorded by :func:`archive_metadata`."""
    value = metadata.get("branch")
    return unquote(value) if value is not None else None


def sha256_checksum(hex_digest: str) -> str:
    """S3's form of a SHA-256: base64 of the 32 bytes.

    >>> sha256_checksum(hashlib.sha256(b"").hexdigest())
    '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def composite_checksum(part_digests: list[bytes]) -> str:
    """The checksum S3 reports for a multipart upload with SHA-256 parts."""
    combined = hashlib.sha256(b"".join(part_digests)).digest()
    return f"{base64.b64encode(combined).decode()}-{len(part_digests)}"


def part_size_for(size: int, part_size: int = PART_SIZE) -> int:
    """Parts of ``part_size``, larger (whole MiB) when they would pass 10,000.

    >>> part_size_for(1 << 30) == PART_SIZE, part_size_for(200 << 30) // MIB
    (True, 21)
    """
    return max(part_size, math.ceil(size / MAX_PARTS / MIB) * MIB)


class S3Store:
    """One S3-compatible store. The client is made on first use (so that a missing
    profile is a failure of the archives, reported, not of the start)."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        region: str | None,
        env: Mapping[str, str],
        log: Callable[[str], None] = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
        threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        parallel: int = PARALLEL_PARTS,
    ) -> None:
        self.endpoint_url, self.region = endpoint_url, region
        self.env = {name: value for name, value in env.items() if name in CREDENTIAL_ENV and value}
        self.log, self.sleep = log, sleep
        self.threshold, self.part_size, self.parallel = threshold, part_size, parallel
        self._client: S3Client | None = None
        self._lock = threading.Lock()
        #: The deadline of the request this thread is making (read by the client's hook).
        self._asking = threading.local()

    # -- storing ------------------------------------------------------------------------------

    def store(
        self,
        archive: FinishedArchive,
        uri: str,
        *,
        metadata: Mapping[str, str],
        deadline: Deadline,
    ) -> Stored:
        """Store ``archive`` at ``uri`` (``s3://bucket/key``) unless it is there already;
        return it verified by ``HEAD``. Raises :class:`S3Error` (or :class:`S3Unavailable`
        once the retries are spent)."""
        metadata = {**metadata, "sha256": archive.sha256}
        existing = self.head(uri, deadline=deadline, what="looking for")
        if existing is not None and _same(existing, archive):
            self.log(f"{uri}: already stored (same size and SHA-256), not uploaded again")
            return Stored(uri, existing.version_id, already=True)
        if archive.size < self.threshold:
            checksum = sha256_checksum(archive.sha256)
            version = self._put(archive, uri, metadata, checksum, deadline)
        else:
            checksum, version = self._multipart(archive, uri, metadata, deadline)
        after = self.head(uri, version_id=version, deadline=deadline)
        _verify(uri, after, archive, checksum, log=self.log)
        assert after is not None  # _verify refuses a missing object
        return Stored(
            uri,
            after.version_id or version,
            already=False,
            checksum_checked=after.checksum_sha256 is not None,
        )

    def _put(
        self,
        archive: FinishedArchive,
        uri: str,
        metadata: Mapping[str, str],
        checksum: str,
        deadline: Deadline,
    ) -> str | None:
        bucket, key = split(uri)

        def put() -> dict[str, Any]:
            with archive.path.open("rb") as body:
                return dict(
                    self.client.put_object(
                        Bucket=bucket,
                        Key=key,
                        Body=body,
                        ContentLength=archive.size,
                        ContentType=_content_type(key),
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum,
                        Metadata=dict(metadata),
                    )
                )

        answer = self._call(f"upload to {uri}", put, deadline)
        return _version(answer.get("VersionId"))

    def _multipart(
        self, archive: FinishedArchive, uri: str, metadata: Mapping[str, str], deadline: Deadline
    ) -> tuple[str, str | None]:
        """Upload in parts; return the composite checksum S3 should report, and the
        version id."""
        bucket, key = split(uri)
        created = self._call(
            f"multipart upload to {uri}",
            lambda: self.client.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                ContentType=_content_type(key),
                ChecksumAlgorithm="SHA256",
                Metadata=dict(metadata),
            ),
            deadline,
        )
        upload_id = created["UploadId"]
        try:
            parts = self._parts(archive, bucket, key, upload_id, deadline)
            answer = self._call(
                f"completing the upload to {uri}",
                lambda: self.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [part for part, _ in parts]},  # type: ignore[misc]
                ),
                deadline,
            )
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise
        return composite_checksum([digest for _, digest in parts]), _version(
            answer.get("VersionId")
        )

    def _parts(
        self, archive: FinishedArchive, bucket: str, key: str, upload_id: str, deadline: Deadline
    ) -> list[tuple[dict[str, Any], bytes]]:
        """Upload every part, at most :attr:`parallel` at a time, in order; each reads its
        own bytes from its own descriptor when it starts. Parts go out on daemon threads:
        when one fails or a signal stops the run, the rest are abandoned, not waited for
        (the upload is then aborted, and a part still in flight is refused)."""
        size = part_size_for(archive.size, self.part_size)
        count = max(1, math.ceil(archive.size / size))
        abandoned = threading.Event()

        def part(number: int) -> tuple[dict[str, Any], bytes]:
            start = (number - 1) * size
            length = min(size, archive.size - start)
            fd = os.open(archive.path, os.O_RDONLY)
            try:
                digest = _Slice(fd, start, length).sha256()
                checksum = base64.b64encode(digest).decode()

                def send() -> dict[str, Any]:
                    if abandoned.is_set():
                        raise S3Error(f"part {number} abandoned: the upload stopped")
                    return dict(
                        self.client.upload_part(
                            Bucket=bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=_Slice(fd, start, length),  # type: ignore[arg-type]
                            ContentLength=length,
                            ChecksumAlgorithm="SHA256",
                            ChecksumSHA256=checksum,
                        )
                    )

                answer = self._call(
                    f"part {number} of {count} of s3://{bucket}/{key}", send, deadline
                )
            finally:
                os.close(fd)
            entry = {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
            return entry, digest

        return _in_order(part, count, width=self.parallel, abandoned=abandoned)

    def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        """Best effort, one try: the parts of an upload never completed are invisible, and a
        lifecycle rule (README) removes what an abort could not. It has
        :data:`ABORT_SECONDS` of its own: it often follows the archive's deadline passing."""
        self._asking.deadline = Deadline.after(ABORT_SECONDS)
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            self.log(f"could not abort the unfinished upload to s3://{bucket}/{key}: {exc}")

    # -- reading ------------------------------------------------------------------------------

    def head(
        self,
        uri: str,
        *,
        deadline: Deadline,
        version_id: str | None = None,
        what: str = "reading back",
    ) -> ObjectInfo | None:
        """The object at ``uri`` (that version), or ``None`` when there is none."""
        bucket, key = split(uri)

        def head() -> dict[str, Any] | None:
            extra: dict[str, Any] = {"VersionId": version_id} if version_id else {}
            try:
                return dict(
                    self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)
                )
            except ClientError as exc:
                if _status(exc) == 404:
                    return None
                raise

        answer = self._call(f"{what} {uri}", head, deadline)
        if answer is None:
            return None
        return ObjectInfo(
            size=int(answer.get("ContentLength", -1)),
            metadata={k.lower(): v for k, v in (answer.get("Metadata") or {}).items()},
            checksum_sha256=answer.get("ChecksumSHA256"),
            version_id=_version(answer.get("VersionId")),
            modified=answer.get("LastModified"),
        )

    def list(self, bucket: str, prefix: str, *, deadline: Deadline, limit: int) -> list[Listed]:
        """Up to ``limit`` objects under ``prefix``; a store that hands back a page token
        it gave before (the same page again) is refused, not followed round."""
        found: list[Listed] = []
        token: str | None = None
        seen: set[str] = set()
        while len(found) < limit:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call(
                f"listing s3://{bucket}/{prefix}",
                lambda extra=extra: self.client.list_objects_v2(  # type: ignore[misc]
                    Bucket=bucket, Prefix=prefix, MaxKeys=1000, **extra
                ),
                deadline,
            )
            found += [
                Listed(item["Key"], int(item["Size"]), item["LastModified"])
                for item in page.get("Contents", [])
            ]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            if token in seen:
                raise S3Error(
                    f"Listing s3://{bucket}/{prefix}: the store gave the same page again "
                    "(a continuation token it gave before); the listing is not complete."
                )
            seen.add(token)
        return found[:limit]

    def download(
        self, uri: str, into: BinaryIO, *, version_id: str | None, deadline: Deadline
    ) -> None:
        """Write the object's bytes into ``into`` (from its start again on each try)."""
        bucket, key = split(uri)

        def get() -> None:
            into.seek(0)
            into.truncate()
            extra: dict[str, Any] = {"VersionId": version_id} if version_id else {}
            answer = self.client.get_object(Bucket=bucket, Key=key, **extra)
            for chunk in answer["Body"].iter_chunks(MIB):
                into.write(chunk)
                if deadline.expired():
                    raise S3Error(f"Downloading {uri} did not finish within the time allowed.")

        self._call(f"downloading {uri}", get, deadline)

    # -- one request --------------------------------------------------------------------------

    @property
    def client(self) -> S3Client:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> S3Client:
        keys = self.env.get("AWS_ACCESS_KEY_ID"), self.env.get("AWS_SECRET_ACCESS_KEY")
        if any(keys) and not all(keys):
            raise S3Error(
                "Only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both "
                "(aws-actions/configure-aws-credentials does), or neither."
            )
        session = boto3.session.Session(
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=self.env.get("AWS_SESSION_TOKEN") if all(keys) else None,
            profile_name=None if all(keys) else self.env.get("AWS_PROFILE"),
        )
        config = Config(
            region_name=self.region,
            signature_version="s3v4",
            connect_timeout=TIMEOUTS[0],
            read_timeout=TIMEOUTS[1],
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=self.parallel + 2,
            # boto3 1.36+ adds CRC32 checksums by default, which several S3-compatible
            # stores refuse: this module sends SHA-256 itself.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if self.endpoint_url else {},
            user_agent_extra=f"playcanvas-backup/{__version__}",
        )
        client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        client.meta.events.register("before-call.s3", self._read_timeout)
        return client

    def _read_timeout(self, context: dict[str, Any], **_: Any) -> None:
        """Each request's read timeout, clamped to its archive's deadline (botocore's
        per-request ``read_timeout``): a stalled store is left when the deadline passes."""
        deadline: Deadline | None = getattr(self._asking, "deadline", None)
        if deadline is not None:
            context["read_timeout"] = deadline.timeout(TIMEOUTS[1])

    def _call(self, what: str, request: Callable[[], T], deadline: Deadline) -> T:
        """``request`` under the S3 retry policy, never started past ``deadline``."""

        def attempt() -> T:
            if deadline.expired():
                raise S3Error(
                    f"The archive's time ran out before {what}. Raise 'timeout' for a big "
                    "project; the archive is kept on disk."
                )
            self._asking.deadline = deadline
            try:
                return request()
            except (BotoCoreError, ClientError) as exc:
                raise _translated(exc, what) from exc

        retrying = retries.S3.retrying(
            S3Unavailable,
            sleep=self.sleep,
            log=self.log,
            prefix=f"S3, {what}: ",
            deadline=deadline,
        )
        return retrying(attempt)


class _Slice(io.RawIOBase):
    """One part of the archive file, read from disk as it is sent (``pread`` at the part's
    own offsets, so a retry reads it again from its start): memory stays at the
    client's buffers, not the part's size."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self.fd, self.start, self.length, self.position = fd, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.length - self.position)
        if wanted <= 0:
            return 0
        data = os.pread(self.fd, wanted, self.start + self.position)
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(0, min(self.length, base + offset))
        return self.position

    def tell(self) -> int:
        return self.position

    def __len__(self) -> int:
        return self.length

    def sha256(self) -> bytes:
        digest = hashlib.sha256()
        while chunk := self.read(MIB):
            digest.update(chunk)
        return digest.digest()


def _in_order(
    work: Callable[[int], T], count: int, *, width: int, abandoned: threading.Event
) -> list[T]:
    """``work(1)`` ... ``work(count)``, at most ``width`` at once, their results in order;
    on any failure (a signal's included) ``abandoned`` is set and nobody waits."""
    done: list[T] = []
    in_flight: deque[Future[T]] = deque()
    try:
        for number in range(1, count + 1):
            if len(in_flight) >= width:
                done.append(in_flight.popleft().result())
            in_flight.append(_in_background(work, number))
        while in_flight:
            done.append(in_flight.popleft().result())
    except BaseException:
        abandoned.set()
        raise
    return done


def _in_background(work: Callable[[int], T], number: int) -> Future[T]:
    """``work(number)`` on a daemon thread of its own: a run that stops does not wait."""
    future: Future[T] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work(number))
            except BaseException as exc:  # handed to whoever waits for the part
                future.set_exception(exc)

    threading.Thread(target=run, name="s3-part", daemon=True).start()
    return future


def _same(existing: ObjectInfo, archive: FinishedArchive) -> bool:
    """Already stored: the same size and recorded SHA-256, and no contradicting checksum."""
    checksum = existing.checksum_sha256
    return (
        existing.size == archive.size
        and existing.metadata.get("sha256") == archive.sha256
        and (checksum is None or "-" in checksum or checksum == sha256_checksum(archive.sha256))
    )


def _verify(
    uri: str,
    info: ObjectInfo | None,
    archive: FinishedArchive,
    checksum: str,
    *,
    log: Callable[[str], None],
) -> None:
    """The object read back is the archive: size, recorded SHA-256, the store's checksum."""
    if info is None:
        raise S3Error(f"{uri} was uploaded but a HEAD right after does not find it.")
    problems = []
    if info.size != archive.size:
        problems.append(f"size {info.size} instead of {archive.size}")
    if info.metadata.get("sha256") != archive.sha256:
        problems.append("its recorded SHA-256 (x-amz-meta-sha256) is not the archive's")
    if info.checksum_sha256 is None:
        log(f"{uri}: the store reports no SHA-256 checksum; size and recorded SHA-256 match")
    elif not _same_checksum(info.checksum_sha256, checksum):
        problems.append(f"the store's checksum is {info.checksum_sha256}, not {checksum}")
    if problems:
        raise S3Error(
            f"{uri} does not hold the archive that was verified: "
            + "; ".join(untrusted.clean(p) for p in problems)
            + ". Run the backup again."
        )


def _same_checksum(reported: str, expected: str) -> bool:
    """A composite checksum is written ``<base64>-<parts>``; some stores (moto) leave the
    ``-<parts>`` off. Either form matches; any other difference does not.

    >>> _same_checksum("abc=-3", "abc=-3"), _same_checksum("abc=", "abc=-3")
    (True, True)
    >>> _same_checksum("abd=-3", "abc=-3"), _same_checksum("abc=-2", "abc=-3")
    (False, False)
    """
    return reported == expected or (
        "-" in expected and reported == expected.split("-", maxsplit=1)[0]
    )


def _translated(exc: BotoCoreError | ClientError, what: str) -> Exception:
    """A botocore failure as the error the user reads (never with a credential in it)."""
    if isinstance(exc, NoCredentialsError):
        return S3Error(
            f"No AWS credentials for {what}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(in a workflow, aws-actions/configure-aws-credentials does) or AWS_PROFILE."
        )
    if isinstance(exc, HTTPClientError | BotoConnectionError | ResponseStreamingError):
        return S3Unavailable(f"S3 could not be reached for {what}: {type(exc).__name__}")
    if not isinstance(exc, ClientError):
        return S3Error(f"S3 could not be asked for {what}: {untrusted.clean(str(exc))}")
    status, code = _status(exc), str(exc.response.get("Error", {}).get("Code", ""))
    if code in {"", str(status)}:  # a HEAD's answer has no body to name the error
        code = _phrase(status)
    said = untrusted.clean(str(exc.response.get("Error", {}).get("Message", "")), limit=200)
    said = "" if said in {code, _phrase(status)} else said
    detail = f"{status} {untrusted.clean(code, limit=60)}" + (f": {said}" if said else "")
    if code in {"BadDigest", "XAmzContentChecksumMismatch"}:
        return S3Unavailable(
            f"The store refused the bytes of {what}: they do not match the archive's "
            f"SHA-256 ({detail}); they changed on the way."
        )
    if status in RETRY_STATUSES or code in RETRY_CODES:
        return S3Unavailable(f"The store answered {detail} to {what}")
    if status == 403 or code in REFUSED_CODES:
        return S3Refused(
            f"The store refused {what} ({detail}). Check the credentials (AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, or the role configure-aws-credentials assumed) and "
            "that their policy allows s3:PutObject and s3:GetObject on this bucket and prefix."
        )
    if code == "NoSuchBucket":
        return S3Error(f"The bucket of {what} does not exist ({detail}); check 's3-uri'.")
    return S3Error(f"The store refused {what} ({detail}).")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _version(value: object) -> str | None:
    """A version id; ``null`` (an unversioned bucket's answer) is none."""
    return value if isinstance(value, str) and value and value != "null" else None


def _content_type(key: str) -> str:
    return "application/zip" if key.endswith(".zip") else "application/octet-stream"
