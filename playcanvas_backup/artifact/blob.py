"""Upload the artifact's blob with Put Block / Put Block List (azure-storage-blob).

Never a single-shot Put Blob: act and Gitea do not store one. Blocks are staged in
order, one at a time, except against GitHub's own (Azure) storage, where a few go in
parallel; act appends blocks in arrival order and ignores their ids.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ArtifactError

BLOCK_SIZE = 8 << 20
PARALLEL_BLOCKS = 5
CONTENT_TYPE = "application/zip"


class Readable(Protocol):
    def read(self, n: int) -> bytes: ...


@dataclass(frozen=True)
class Uploaded:
    size: int
    sha256: str


def upload_blob(
    signed_url: str,
    stream: Readable,
    *,
    parallel: bool,
    block_size: int = BLOCK_SIZE,
    first_retry_wait: float = 2.0,
    progress: Callable[[int], None] = lambda sent: None,
) -> Uploaded:
    """Send everything ``stream`` gives as one block blob; return its size and SHA-256.

    A failed block PUT is sent again by the Azure SDK's own retry policy (5 retries,
    waits growing from ``first_retry_wait`` seconds).
    """
    # Imported here: the Azure SDK is the heaviest import, and only uploads need it.
    from azure.core.exceptions import AzureError  # noqa: PLC0415
    from azure.storage.blob import (  # noqa: PLC0415
        BlobBlock,
        BlobClient,
        ContentSettings,
        ExponentialRetry,
    )

    retry = ExponentialRetry(
        initial_backoff=first_retry_wait,  # type: ignore[arg-type]  # typed int, takes float
        increment_base=2,
        retry_total=5,
        random_jitter_range=min(1, first_retry_wait),  # type: ignore[arg-type]
    )
    blob = BlobClient.from_blob_url(signed_url, retry_policy=retry)
    digest = hashlib.sha256()
    block_ids: list[str] = []
    in_flight: deque[Future[Any]] = deque()
    size = 0
    try:
        with ThreadPoolExecutor(max_workers=PARALLEL_BLOCKS if parallel else 1) as pool:
            while block := stream.read(block_size):
                digest.update(block)
                block_id = f"{len(block_ids):08d}"  # same length for every block
                block_ids.append(block_id)
                if len(in_flight) >= (PARALLEL_BLOCKS if parallel else 1):
                    in_flight.popleft().result()
                in_flight.append(pool.submit(blob.stage_block, block_id, block, length=len(block)))
                size += len(block)
                progress(size)
            while in_flight:
                in_flight.popleft().result()
        blob.commit_block_list(
            [BlobBlock(block_id) for block_id in block_ids],
            content_settings=ContentSettings(content_type=CONTENT_TYPE),
        )
    except AzureError as exc:
        raise ArtifactError(f"Uploading the artifact's blob failed: {_describe(exc)}") from exc
    return Uploaded(size, digest.hexdigest())


def _describe(exc: Exception) -> str:
    """The storage error without its URL (the SAS signature is a credential)."""
    message = getattr(exc, "reason", None) or type(exc).__name__
    status = getattr(exc, "status_code", None)
    return f"{status} {message}" if status else str(message)
