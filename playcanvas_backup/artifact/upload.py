"""Upload one verified archive as a workflow artifact: create, send the blob, finalize."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests

from .. import http
from ..config import ArtifactRuntime
from ..deadline import Deadline
from ..download import Archive
from ..errors import ArtifactError
from ..retries import BLOB_UPLOAD, Policy
from ..templates import FORBIDDEN
from .blob import BLOCK_SIZE, PARALLEL_BLOCKS, stages_in_parallel, upload_blob
from .service import ResultsService
from .zipstream import StoredZip


def check_name(name: str) -> None:
    """Artifact names must be non-empty and contain none of ``" : < > | * ? \\r \\n \\ /``."""
    bad = [c for c in FORBIDDEN if c in name]
    if not name or bad:
        raise ArtifactError(
            f"'{name}' is not a valid artifact name: it must not be empty or contain "
            + " ".join(repr(c) for c in FORBIDDEN)
            + ". Change artifact-name."
        )


def expiry(
    retention_days: int | None, cap_days: int | None, now: datetime
) -> tuple[str | None, str | None]:
    """``expires_at`` for CreateArtifact (RFC 3339), and a warning when the cap applied."""
    if retention_days is None:
        return None, None
    days, warning = retention_days, None
    if cap_days is not None and days > cap_days:
        days = cap_days
        warning = (
            f"retention-days {retention_days} is more than this repository allows; "
            f"the artifact is kept {cap_days} days."
        )
    moment = now + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), warning


class ArtifactUploader:
    """Uploads archives as artifacts of this workflow run (one artifact per archive)."""

    def __init__(
        self,
        runtime: ArtifactRuntime,
        *,
        retention_days: int | None,
        overwrite: bool,
        mask: Callable[[str], None],
        mask_url: Callable[[str], None],
        log: Callable[[str], None],
        warn: Callable[[str], None],
        network: http.Network | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        blob_policy: Policy = BLOB_UPLOAD,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        mask(runtime.runtime_token)
        self._runtime = runtime
        self._network = network or http.Network()
        self._service = ResultsService(
            runtime.results_url,
            runtime.runtime_token,
            session=session or http.session(self._network),
            sleep=sleep,
            log=log,
        )
        self._retention_days = retention_days
        self._overwrite = overwrite
        self._mask_url, self._log, self._warn = mask_url, log, warn
        self._sleep, self._clock = sleep, clock
        self._blob_policy, self._block_size = blob_policy, block_size

    def __call__(
        self, archive: Archive, name: str, deadline: Deadline | None = None
    ) -> tuple[int, str]:
        """Upload ``archive`` as the artifact ``name`` by ``deadline``; return its id and
        URL."""
        deadline = deadline or Deadline.never(clock=self._clock)
        check_name(name)
        if archive.crc32 is None:
            raise ArtifactError(
                "internal: the archive's CRC-32 was not computed while downloading it"
            )
        if self._overwrite and self._service.find(name, deadline=deadline):
            self._service.delete(name, deadline=deadline)
            self._log(f"replaced the earlier artifact '{name}' of this run (overwrite: true)")
        expires_at, warning = expiry(
            self._retention_days,
            self._runtime.retention_cap_days,
            datetime.fromtimestamp(self._clock(), UTC),
        )
        if warning:
            self._warn(warning)
        signed_url = self._service.create(name, expires_at=expires_at, deadline=deadline)
        self._mask_url(signed_url)
        with archive.path.open("rb") as data:
            blob = StoredZip(data, name=archive.path.name, size=archive.size, crc32=archive.crc32)
            uploaded = upload_blob(
                signed_url,
                blob,
                parallel=stages_in_parallel(signed_url),
                block_size=self._block_size,
                policy=self._blob_policy,
                sleep=self._sleep,
                log=self._log,
                clock=self._clock,
                deadline=deadline,
                session=http.session(self._network, connections=PARALLEL_BLOCKS),
            )
        artifact_id = self._service.finalize(
            name, size=uploaded.size, sha256=uploaded.sha256, deadline=deadline
        )
        runtime = self._runtime
        url = (
            f"{runtime.server_url.rstrip('/')}/{runtime.repository}/actions/runs/"
            f"{runtime.run_id}/artifacts/{artifact_id}"
        )
        return artifact_id, url
