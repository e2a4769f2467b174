"""The one client of the PlayCanvas REST API: URLs, the token, rate limits and retries.

The token is sent only to the API host, never on a redirect. Each response's
``X-RateLimit-*`` headers are remembered per kind of route, and a request that would go
over the limit waits for the window to reset instead. 429, 5xx and connection faults are
retried with backoff (a 429 waits for ``Retry-After`` or the window's reset, and at least
the backoff); other errors are final and carry PlayCanvas's own message plus what to check.
A 401 or 403 from a lookup route (project details, an account's project list) is
:class:`LookupRefused`: that route's answer, never a sign that the token was refused.

Whoever answers may be hostile, so everything is bounded: no wait goes past the caller's
deadline (a rate limit that resets after it fails the call at once), at most
``retries.API.uncounted_in_a_row`` 429s in a row, bodies of at most ``MAX_BODY`` bytes, at most
``MAX_PAGES`` pages and ``MAX_BRANCHES`` branches, each page with a branch not seen
before. An untrusted certificate or an unusable URL is final. PlayCanvas's error texts
are quoted cleaned (:func:`untrusted.clean`), with the token redacted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from . import http, ratelimit, retries, untrusted
from .deadline import Deadline
from .errors import (
    ApiError,
    ApiUnreachable,
    BackupError,
    BranchNotFound,
    RateLimited,
    TransientError,
)
from .ratelimit import NORMAL, STRICT, Kind

#: (connect, read) timeouts for API calls, seconds.
API_TIMEOUT = (10.0, 60.0)
#: Failed attempts (5xx, connection) before an API call gives up.
MAX_ATTEMPTS = retries.API.attempts
#: The largest API answer read, bytes (a page of branches is a few KiB).
MAX_BODY = 4 << 20
#: Branches asked for a page (the Editor's own page size).
BRANCH_PAGE = 50
#: Pages of the branch list followed (50 branches a page: 5,000 branches).
MAX_PAGES = 100
#: Branches of one project believed; more is a list that never ends.
MAX_BRANCHES = 5000
#: A branch name is kept to this many characters (PlayCanvas's own are far shorter):
#: with ``MAX_BRANCHES`` it bounds what a branch list can hold in memory.
MAX_BRANCH_NAME = 1024
#: What a lookup route answers when it will not answer this token.
LOOKUP_REFUSALS = frozenset({401, 403})
#: The largest job id believed (PlayCanvas's ids are 64-bit integers).
_MAX_ID = (1 << 63) - 1


class Refused(ApiError):
    """PlayCanvas answered a request with a final error status (4xx).

    ``answer`` is what PlayCanvas said: the status and its own text, cleaned
    (``401 "Unauthorized"``); the message adds what the request was and what to check.
    """

    def __init__(self, message: str, *, status: int, answer: str) -> None:
        super().__init__(message, status=status)
        self.answer = answer


class LookupRefused(Refused):
    """A lookup route (a project's details, an account's project list) answered 401 or
    403: that route's answer to this token, not a refused token. PlayCanvas answers every
    API token's ``GET /projects/:id`` so ("Token does not have required scope")."""

    title = "PlayCanvas would not look that up"


class AnswerLost(TransientError):
    """A request that changes something was sent, but its answer never came: it may have
    taken effect, so it is not simply sent again."""


@dataclass(frozen=True)
class ExportJob:
    """An export job as ``POST /projects/:id/export`` and ``GET /jobs/:id`` return it."""

    id: int
    status: str
    messages: tuple[str, ...] = ()
    url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in {"complete", "error"}

    @classmethod
    def from_json(cls, body: Any) -> ExportJob:
        if not isinstance(body, dict) or not _is_id(body.get("id")):
            raise ApiError(
                "PlayCanvas answered with something that is not an export job.", status=200
            )
        data = body.get("data")
        messages = body.get("messages")
        url = data.get("url") if isinstance(data, dict) else None
        return cls(
            id=body["id"],
            status=str(body.get("status", "running")),
            messages=tuple(str(m) for m in messages) if isinstance(messages, list) else (),
            url=url if isinstance(url, str) and url else None,
        )


@dataclass(frozen=True)
class Branch:
    """An open branch of a project."""

    id: str
    name: str
    closed: bool = False


