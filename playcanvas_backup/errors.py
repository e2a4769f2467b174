"""Errors a user can act on.

Every failure the product reports is one of these types. Each carries the message the
user must read; the edge (``cli``) turns them into annotations and the exit status.
"""

from __future__ import annotations


class BackupError(Exception):
    """Something went wrong that the user should read about."""

    #: A short title for the ``::error`` annotation.
    title = "PlayCanvas backup failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(BackupError):
    """An input is missing or invalid; found before any network call (exit status 2)."""

    title = "Invalid input"

    def __init__(self, input_name: str, message: str) -> None:
        super().__init__(f"Input '{input_name}': {message}")
        self.input_name = input_name


class ApiError(BackupError):
    """PlayCanvas answered with a final error (401, 403, 404, other 4xx): retrying won't help."""

    title = "PlayCanvas API error"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiUnreachable(BackupError):
    """The API cannot be reached in a way retrying won't mend: its certificate is not
    trusted, or its URL cannot be used."""

    title = "PlayCanvas API unreachable"


class TransientError(BackupError):
    """A fault worth retrying: a 5xx answer, a dropped or timed-out connection."""


class RateLimited(TransientError):
    """HTTP 429. ``retry_after`` is how long the server asked us to wait, if it said."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BranchNotFound(BackupError):
    """The requested branch is not among the project's open branches."""

    title = "Branch not found"


class ExportFailed(BackupError):
    """The export job ended in ``error``, or never ended within the timeout."""

    title = "Export failed"


class DownloadFailed(BackupError):
    """The archive could not be downloaded, even after retries."""

    title = "Download failed"


class VerificationFailed(BackupError):
    """The downloaded archive is not what was promised (size, zip integrity)."""

    title = "Archive verification failed"


class ArtifactError(BackupError):
    """The workflow artifact could not be uploaded."""

    title = "Artifact upload failed"


class TimedOut(BackupError):
    """The archive's deadline (the ``timeout`` input) passed, or a wait would cross it."""

    title = "Timeout"
