"""The resume protocol: what each answer of the download host means for the bytes on file.

An attempt asks for the bytes after those already on file (``Range: bytes=N-``) and the
answer decides: 206 at the right place appends, 200 starts over, 416 or a 206 elsewhere
starts over, 401/403/404/410 mean the signed link expired (ask PlayCanvas for a fresh
one), 429 and 5xx are worth another attempt (``retries.DOWNLOAD`` says which), anything
else is final. Header numbers are validated (ASCII digits, at most :data:`MAX_ARCHIVE`),
no ``Content-Encoding`` is accepted, and an archive with no declared length is kept only
when its zip is verified (nothing else could tell a whole archive from a cut one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

from .. import retries
from ..errors import DownloadFailed, TransientError
from ..units import human_size
from ..untrusted import quoted
from .transfer import Transfer

#: Free space to keep beyond the archive itself.
DISK_MARGIN = 16 << 20
#: The largest archive size a header may announce (1 TiB); anything beyond is a lie.
MAX_ARCHIVE = 1 << 40
#: Answers that mean the signed link stopped working.
EXPIRED = frozenset({401, 403, 404, 410})


class Expired(TransientError):
    """The signed URL stopped working: ask PlayCanvas for a fresh one."""


def range_header(transfer: Transfer) -> dict[str, str]:
    """The request's headers: the plain bytes, after those already on file."""
    headers = {"Accept-Encoding": "identity"}
    if transfer.size:
        headers["Range"] = f"bytes={transfer.size}-"
    return headers


def start(
    response: requests.Response,
    transfer: Transfer,
    *,
    log: Callable[[str], None],
    disk_free: Callable[[Path], int],
) -> None:
    """Check the answer and decide: append (206), start over (200) or give up."""
    status = response.status_code
    _check_status(status, transfer)
    check_encoding(response.headers)
    length = size_header(response.headers.get("Content-Length"), "Content-Length")
    if status == 206:
        first, last, total = content_range(response.headers.get("Content-Range", ""))
        if (
            first != transfer.size
            or (transfer.total is not None and total != transfer.total)
            or (length is not None and last is not None and length != last - first + 1)
        ):
            transfer.restart()
            raise TransientError("the download host resumed at the wrong place; starting over")
        log(f"resuming the download at {human_size(transfer.size)}")
    else:
        if transfer.size:
            log("the download host does not resume (no Range support); starting over")
            transfer.restart()
        if transfer.total is not None and length is not None and length != transfer.total:
            log("the archive's size changed between attempts; starting over")
        transfer.total = length
    _check_space(transfer, disk_free)


def check_ended(transfer: Transfer) -> None:
    """After the body ended: it must be the declared length (a shorter one is a drop, to
    resume; a longer one starts over). With no length declared, an empty answer is a
    connection cut inside its headers (retried), and a body is kept only if its zip is
    to be verified: nothing else could tell it whole."""
    if transfer.total is None:
        if transfer.size == 0:
            raise TransientError(
                "the download host's answer ended before any byte of the archive "
                "(a connection cut inside its headers?)"
            )
        if not transfer.verify_zip:
            raise DownloadFailed(
                "The download host sent the archive without its length, and 'verify' is "
                "false: nothing could tell a whole archive from a cut one, so none was kept. "
                "Set verify: true (the zip check proves the archive whole), or run the "
                "backup again."
            )
        return
    if transfer.size != transfer.total:
        if transfer.size > transfer.total:
            transfer.restart()
        raise TransientError(f"the download ended after {transfer.size} of {transfer.total} bytes")


def _check_status(status: int, transfer: Transfer) -> None:
    if status in EXPIRED:
        raise Expired(
            f"the signed download link answered {status} (expired?); "
            "asking PlayCanvas for a fresh one"
        )
    if status == 416:
        transfer.restart()
        raise TransientError("the download host refused to resume; starting over")
    if retries.DOWNLOAD.retried_status(status):
        raise TransientError(f"the download host answered {status}")
    if status not in {200, 206} or (status == 206 and not transfer.size):
        raise DownloadFailed(
            f"The download host answered {status}, which this tool does not expect. "
            "Run the backup again."
        )


def _check_space(transfer: Transfer, disk_free: Callable[[Path], int]) -> None:
    if transfer.total is None:
        return
    needed, free = transfer.total - transfer.size, disk_free(transfer.path.parent)
    if free < needed + DISK_MARGIN:
        raise DownloadFailed(
            f"Not enough free disk space in {transfer.path.parent}: the archive needs "
            f"{human_size(needed)} more and {human_size(free)} is free. Free some space "
            "or choose another 'path'."
        )


def check_encoding(headers: Mapping[str, str]) -> None:
    """Refuse a body that is not the archive's own bytes (gzip'd, say): it would be saved
    as the zip, or pass a check that reads something else."""
    encoding = headers.get("Content-Encoding", "").strip().lower()
    transfer = headers.get("Transfer-Encoding", "").strip().lower()
    if encoding not in {"", "identity"} or transfer not in {"", "identity", "chunked"}:
        raise DownloadFailed(
            f"The download host sent the archive encoded ({quoted(encoding or transfer)}) "
            "although it was asked "
            "for the plain bytes; refusing to save it. Run the backup again."
        )


_NUMBER = re.compile(r"[0-9]{1,16}", re.ASCII)


def size_header(value: str | None, name: str) -> int | None:
    """A byte count from a header: ASCII digits, at most MAX_ARCHIVE (DownloadFailed else)."""
    if value is None:
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text) and int(text) <= MAX_ARCHIVE:
        return int(text)
    raise DownloadFailed(
        f"The download host sent an invalid {name} header ({quoted(text, limit=30)}); "
        "refusing the transfer. Run the backup again."
    )


_RANGE = re.compile(r"bytes ([0-9]{1,16})-([0-9]{1,16})/([0-9]{1,16}|\*)", re.ASCII)


def content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """(first, last, total) of a Content-Range; Nones when it is not a valid one."""
    match = _RANGE.fullmatch(value.strip())
    if not match:
        return None, None, None
    first, last = int(match.group(1)), int(match.group(2))
    total = int(match.group(3)) if match.group(3) != "*" else None
    if last < first or (total is not None and (last >= total or total > MAX_ARCHIVE)):
        return None, None, None
    return first, last, total
