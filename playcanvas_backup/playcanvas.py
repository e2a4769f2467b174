"""The one client of the PlayCanvas REST API: URLs, the token, rate limits and retries.

The token is sent only to the API host, never on a redirect. Each response's
``X-RateLimit-*`` headers are remembered per kind of route, and a request that would go
over the limit waits for the window to reset instead. 429, 5xx and connection faults are
retried with backoff (a 429 waits for ``Retry-After`` or the window's reset); other errors
are final and carry PlayCanvas's own message plus what to check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests

from . import ratelimit, retries
from .errors import ApiError, RateLimited, TransientError

Kind = Literal["strict", "normal"]
STRICT: Kind = "strict"
NORMAL: Kind = "normal"

#: (connect, read) timeouts for API calls, seconds.
API_TIMEOUT = (10.0, 60.0)
#: Failed attempts (5xx, connection) before an API call gives up.
MAX_ATTEMPTS = retries.API.attempts


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
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
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


class PlayCanvasApi:
    """PlayCanvas REST API client.

    >>> api = PlayCanvasApi("https://playcanvas.com/api", token)  # doctest: +SKIP
    >>> job = api.start_export(12345, branch_id=None, deadline=time.time() + 600)  # doctest: +SKIP
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
        self._session = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._log = log
        self._windows: dict[Kind, ratelimit.Window] = {
            STRICT: ratelimit.Window(),
            NORMAL: ratelimit.Window(),
        }
        self.requests_sent = 0

    def ready_in(self, kind: Kind) -> float:
        """Seconds until a request of this kind fits the rate limit (0 = now)."""
        return self._windows[kind].wait(self._clock())

    def start_export(self, project_id: int, *, branch_id: str | None, deadline: float) -> ExportJob:
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

    def get_job(self, job_id: int, *, deadline: float) -> ExportJob:
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
        self, project_id: int, *, deadline: float, include_closed: bool = False
    ) -> list[Branch]:
        """Every open branch of a project (and closed ones, if asked), following the pages
        (``?skip=<last id>``)."""
        branches: list[Branch] = []
        skip: str | None = None
        while True:
            request = _Request(
                NORMAL,
                "GET",
                f"/projects/{project_id}/branches",
                what=f"Listing the branches of project {project_id}",
                not_found=_project_hint(project_id),
                params={"skip": skip} if skip else None,
            )
            body = self._call(request, deadline=deadline)
            page = body.get("result") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise ApiError(
                    f"PlayCanvas listed the branches of project {project_id} in an "
                    "unexpected shape.",
                    status=200,
                )
            branches += [
                Branch(
                    str(item["id"]), str(item.get("name") or item["id"]), bool(item.get("closed"))
                )
                for item in page
                if isinstance(item, dict)
                and "id" in item
                and (include_closed or not item.get("closed"))
            ]
            pagination = body.get("pagination")
            has_more = isinstance(pagination, dict) and pagination.get("hasMore") is True
            last = page[-1].get("id") if page and isinstance(page[-1], dict) else None
            if not has_more or last is None or str(last) == skip:
                return branches
            skip = str(last)

    def _call(self, request: _Request, *, deadline: float) -> Any:
        retrying = retries.API.retrying(
            TransientError,
            final=(AnswerLost,),
            sleep=self._sleep,
            log=self._log,
            deadline=deadline,
            clock=self._clock,
        )
        return retrying(self._send, request)

    def _send(self, request: _Request) -> Any:
        kind, what = request.kind, request.what
        wait = self.ready_in(kind)
        if wait > 0:
            self._log(f"{what}: waiting {wait:.0f} s for PlayCanvas's {kind} rate limit to reset")
            self._sleep(wait)
        self._windows[kind] = self._windows[kind].spend()
        self.requests_sent += 1
        try:
            response = self._session.request(
                request.method,
                self._base_url + request.path,
                params=request.params,
                json=request.json,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=API_TIMEOUT,
                allow_redirects=False,
            )
        except requests.ReadTimeout as exc:
            if request.method == "POST":
                raise AnswerLost(f"{what}: the answer was lost (none in time)") from exc
            raise TransientError(f"{what}: PlayCanvas did not answer in time") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"{what}: PlayCanvas could not be reached ({type(exc).__name__})"
            ) from exc
        now = self._clock()
        window = ratelimit.window_from_headers(response.headers, now)
        if window is not None:
            self._windows[kind] = window
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise TransientError(
                    f"{what}: PlayCanvas answered {status} with a body that is not JSON"
                ) from exc
        message = _error_message(response)
        if status == 429:
            raise RateLimited(
                f"{what}: rate limited by PlayCanvas (429 {message})",
                retry_after=ratelimit.retry_after(response.headers, now),
            )
        if status >= 500:
            raise TransientError(f"{what}: PlayCanvas answered {status} {message}")
        raise ApiError(
            f"{what} failed: {status} {message}. {_hint(status, request.not_found)}",
            status=status,
        )


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


def _project_hint(project_id: int) -> str:
    return (
        f"check that project-id {project_id} is right and that the token's account can "
        "open that project"
    )


def _error_message(response: requests.Response) -> str:
    """PlayCanvas's own ``{"error": "..."}`` text, else the HTTP reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f'"{body["error"]}"'
    return response.reason or "(no message)"


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