def find_branch(project_id: int, branches: list[Branch], wanted: str) -> Branch:
    """The branch whose id or name is ``wanted`` (a unique case-insensitive name will do)."""
    for match in (
        [b for b in branches if b.id == wanted],
        [b for b in branches if b.name == wanted],
        [b for b in branches if b.name.casefold() == wanted.casefold()],
    ):
        if len(match) == 1 and match[0].closed:
            raise BranchNotFound(
                f"Project {project_id}'s branch '{match[0].name}' exists but is closed; "
                "PlayCanvas exports open branches only. Reopen it, or choose another branch."
            )
        if len(match) == 1:
            return match[0]
    names = sorted({b.name for b in branches if not b.closed}, key=str.casefold)
    shown = ", ".join(names[:30]) + (f", and {len(names) - 30} more" if len(names) > 30 else "")
    raise BranchNotFound(
        f"Project {project_id} has no open branch named or with the id '{wanted}'. "
        f"Its open branches are: {shown or '(none)'}. Set 'branch' to one of these."
    )


class PlayCanvasApi:
    """PlayCanvas REST API client.

    >>> api = PlayCanvasApi("https://playcanvas.com/api", token)  # doctest: +SKIP
    >>> deadline = Deadline.after(600)
    >>> job = api.start_export(12345, branch_id=None, deadline=deadline)  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or http.session()
        self._clock = clock
        self._sleep = sleep
        self._log = log
        #: The rate limits, asked before each request and told each answer's headers.
        self.limits = ratelimit.Limits(clock=clock)
        self.requests_sent = 0

    def rate_limits(self, *, deadline: Deadline) -> dict[str, int]:
        """The token's limits as ``GET /ratelimits`` reports them: each name with a whole
        number (the route's shape is undocumented; anything else in it is left out)."""
        request = _Request(
            NORMAL,
            "GET",
            "/ratelimits",
            what="Reading the token's rate limits",
            not_found="this API has no /ratelimits route",
            lookup=True,
        )
        body = self._call(request, deadline=deadline)
        limits = body.get("limits", body) if isinstance(body, dict) else None
        if not isinstance(limits, dict):
            return {}
        numbers = {
            untrusted.clean(str(name), limit=40): value
            for name, value in list(limits.items())[:20]
            if type(value) is int and 0 <= value <= ratelimit.MAX_COUNT
        }
        return dict(sorted(numbers.items()))

    def start_export(
        self, project_id: int, *, branch_id: str | None, deadline: Deadline
    ) -> ExportJob:
        """Start exporting a project (its main branch when ``branch_id`` is None)."""
        request = _Request(
            STRICT,
            "POST",
            f"/projects/{project_id}/export",
            what=f"Exporting project {project_id}",
            not_found=_project_hint(project_id),
            json={"branch_id": branch_id} if branch_id else None,
        )
        try:
            return ExportJob.from_json(self._call(request, deadline=deadline))
        except AnswerLost as lost:
            # Sent again at most once: the export may have started, and each one spends
            # a slot of the strict rate limit.
            self._log(
                f"warning: {lost}; the export may have started anyway. Trying once more: "
                "a duplicate export job may exist on PlayCanvas."
            )
        return ExportJob.from_json(self._call(request, deadline=deadline))

    def get_job(self, job_id: int, *, deadline: Deadline) -> ExportJob:
        """Fetch an export job's current state (a complete one has a fresh download URL)."""
        request = _Request(
            NORMAL,
            "GET",
            f"/jobs/{job_id}",
            what=f"Checking export job {job_id}",
            not_found="the job has disappeared on PlayCanvas's side; run the backup again",
        )
        return ExportJob.from_json(self._call(request, deadline=deadline))

    def list_branches(
        self, project_id: int, *, deadline: Deadline, closed: bool = False
    ) -> list[Branch]:
        """A project's open branches (its closed ones with ``closed``), following the pages
        (``?skip=<last id>``, ``BRANCH_PAGE`` a page, as the Editor asks).

        PlayCanvas lists closed branches only when asked with ``closed=true``; whatever a
        page holds, only branches of the kind asked for are kept. At most ``MAX_PAGES``
        pages, each bringing a branch not seen before, within the deadline (:meth:`_pages`).
        """
        branches: list[Branch] = []
        listed = 0
        listing = _Listing(
            f"the branches of project {project_id}",
            "branches",
            MAX_PAGES,
            "Export a branch by name with 'branch' instead of 'all-branches'.",
        )

        def request(skip: str | None) -> _Request:
            return _branches_page(project_id, closed, skip)

        for _page, new, _body in self._pages(listing, request, _branch_id, deadline=deadline):
            branches += [
                Branch(id=id_, name=_branch_name(item, id_), closed=bool(item.get("closed")))
                for item, id_ in new
                if bool(item.get("closed")) == closed
            ]
            listed += len(new)
            if listed > MAX_BRANCHES:
                raise ApiError(
                    f"PlayCanvas listed more than {MAX_BRANCHES} branches of project "
                    f"{project_id}; the list was cut off there. {listing.cut_hint}",
                    status=200,
                )
        return branches

    def _pages(
        self,
        listing: _Listing,
        request: Callable[[str | None], _Request],
        key: Callable[[Any], str | None],
        *,
        deadline: Deadline,
    ) -> Iterator[tuple[list[Any], list[tuple[Any, str]], dict[str, Any]]]:
        """Each page of a list (its items, the new ones with their keys, the body),
        following ``?skip=<last key>`` while ``pagination.hasMore``: the one rule of every
        list. The deadline is checked before each page; a page that brings nothing new
        (a server repeating itself) or more than ``listing.max_pages`` pages is an error,
        never a silent end or a hang."""
        seen: set[str] = set()
        skip: str | None = None
        for _ in range(listing.max_pages):
            deadline.check(f"Listing {listing.what} ({len(seen)} {listing.items} so far)")
            body = self._call(request(skip), deadline=deadline)
            page = body.get("result") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise ApiError(
                    f"PlayCanvas listed {listing.what} in an unexpected shape.", status=200
                )
            keys = [key(item) for item in page]
            new = [(item, k) for item, k in zip(page, keys, strict=True) if k and k not in seen]
            seen.update(k for _, k in new)
            yield page, new, body
            pagination = body.get("pagination")
            if not (isinstance(pagination, dict) and pagination.get("hasMore") is True):
                return
            if not new or keys[-1] is None:
                raise ApiError(
                    f"PlayCanvas kept listing {listing.what} it had listed before "
                    f"({len(seen)} {listing.items}); the list never ends, so it was cut off. "
                    "Try again later.",
                    status=200,
                )
            skip = keys[-1]
        raise ApiError(
            f"PlayCanvas listed more than {listing.max_pages} pages of {listing.what} "
            f"({len(seen)} {listing.items}); the list was cut off there. {listing.cut_hint}",
            status=200,
        )

    def _call(self, request: _Request, *, deadline: Deadline) -> Any:
        retrying = retries.API.retrying(
            TransientError,
            final=(AnswerLost,),
            sleep=self._sleep,
            log=self._log,
            deadline=deadline,
        )
        return retrying(self._send, request, deadline)

    def _send(self, request: _Request, deadline: Deadline) -> Any:
        kind, what = request.kind, request.what
        self.limits.wait(kind, deadline, what=what, sleep=self._sleep, log=self._log)
        self.requests_sent += 1
        response = self._request(request, deadline)
        with response:
            now = self._clock()
            self.limits.heard(kind, response.headers, now)
            status = response.status_code
            body = self._read(response, what, deadline)
        if 200 <= status < 300:
            try:
                return json.loads(body)
            except (ValueError, RecursionError) as exc:
                raise TransientError(
                    f"{what}: PlayCanvas answered {status} with a body that is not JSON"
                ) from exc
        message = self._error_message(body, response.reason)
        if status == 429:
            raise RateLimited(
                f"{what}: rate limited by PlayCanvas (429 {message})",
                retry_after=ratelimit.retry_after(response.headers, now),
            )
        raise _failure(request, status, message)

    def _request(self, request: _Request, deadline: Deadline) -> requests.Response:
        """Send one request; a fault becomes final or worth retrying as ``retries.API``
        says (an export whose answer was lost is neither: :class:`AnswerLost`)."""
        what = request.what
        try:
            return self._session.request(
                request.method,
                self._base_url + request.path,
                params=request.params,
                json=request.json,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=(deadline.timeout(API_TIMEOUT[0]), deadline.timeout(API_TIMEOUT[1])),
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as exc:
            if not retries.API.retried_error(exc):
                raise ApiUnreachable(
                    f"{what}: the secure connection to PlayCanvas failed ({_tls_reason(exc)}). "
                    "This is final; check api-url and this machine's CA certificates."
                ) from exc
            raise TransientError(f"{what}: the secure connection to PlayCanvas broke") from exc
        except requests.ReadTimeout as exc:
            if request.method == "POST":
                raise AnswerLost(f"{what}: the answer was lost (none in time)") from exc
            raise TransientError(f"{what}: PlayCanvas did not answer in time") from exc
        except requests.RequestException as exc:
            if not retries.API.retried_error(exc):
                raise ApiUnreachable(
                    f"{what}: the request could not be made ({type(exc).__name__}). "
                    "This is final; check api-url."
                ) from exc
            raise TransientError(
                f"{what}: PlayCanvas could not be reached ({type(exc).__name__})"
            ) from exc

    def _read(self, response: requests.Response, what: str, deadline: Deadline) -> bytes:
        """The body, refused past ``MAX_BODY`` bytes (decoded) or once it has taken past
        both the deadline and the read timeout (an answer begun in time may finish)."""
        too_big = ApiError(
            f"{what}: PlayCanvas answered with more than {MAX_BODY >> 20} MiB; an API "
            "answer is a few KiB, so it was refused.",
            status=response.status_code,
        )
        declared = response.headers.get("Content-Length", "").strip()
        if re.fullmatch(r"[0-9]+", declared) and (len(declared) > 12 or int(declared) > MAX_BODY):
            raise too_big
        body = bytearray()
        started = time.monotonic()
        try:
            for chunk in response.iter_content(chunk_size=64 << 10):
                body += chunk
                if len(body) > MAX_BODY:
                    raise too_big
                if deadline.expired() and time.monotonic() - started > API_TIMEOUT[1]:
                    raise TransientError(f"{what}: PlayCanvas's answer took past the timeout")
        except requests.RequestException as exc:
            raise TransientError(
                f"{what}: PlayCanvas's answer broke off ({type(exc).__name__})"
            ) from exc
        return bytes(body)

    def _error_message(self, body: bytes, reason: str | None) -> str:
        """PlayCanvas's own ``{"error": "..."}`` text, else the HTTP reason, cleaned."""
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            return f'"{untrusted.clean(parsed["error"], secrets=[self._token])}"'
        return untrusted.clean(reason or "(no message)", secrets=[self._token])

    # -- projects of an account ---------------------------------------------------------

    def list_projects(self, user_id: int, *, deadline: Deadline) -> list[Project]:
        """Every project a user or organization account can open, in PlayCanvas's order.

        PlayCanvas documents this list without pages; should it send a ``pagination``
        object like the branches list's, the pages are followed as every list's are
        (:meth:`_pages`). A list that ends short of a ``pagination.total`` it announced
        is an error, not a plan.
        """
        projects: list[Project] = []
        listing = _Listing(
            f"the projects of account {user_id}",
            "projects",
            MAX_PROJECT_PAGES,
            "Stopped there rather than back up only some of them.",
        )

        def request(skip: str | None) -> _Request:
            return _Request(
                NORMAL,
                "GET",
                f"/users/{user_id}/projects",
                what=f"Listing the projects of account {user_id}",
                not_found=(
                    f"user not found: check that user-id {user_id} is the numeric id of a "
                    "PlayCanvas user or organization account (the owner_id the action "
                    "prints for each project it backs up)"
                ),
                params={"skip": skip} if skip else None,
                lookup=True,
            )

        total: Any = 0
        for page, new, body in self._pages(listing, request, _project_key, deadline=deadline):
            if any(Project.from_json(item) is None for item in page):
                raise ApiError(
                    f"PlayCanvas listed the projects of account {user_id} in an unexpected shape.",
                    status=200,
                )
            projects += [p for item, _ in new if (p := Project.from_json(item)) is not None]
            pagination = body.get("pagination")
            total = pagination.get("total") if isinstance(pagination, dict) else 0
        if _is_id(total) and total > len(projects):
            raise ApiError(
                f"PlayCanvas listed {len(projects)} of the {total} projects of account "
                f"{user_id}; stopped rather than back up only some of them.",
                status=200,
            )
        return projects

    def get_project(self, project_id: int, *, deadline: Deadline) -> Project:
        """One project's name and owner (``GET /projects/:id``): best effort, since
        PlayCanvas answers it 401 to every API token (:class:`LookupRefused`)."""
        request = _Request(
            NORMAL,
            "GET",
            f"/projects/{project_id}",
            what=f"Reading project {project_id}'s details",
            not_found=_project_hint(project_id),
            lookup=True,
        )
        project = Project.from_json(self._call(request, deadline=deadline))
        if project is None or project.id != project_id:
            raise ApiError(
                f"PlayCanvas described project {project_id} in an unexpected shape.", status=200
            )
        return project


@dataclass(frozen=True)
class _Listing:
    """A list the API pages through: what it is, for messages, and how far to follow it."""

    what: str
    items: str
    max_pages: int
    cut_hint: str


def _project_key(item: object) -> str | None:
    return str(item["id"]) if isinstance(item, dict) and _is_id(item.get("id")) else None


@dataclass(frozen=True)
class _Request:
    """One API call: its route and rate-limit kind, and the words for its errors."""

    kind: Kind
    method: str
    path: str
    what: str
    not_found: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    #: A lookup (best effort): a 401/403 is :class:`LookupRefused`, not a refused token.
    lookup: bool = False


def _branches_page(project_id: int, closed: bool, skip: str | None) -> _Request:
    """One page of a project's branches: ``BRANCH_PAGE`` of them, open or closed, after
    ``skip`` (the last branch id received)."""
    params = {"limit": str(BRANCH_PAGE)}
    params.update({"closed": "true"} if closed else {})
    params.update({"skip": skip} if skip else {})
    return _Request(
        NORMAL,
        "GET",
        f"/projects/{project_id}/branches",
        what=f"Listing the branches of project {project_id}",
        not_found=_project_hint(project_id),
        params=params,
    )


def _failure(request: _Request, status: int, message: str) -> BackupError:
    """The error for a final or server-side answer other than 429 (``message`` is
    PlayCanvas's own text, cleaned): 5xx is worth retrying, a lookup's 401/403 is that
    route's answer, any other is final with what to check."""
    what, answer = request.what, f"{status} {message}"
    if retries.API.retried_status(status):
        return TransientError(f"{what}: PlayCanvas answered {answer}")
    if request.lookup and status in LOOKUP_REFUSALS:
        return LookupRefused(f"{what}: PlayCanvas answered {answer}", status=status, answer=answer)
    return Refused(
        f"{what} failed: {answer}. {_hint(status, request.not_found)}", status=status, answer=answer
    )


def _project_hint(project_id: int) -> str:
    return (
        f"check that project-id {project_id} is right and that the token's account can "
        "open that project"
    )


def _is_id(value: object) -> bool:
    """A JSON number that can be an id: a positive 64-bit integer (``True`` is an
    ``int`` in Python, not an id)."""
    return type(value) is int and 0 < value <= _MAX_ID


def _branch_id(item: object) -> str | None:
    """A listed branch's id as text, or None when the item is not a usable branch."""
    if not isinstance(item, dict):
        return None
    value = item.get("id")
    if _is_id(value) or (isinstance(value, str) and 0 < len(value) <= 128):
        return str(value)
    return None


def _branch_name(item: dict[str, Any], branch_id: str) -> str:
    name = item.get("name")
    return name[:MAX_BRANCH_NAME] if isinstance(name, str) and name else branch_id


def _tls_reason(exc: requests.exceptions.SSLError) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate" in str(exc).lower():
        return "its certificate is not trusted"
    return "TLS handshake failed"


def _hint(status: int, not_found: str) -> str:
    if status == 401:
        return (
            "Check that access-token is a current PlayCanvas API token with the scope this "
            "route needs (tokens are made on the organization's account page)."
        )
    if status == 403:
        return (
            "Check that the token's account is an admin of the project's organization and "
            "that the organization's plan allows project exports."
        )
    if status == 404:
        return f"Hint: {not_found}."
    if 300 <= status < 400:
        return "Check api-url: the API should not redirect."
    return "This is final; retrying will not help."


# -- projects of an account (user-id) ------------------------------------------------------

#: Pages of a project list followed at most (PlayCanvas documents no pages for it).
MAX_PROJECT_PAGES = 100


@dataclass(frozen=True)
class Project:
    """A project as ``GET /projects/:id`` and ``GET /users/:id/projects`` describe it.

    ``name`` is PlayCanvas's text, untrusted: clean it before it is printed or used in a
    file name. ``owner_id`` is the account to give as ``user-id`` (None if not given).
    """

    id: int
    name: str
    owner_id: int | None = None

    @classmethod
    def from_json(cls, item: Any) -> Project | None:
        """The project an API item describes, or None if it is not one."""
        if not isinstance(item, dict) or not _is_id(item.get("id")):
            return None
        name, owner_id = item.get("name"), item.get("owner_id")
        return cls(
            id=item["id"],
            name=name if isinstance(name, str) else "",
            owner_id=owner_id if _is_id(owner_id) else None,
        )
