"""An emulator of the PlayCanvas REST API on loopback, with named fault switches.

The API is served on one loopback address (127.0.0.1) and the archives on another
(127.0.0.2), as PlayCanvas serves its API and its storage from different hosts. Every
request is recorded so tests can assert what was, and was not, sent.

By default it answers as PlayCanvas does, not as its documentation says (each row of
"What PlayCanvas actually answers" in the design notes):

* ``GET /projects/:id`` answers ``401 {"error": "Token does not have required scope"}``
  to every API token, whether or not the project exists; it answers only without an
  ``Authorization`` header, and only for a public project (``add_project(public=True)``).
* ``POST /projects/:id/export`` answers ``201`` (``Faults.export_ok_status = 200``: the
  status PlayCanvas's own script checks for).
* A job has an integer ``id``, a ``scope: {id, type}``, its link in ``data.url``, and
  ``messages`` only when it failed.
* A 429 carries ``X-RateLimit-*`` but no ``Retry-After`` (``Faults.retry_after`` adds it).
* ``GET /projects/:id/branches`` lists open branches in alphabetical order (closed ones
  only with ``closed=true``), ``limit`` a page (at most ``Faults.branch_page_size``),
  the next page by ``hasMore`` and ``skip=<last id>``.
* The free plan's limits: strict 5 and normal 120 requests a minute (``rate_window``).

``Faults.documented = True`` (or ``Emulator(documented=True)``) is the documented
behaviour instead: project details answered to the token, and ``messages`` in every job.
``GET /users/:id/projects`` and ``GET /ratelimits`` answer the token in both modes (the
shape of the latter is undocumented: ``{"limits": {kind: per minute}}`` here).
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .archives import corrupt_copy, make_archive

STRICT_ROUTES = ("/export",)


@dataclass
class Faults:
    """Switches a test flips to make the emulator misbehave. Counters count down."""

    #: Answer as PlayCanvas documents it, not as it answers: project details to API
    #: tokens, ``messages`` in every job.
    documented: bool = False
    #: The next N API requests answer 429 (with reset headers).
    rate_limited: int = 0
    #: Send ``Retry-After`` with 429s (PlayCanvas documents none: only ``X-RateLimit-Reset``).
    retry_after: bool = False
    #: The status of a started export (documented 201; PlayCanvas's own script checks 200).
    export_ok_status: int = 201
    #: The next N API requests answer 503.
    server_errors: int = 0
    #: The export route answers this status with ``export_message`` (e.g. 403).
    export_status: int | None = None
    export_message: str = "Invalid plan"
    #: Every authenticated request answers 401 "Token does not have required scope".
    missing_scope: bool = False
    #: Polls a job stays ``running`` before it completes (0 = complete at once).
    job_polls: int = 1
    #: Seconds a job runs (measured from the export), on top of ``job_polls``.
    job_seconds: float = 0.0
    #: The job ends in ``error`` with this message.
    job_error: str | None = None
    #: The job never ends.
    job_never_ends: bool = False
    #: A complete job carries no ``data.url``.
    job_without_url: bool = False
    #: The next N downloads break off after ``drop_after`` bytes.
    drops: int = 0
    drop_after: int = 1 << 14
    #: The next N downloads answer 503.
    download_errors: int = 0
    #: The download host sends at most this many bytes a second (None = as fast as it can).
    download_rate: int | None = None
    #: The download host ignores ``Range`` (always 200 with the whole archive).
    no_range: bool = False
    #: The archive served is a zip whose last member fails its CRC.
    corrupt_zip: bool = False
    #: A signed URL works this many times, then answers 403 (expired).
    url_uses: int | None = None
    #: Branches per page of the branches list whatever ``limit`` asks (None: the
    #: ``limit`` asked, else 50).
    branch_page_size: int | None = None
    #: Export answers say the strict limit is used up until this many seconds from now
    #: (``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset``), as after a day's quota.
    export_reset_in: float | None = None
    #: The next N exports are started at once but answered only after ``slow_seconds``.
    slow_exports: int = 0
    slow_seconds: float = 0.5

    # -- the project listing (user-id) --
    #: Projects per page of ``GET /users/:id/projects`` (None: one page with no
    #: ``pagination`` object, as PlayCanvas documents it).
    project_page_size: int | None = None
    #: ``GET /users/:id/projects`` and ``GET /projects/:id`` answer 403 "Forbidden".
    listing_forbidden: bool = False
    #: ``GET /users/:id/projects`` answers 401 "Token does not have required scope".
    listing_unauthorized: bool = False
    #: ``GET /users/:id/projects`` answers 200 with this body instead (a malformed list).
    listing_body: Any = None
    #: Seconds each page of ``GET /users/:id/projects`` takes to answer (a slow listing).
    listing_page_seconds: float = 0.0


@dataclass
class Recorded:
    """One request the emulator received."""

    host: str  # "api" or "download"
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class _Project:
    id: int
    branches: list[dict[str, Any]]
    archive_size: int
    main_branch_id: str
    public: bool = False


@dataclass
class _Job:
    id: int
    project_id: int
    branch_id: str
    created: float
    polls: int = 0


@dataclass
class _Limit:
    limit: int
    window_start: float = 0.0
    used: int = 0


#: The account that owns every project not given to an organization.
DEFAULT_OWNER = 900001
#: Requests a minute on PlayCanvas's free plan (paid plans: strict 10, normal 240).
FREE_PLAN = {"strict": 5, "normal": 120, "assets": 60}
#: What PlayCanvas answers an API token on ``GET /projects/:id`` (developer-site #740).
MISSING_SCOPE = {"error": "Token does not have required scope"}


@dataclass
class _Listing:
    """Accounts and project names, for the project listing routes."""

    accounts: dict[int, str] = field(default_factory=dict)  # user id -> display name
    projects: dict[int, tuple[str, int]] = field(default_factory=dict)  # id -> name, owner
    shared: dict[int, list[int]] = field(default_factory=dict)  # user id -> project ids


class Emulator:
    """Run with ``with Emulator() as pc:``; ``pc.api_url`` is the ``api-url`` input."""

    def __init__(
        self,
        *,
        token: str = "pc-test-token-3f9a1c",
        api_host: str = "127.0.0.1",
        download_host: str = "127.0.0.2",
        strict_limit: int = FREE_PLAN["strict"],
        normal_limit: int = FREE_PLAN["normal"],
        rate_window: float = 60.0,
        clock: Callable[[], float] = time.time,
        documented: bool = False,
    ) -> None:
        self.token = token
        #: The emulator's time (job completion, rate-limit windows, ``Recorded.at``).
        self.clock = clock
        self.faults = Faults(documented=documented)
        self.hostile = Hostile()
        self.requests: list[Recorded] = []
        #: How many requests were answered 429 because the rate limit was used up.
        self.over_limit = 0
        self._api_host, self._download_host = api_host, download_host
        self._rate_window = rate_window
        self._limits = {"strict": _Limit(strict_limit), "normal": _Limit(normal_limit)}
        self._projects: dict[int, _Project] = {}
        self._jobs: dict[int, _Job] = {}
        self._signed: dict[str, tuple[int, int]] = {}  # signature -> (job id, uses)
        self._archives: dict[tuple[int, str], Path] = {}
        self._lock = threading.RLock()
        self._next_job = 1000
        self._dir = Path(tempfile.mkdtemp(prefix="pc-emulator-"))
        self._servers: list[ThreadingHTTPServer] = []
        self._listing = _Listing()

    # -- setting up -----------------------------------------------------------------------

    def add_project(
        self,
        project_id: int,
        *,
        branches: tuple[str, ...] = ("main",),
        archive_size: int = 64 << 10,
        public: bool = False,
    ) -> list[dict[str, Any]]:
        """Add a project with open branches of these names (the first is the main branch);
        a public one's details are answered to a request without a token."""
        listed = [
            {
                "id": f"{project_id:08d}-0000-4000-8000-{index:012d}",
                "projectId": project_id,
                "name": name,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "closed": False,
                "latestCheckpointId": None,
                "user": {"id": 1, "fullName": "Emu Lator", "username": "emulator"},
            }
            for index, name in enumerate(branches)
        ]
        self._projects[project_id] = _Project(
            project_id, listed, archive_size, str(listed[0]["id"]), public
        )
        return listed

    def close_branch(self, project_id: int, name: str) -> None:
        for branch in self._projects[project_id].branches:
            if branch["name"] == name:
                branch["closed"] = True

    def archive_path(self, project_id: int, branch_id: str) -> Path:
        """The archive the emulator serves for a project's branch (made on first use)."""
        key = (project_id, branch_id)
        with self._lock:
            if key not in self._archives:
                size = self._projects[project_id].archive_size
                path = self._dir / f"{project_id}-{branch_id}.zip"
                self._archives[key] = make_archive(path, size=size, label=f"{project_id}")
            return self._archives[key]

    # -- running ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self._origin(0)}/api"

    @property
    def download_origin(self) -> str:
        return self._origin(1)

    def _origin(self, index: int) -> str:
        host, port = self._servers[index].server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Emulator:
        for host, handler in (
            (self._api_host, _ApiHandler),
            (self._download_host, _DownloadHandler),
        ):
            server = _QuietServer((host, 0), handler)
            server.daemon_threads = True
            server.emulator = self  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened ------------------------------------------------------------------------

    def api_requests(self, method: str | None = None, path_part: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.host == "api" and (method is None or r.method == method) and path_part in r.path
        ]

    def downloads(self) -> list[Recorded]:
        return [r for r in self.requests if r.host == "download"]

    # -- behaviour (called by the handlers) ------------------------------------------------------

    def _rate_headers(self, kind: str) -> tuple[bool, dict[str, str]]:
        """Count one request of this kind; return (allowed, X-RateLimit-* headers)."""
        with self._lock:
            limit, now = self._limits[kind], self.clock()
            if now >= limit.window_start + self._rate_window:
                limit.window_start = math.floor(now / self._rate_window) * self._rate_window
                limit.used = 0
            reset = math.ceil(limit.window_start + self._rate_window)
            forced = self.faults.rate_limited > 0
            if forced:
                self.faults.rate_limited -= 1
            allowed = not forced and limit.used < limit.limit
            if allowed:
                limit.used += 1
            elif not forced:
                self.over_limit += 1
            headers = {
                "X-RateLimit-Limit": str(limit.limit),
                "X-RateLimit-Remaining": str(max(0, limit.limit - limit.used) if allowed else 0),
                "X-RateLimit-Reset": str(reset),
            }
            if not allowed and self.faults.retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            return allowed, headers

    def _export(self, project_id: int, body: dict[str, Any]) -> tuple[int, Any]:
        project = self._projects.get(project_id)
        if project is None:
            return 404, {"error": "Project not found"}
        if self.faults.export_status:
            return self.faults.export_status, {"error": self.faults.export_message}
        branch_id = body.get("branch_id") or project.main_branch_id
        if not any(b["id"] == branch_id for b in project.branches):
            return 404, {"error": "Branch not found"}
        with self._lock:
            self._next_job += 1
            job = _Job(self._next_job, project_id, branch_id, self.clock())
            self._jobs[job.id] = job
        return self.faults.export_ok_status, self._job_json(job)

    def _get_job(self, job_id: int) -> tuple[int, Any]:
        job = self._jobs.get(job_id)
        if job is None:
            return 404, {"error": "Job not found"}
        job.polls += 1
        return 200, self._job_json(job)

    def _job_json(self, job: _Job) -> dict[str, Any]:
        f = self.faults
        done = (
            not f.job_never_ends
            and job.polls >= f.job_polls
            and self.clock() - job.created >= f.job_seconds
        )
        status = ("error" if f.job_error else "complete") if done else "running"
        data: dict[str, Any] = {"project": {"id": job.project_id}}
        if status == "complete" and not f.job_without_url:
            signature = secrets.token_hex(16)
            with self._lock:
                self._signed[signature] = (job.id, 0)
            data["url"] = (
                f"{self.download_origin}/archives/{job.project_id}/{job.id}.zip"
                f"?X-Amz-Signature={signature}&X-Amz-Expires=600"
            )
        answer: dict[str, Any] = {
            "id": job.id,
            "created_at": "2026-11-29T00:00:00.000Z",
            "modified_at": "2026-11-29T00:00:00.000Z",
            "status": status,
            "scope": {"id": job.project_id, "type": "project"},
            "data": data,
        }
        if status == "error" or f.documented:
            answer["messages"] = [f.job_error] if status == "error" else []
        return answer

    def _branches(self, project_id: int, query: dict[str, list[str]]) -> tuple[int, Any]:
        """Open branches (closed ones only with ``closed=true``), alphabetical, ``limit``
        a page (at most ``branch_page_size``), the next page after ``skip=<last id>``."""
        project = self._projects.get(project_id)
        if project is None:
            return 404, {"error": "Project not found"}
        skip = query["skip"][0] if query.get("skip") else None
        if self.hostile.endless_branches:
            return 200, _endless_page(self.hostile.endless_branches, skip)
        closed = (query.get("closed") or ["false"])[0] == "true"
        listed = sorted(
            (b for b in project.branches if b["closed"] == closed),
            key=lambda b: (b["name"].casefold(), b["name"], b["id"]),
        )
        size = self.faults.branch_page_size
        if size is None:
            size = max(1, int(query["limit"][0])) if query.get("limit") else 50
        start = 0
        if skip:
            ids = [b["id"] for b in listed]
            start = ids.index(skip) + 1 if skip in ids else len(listed)
        page = listed[start : start + size]
        has_more = start + len(page) < len(listed)
        return 200, {"result": page, "pagination": {"hasMore": has_more}}

    def _archive_for(self, signature: str) -> tuple[int, Path | None]:
        """(status, archive) for a signed URL's signature."""
        with self._lock:
            if signature not in self._signed:
                return 403, None
            job_id, uses = self._signed[signature]
            if self.faults.url_uses is not None and uses >= self.faults.url_uses:
                return 403, None
            self._signed[signature] = (job_id, uses + 1)
            if self.faults.download_errors > 0:
                self.faults.download_errors -= 1
                return 503, None
        job = self._jobs[job_id]
        path = self.archive_path(job.project_id, job.branch_id)
        if self.faults.corrupt_zip:
            bad = path.with_suffix(".corrupt.zip")
            if not bad.exists():
                corrupt_copy(path, bad)
            path = bad
        return 200, path

    # -- accounts and their projects: the project listing (user-id) ----------------------------

    def add_organization(
        self,
        user_id: int,
        projects: dict[int, str],
        *,
        name: str = "Emulated Studio",
        archive_size: int = 64 << 10,
    ) -> None:
        """An account that owns these projects (id -> name), each with a ``main`` branch.

        Projects added before with :meth:`add_project` keep their branches and archive.
        """
        self._listing.accounts[user_id] = name
        for project_id, project_name in projects.items():
            if project_id not in self._projects:
                self.add_project(project_id, archive_size=archive_size)
            self._listing.projects[project_id] = (project_name, user_id)

    def share_project(self, user_id: int, project_id: int) -> None:
        """List another account's project for ``user_id`` too (explicit access)."""
        self._listing.accounts.setdefault(user_id, f"User {user_id}")
        self._listing.shared.setdefault(user_id, []).append(project_id)

    def _project_json(self, project_id: int) -> dict[str, Any]:
        """A project as PlayCanvas describes it; unnamed ones are owned by DEFAULT_OWNER."""
        name, owner_id = self._listing.projects.get(
            project_id, (f"Project {project_id}", DEFAULT_OWNER)
        )
        size = self._projects[project_id].archive_size
        return {
            "id": project_id,
            "name": name,
            "description": "",
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-11-29T00:00:00.000Z",
            "owner": self._listing.accounts.get(owner_id, "emulator"),
            "owner_id": owner_id,
            "access_level": "admin",
            "locked": False,
            "private": True,
            "primary_app": None,
            "size": {"total": size, "code": 0, "apps": 0, "assets": size, "checkpoints": 0},
        }

    def _user_projects(self, user_id: int, skip: str | None) -> tuple[int, Any]:
        owned = [
            project_id
            for project_id in self._projects
            if self._listing.projects.get(project_id, ("", DEFAULT_OWNER))[1] == user_id
        ]
        if user_id not in self._listing.accounts and not owned:
            return 404, {"error": "User not found"}
        ids = owned + [p for p in self._listing.shared.get(user_id, []) if p not in owned]
        listed = [self._project_json(project_id) for project_id in ids]
        size = self.faults.project_page_size
        if size is None:
            return 200, {"result": listed}
        start = ids.index(int(skip)) + 1 if skip and int(skip) in ids else 0
        page = listed[start : start + size]
        return 200, {"result": page, "pagination": {"hasMore": start + len(page) < len(listed)}}

    def _listing_route(self, request: Recorded) -> tuple[int, Any] | None:
        """``GET /users/:id/projects`` and ``GET /projects/:id``; None for other routes."""
        parts = request.path.strip("/").split("/")
        if request.method != "GET":
            return None
        if parts[:2] == ["api", "users"] and parts[3:] == ["projects"]:
            route = "users"
        elif parts[:2] == ["api", "projects"] and len(parts) == 3:
            route = "project"
        else:
            return None
        if self.faults.listing_forbidden:
            return 403, {"error": "Forbidden"}
        if route == "project" and not self.faults.documented:
            return 401, MISSING_SCOPE
        if route == "users" and self.faults.listing_unauthorized:
            return 401, MISSING_SCOPE
        if route == "users" and self.faults.listing_body is not None:
            return 200, self.faults.listing_body
        if route == "users":
            time.sleep(self.faults.listing_page_seconds)
            skip = request.query.get("skip")
            return self._user_projects(int(parts[2]), skip[0] if skip else None)
        if int(parts[2]) not in self._projects:
            return 404, {"error": "Project not found"}
        return 200, self._project_json(int(parts[2]))


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-request (a test that gives up on purpose) is no error
    worth a traceback; anything else still prints one."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY each keep-alive
    # response waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    host_name = "?"

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``emulator.requests`` instead."""

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        recorded = Recorded(
            self.host_name,
            self.command,
            parts.path,
            parse_qs(parts.query),
            dict(self.headers.items()),
            body,
            self.emulator.clock(),
        )
        self.emulator.requests.append(recorded)
        return recorded

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _ApiHandler(_Handler):
    host_name = "api"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request = self._record()
        emulator, faults = self.emulator, self.emulator.faults
        kind = "strict" if request.path.endswith(STRICT_ROUTES) else "normal"
        if "Authorization" not in request.headers and self._public_details(request):
            return
        if request.headers.get("Authorization") != f"Bearer {emulator.token}":
            self._json(401, {"error": "Unauthorized"})
            return
        if faults.missing_scope:
            self._json(401, {"error": "Token does not have required scope"})
            return
        if _hostile_answer(self, request):
            return
        allowed, rate_headers = emulator._rate_headers(kind)
        rate_headers.update(emulator.hostile.api_headers)
        if kind == "strict" and faults.export_reset_in is not None:
            reset = math.ceil(emulator.clock() + faults.export_reset_in)
            rate_headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        if not allowed:
            self._json(429, {"error": "Too many requests"}, rate_headers)
            return
        if faults.server_errors > 0:
            faults.server_errors -= 1
            self._send(503, b"<html>Service Unavailable</html>", rate_headers, "text/html")
            return
        status, body = self._route(request)
        if kind == "strict" and faults.slow_exports > 0:
            faults.slow_exports -= 1
            time.sleep(faults.slow_seconds)
        with contextlib.suppress(OSError):  # a client that stopped waiting
            self._json(status, body, rate_headers)

    def _public_details(self, request: Recorded) -> bool:
        """A public project's details, answered to a request without a token (as
        PlayCanvas does); returns whether it answered."""
        parts = request.path.strip("/").split("/")
        if request.method != "GET" or parts[:2] != ["api", "projects"] or len(parts) != 3:
            return False
        project = self.emulator._projects.get(int(parts[2])) if parts[2].isdigit() else None
        if project is None or not project.public:
            return False
        self._json(200, self.emulator._project_json(project.id))
        return True

    def _route(self, request: Recorded) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        emulator = self.emulator
        try:
            listed = emulator._listing_route(request)
            if listed is not None:
                return listed
            if (
                request.method == "POST"
                and parts[:2] == ["api", "projects"]
                and parts[3:] == ["export"]
            ):
                body = json.loads(request.body) if request.body else {}
                return emulator._export(int(parts[2]), body)
            if request.method == "GET" and parts[:2] == ["api", "jobs"] and len(parts) == 3:
                return emulator._get_job(int(parts[2]))
            if (
                request.method == "GET"
                and parts[:2] == ["api", "projects"]
                and parts[3:] == ["branches"]
            ):
                return emulator._branches(int(parts[2]), request.query)
            if request.method == "GET" and parts == ["api", "ratelimits"]:
                limits = {kind: limit.limit for kind, limit in emulator._limits.items()}
                return 200, {"limits": limits}
        except (ValueError, json.JSONDecodeError):
            return 400, {"error": "Bad request"}
        return 404, {"error": "Not found"}

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), headers)


class _DownloadHandler(_Handler):
    host_name = "download"

    def do_GET(self) -> None:
        request = self._record()
        emulator, faults = self.emulator, self.emulator.faults
        signature = (request.query.get("X-Amz-Signature") or [""])[0]
        status, path = emulator._archive_for(signature)
        if path is None:
            message = (
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
            self._send(status, message, content_type="application/xml")
            return
        size = path.stat().st_size
        start = 0
        wanted = request.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-") and not faults.no_range:
            start = int(wanted[6:-1])
        if start >= size and start:
            self._send(416, b"", {"Content-Range": f"bytes */{size}"})
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "none" if faults.no_range else "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        count = size - start
        with self.emulator._lock:
            dropping = faults.drops > 0
            if dropping:
                faults.drops -= 1
        if dropping:
            count = min(count, faults.drop_after)
        with path.open("rb") as file, contextlib.suppress(OSError):
            if faults.download_rate is None:
                self.connection.sendfile(file, start, count)
            else:
                self._trickle(file, start, count, faults.download_rate)
        if dropping:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)

    def _trickle(self, file: Any, start: int, count: int, rate: int) -> None:
        """Send slowly: a tenth of a second's worth at a time."""
        file.seek(start)
        step = max(1, rate // 10)
        while count > 0:
            chunk = file.read(min(step, count))
            if not chunk:
                return
            self.wfile.write(chunk)
            count -= len(chunk)
            time.sleep(0.1)


# -- hostile switches ---------------------------------------------------------------------------
# A PlayCanvas that attacks its client (issue 9): text meant to be run as workflow commands,
# numbers meant to crash or stall, pages that never end, bodies that never end. Kept apart
# from the ordinary faults above.


@dataclass
class Hostile:
    """Switches for a hostile API. Empty/None = off."""

    #: Headers added to (or replacing) every API answer, e.g. ``X-RateLimit-Reset: 1e400``.
    api_headers: dict[str, str] = field(default_factory=dict)
    #: Every API request answers 429 with these headers (e.g. ``Retry-After: 0``).
    always_429: dict[str, str] | None = None
    #: The next ``error_count`` API requests answer ``error_status`` with ``error_text``
    #: as PlayCanvas's ``{"error": ...}``; ``{token}`` in it becomes the token sent.
    error_status: int = 503
    error_text: str = ""
    error_count: int = 0
    #: The branches list says ``hasMore`` for ever: "new" ids on every page, or
    #: "alternating" between two pages.
    endless_branches: str | None = None
    #: Every API answer is 200 with a JSON body of this many bytes (mostly blanks).
    huge_body: int | None = None
    #: ... sent with its Content-Length (else ended by closing the connection).
    huge_body_length: bool = True


def _hostile_answer(handler: _ApiHandler, request: Recorded) -> bool:
    """Answer ``request`` the hostile way when a switch says so; return whether it did."""
    hostile = handler.emulator.hostile
    if hostile.always_429 is not None:
        handler._json(429, {"error": "Too many requests"}, hostile.always_429)
        return True
    if hostile.error_count > 0:
        hostile.error_count -= 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        text = hostile.error_text.replace("{token}", token)
        handler._json(hostile.error_status, {"error": text})
        return True
    if hostile.huge_body is not None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if hostile.huge_body_length:
            handler.send_header("Content-Length", str(hostile.huge_body))
        handler.end_headers()
        # Valid JSON in the end: blanks, then an empty object.
        chunk = b" " * (1 << 16)
        left = hostile.huge_body - 2
        with contextlib.suppress(OSError):
            while left > 0:
                handler.wfile.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
            handler.wfile.write(b"{}")
        handler.close_connection = True
        return True
    return False


def _endless_page(mode: str, skip: str | None) -> dict[str, Any]:
    if mode == "alternating":
        number = 2 if skip == "branch-1" else 1
    else:
        number = int(skip.removeprefix("branch-")) + 1 if skip else 1
    branch = {"id": f"branch-{number}", "name": f"b{number}", "closed": False}
    return {"result": [branch], "pagination": {"hasMore": True}}


@contextlib.contextmanager
def running(**options: Any) -> Iterator[Emulator]:
    """``with running() as pc:`` starts an emulator and stops it afterwards."""
    emulator = Emulator(**options)
    with emulator:
        yield emulator


__all__ = [
    "DEFAULT_OWNER",
    "FREE_PLAN",
    "MISSING_SCOPE",
    "Emulator",
    "Faults",
    "Hostile",
    "Recorded",
    "running",
]
