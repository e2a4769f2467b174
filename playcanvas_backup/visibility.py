"""Who can read this repository's artifacts: the upload guard for public repositories.

An artifact of a public repository can be downloaded by anyone signed in to GitHub. The
event payload says whether the repository is public; when it does not say (older
scheduled runs, some GitHub-compatible servers), the repository counts as public, so that
the guard fails closed. ``allow-public-repository: true`` or ``encrypt-to`` lift it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from .errors import InputError

Visibility = Literal["public", "private", "internal", "unknown"]
#: Largest event payload read (GitHub caps webhook payloads at 25 MB).
MAX_EVENT_BYTES = 32 << 20


def repository_visibility(event_payload: Any) -> Visibility:
    """The repository's visibility from a workflow event payload.

    Public when ``repository.private`` is false or ``repository.visibility`` is
    ``public`` (either is enough); else ``internal`` or ``private`` as the payload says;
    ``unknown`` when it says neither.
    """
    repository = event_payload.get("repository") if isinstance(event_payload, dict) else None
    if not isinstance(repository, dict):
        return "unknown"
    private, visibility = repository.get("private"), repository.get("visibility")
    visibility = visibility.lower() if isinstance(visibility, str) else None
    if private is False or visibility == "public":
        return "public"
    if visibility == "internal":
        return "internal"
    if visibility == "private" or private is True:
        return "private"
    return "unknown"


def visibility_from_event_file(path: str | None) -> Visibility:
    """:func:`repository_visibility` of the payload at ``GITHUB_EVENT_PATH``; ``unknown``
    when there is none, or it cannot be read or parsed, or it is larger than GitHub sends."""
    if not path:
        return "unknown"
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_EVENT_BYTES + 1)
        payload = json.loads(data) if len(data) <= MAX_EVENT_BYTES else None
    except (OSError, ValueError):
        return "unknown"
    return repository_visibility(payload)


def counts_as_public(visibility: Visibility) -> bool:
    """The rule: unknown visibility counts as public."""
    return visibility in {"public", "unknown"}


def upload_refusal(
    visibility: Visibility, *, allow_public_repository: bool, encrypted: bool
) -> InputError | None:
    """Why readable archives may not be uploaded here (an error to raise), or None.

    Public and unknown visibility refuse, unless the archives are encrypted or
    ``allow-public-repository`` is true.
    """
    if encrypted or allow_public_repository or not counts_as_public(visibility):
        return None
    if visibility == "public":
        why = "this repository is public"
    else:
        why = (
            "this repository's visibility is unknown (the workflow's event payload has no "
            "repository.private or repository.visibility, as in some scheduled runs and on "
            "GitHub-compatible servers), so it counts as public"
        )
    return InputError(
        "upload-artifact",
        f"{why}, and anyone signed in to GitHub can download a public repository's "
        "artifacts, so the project archive would be readable by them too. Set encrypt-to "
        "(age public keys) to upload it encrypted, or upload-artifact: false (and keep the "
        "archive another way), or allow-public-repository: true if that is intended.",
    )
