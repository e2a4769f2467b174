"""Who can read this repository's artifacts: the upload guard for public repositories.

An artifact of a public repository can be downloaded by anyone signed in to GitHub. The
event payload says whether the repository is public; when it does not say (GitHub
Enterprise Server's scheduled runs, some older payloads), GitHub's REST API is asked
(``GET {GITHUB_API_URL}/repos/{owner}/{repo}`` with the ``github-token`` input, the job's
token by default). When that answer is missing too (no token, refused, unreachable), the
repository counts as public, so that the guard fails closed, and the refusal says why.
``allow-public-repository: true`` or ``encrypt-to`` lift it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from .errors import InputError

if TYPE_CHECKING:
    import requests

    from .network import Network

Visibility = Literal["public", "private", "internal", "unknown"]
#: Largest event payload read (GitHub caps webhook payloads at 25 MB).
MAX_EVENT_BYTES = 32 << 20
#: GitHub.com's REST API; GitHub Enterprise Server sets GITHUB_API_URL to its own.
DEFAULT_GITHUB_API_URL = "https://api.github.com"
#: Largest answer read from GitHub's API (a repository's JSON is a few KiB).
MAX_ANSWER_BYTES = 1 << 20
#: Connect and read timeouts of the one request to GitHub's API, seconds.
GITHUB_API_TIMEOUT = (5.0, 10.0)
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class Answer:
    """A repository's visibility, and why it is unknown when it is."""

    visibility: Visibility
    why_unknown: str | None = None


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


def find_visibility(
    *,
    event_path: str | None,
    api_url: str | None,
    repository: str,
    token: str,
    ask: Callable[[str | None, str, str], Answer] | None = None,
    network: Network | None = None,
) -> Answer:
    """The repository's visibility: from the event payload, else from GitHub's API
    (``ask``, :func:`ask_github` through ``network``'s proxy and CA bundle by default),
    else ``unknown`` with the reason."""
    seen = visibility_from_event_file(event_path)
    if seen != "unknown":
        return Answer(seen)
    if ask is not None:
        return ask(api_url, repository, token)
    return ask_github(api_url, repository, token, network=network)


def ask_github(
    api_url: str | None,
    repository: str,
    token: str,
    *,
    session: requests.Session | None = None,
    network: Network | None = None,
) -> Answer:
    """``GET {api_url}/repos/{repository}`` with ``token``: the repository's ``private``
    and ``visibility``. One request, no redirect followed, the token sent to ``api_url``'s
    host only (``config`` checked it: https, or plain http to a loopback host; None when
    unusable); any failure is an ``unknown`` answer saying why."""
    if not token:
        return Answer("unknown", "no github-token was given")
    if not _REPOSITORY.fullmatch(repository):
        return Answer("unknown", "GITHUB_REPOSITORY does not name a repository")
    if api_url is None:
        return Answer("unknown", "GITHUB_API_URL is not an https URL; the token was not sent")
    import requests  # noqa: PLC0415 - only when the event does not say

    from . import http  # noqa: PLC0415

    url = f"{api_url.rstrip('/')}/repos/{quote(repository)}"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    owned = session is None
    session = http.session(network) if session is None else session
    try:
        with session.get(
            url, headers=headers, timeout=GITHUB_API_TIMEOUT, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
            body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except (requests.RequestException, OSError) as exc:
        return Answer("unknown", f"GitHub's API could not be reached ({type(exc).__name__})")
    finally:
        if owned:
            session.close()
    return _answer(status, body)


def _answer(status: int, body: bytes) -> Answer:
    if status in {401, 403, 404}:
        why = {401: "refused github-token (401)", 403: "refused the request (403)"}.get(
            status, "found no repository the token can read (404)"
        )
        return Answer("unknown", f"GitHub's API {why}")
    if status != 200:
        return Answer("unknown", f"GitHub's API answered HTTP {status}")
    try:
        payload = json.loads(body) if len(body) <= MAX_ANSWER_BYTES else None
    except ValueError:
        payload = None
    seen = repository_visibility({"repository": payload})
    if seen == "unknown":
        return Answer("unknown", "GitHub's API answer has neither private nor visibility")
    return Answer(seen)


def counts_as_public(visibility: Visibility) -> bool:
    """The rule: unknown visibility counts as public."""
    return visibility in {"public", "unknown"}


def upload_refusal(
    visibility: Visibility,
    *,
    allow_public_repository: bool,
    encrypted: bool,
    why_unknown: str | None = None,
) -> InputError | None:
    """Why readable archives may not be uploaded here (an error to raise), or None.

    Public and unknown visibility refuse, unless the archives are encrypted or
    ``allow-public-repository`` is true; ``why_unknown`` says why GitHub's API did not
    answer either.
    """
    if encrypted or allow_public_repository or not counts_as_public(visibility):
        return None
    fix = ""
    if visibility == "public":
        why = "this repository is public"
    else:
        why = (
            "this repository's visibility is unknown (the workflow's event payload has no "
            "repository.private or repository.visibility, as in GitHub Enterprise Server's "
            "scheduled runs, and GitHub's API did not say either: "
            f"{why_unknown or 'it was not asked'}), so it counts as public"
        )
        fix = (
            " To let the action ask GitHub, give the job 'permissions: contents: read' (a "
            "fine-grained token needs Metadata: read) and keep github-token's default, the "
            "job's token (with "
            "'uses: docker://...', which applies no defaults, pass "
            "'github-token: ${{ github.token }}')."
        )
    return InputError(
        "upload-artifact",
        f"{why}, and anyone signed in to GitHub can download a public repository's "
        "artifacts, so the project archive would be readable by them too. Set encrypt-to "
        "(age public keys) to upload it encrypted, or upload-artifact: false (and keep the "
        "archive another way), or allow-public-repository: true if that is intended." + fix,
    )
