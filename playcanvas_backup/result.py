"""What became of one requested archive: :class:`ArchiveResult`, the value each archive's
pipeline returns (:mod:`run`) and everything after it reads (:mod:`report`, :mod:`cli`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ArchiveResult:
    """One requested archive, filled in as it goes; ``error`` set when it failed."""

    project_id: int
    branch: str
    branch_id: str | None
    job_id: int | None = None
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    artifact_id: int | None = None
    artifact_url: str | None = None
    seconds: float | None = None
    error: str | None = None
    #: The zip's CRCs were checked (``verify: true``).
    verified: bool = False
    #: The project's name on PlayCanvas (untrusted text), when it was read.
    project_name: str | None = None
    #: Of the ``.age`` file at ``path`` (``encrypt-to``); ``sha256``/``size`` stay the
    #: plaintext archive's, what a restore yields.
    encrypted_sha256: str | None = None
    encrypted_size: int | None = None
    #: Where ``s3-uri`` stored it (verified), and the object's version (versioned buckets).
    s3_uri: str | None = None
    s3_version_id: str | None = None

    @property
    def archived(self) -> bool:
        """The archive is on disk and verified (its upload may still have failed)."""
        return self.path is not None and self.sha256 is not None
