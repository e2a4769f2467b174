"""A double of act's artifact server (artifact service v4 as nektos/act, Gitea and
Forgejo serve it), on loopback.

As act does it: one HTTP server holds the Twirp routes and the blob routes. CreateArtifact
answers with an ``UploadArtifact`` URL that the server signs itself: ``sig`` (HMAC-SHA256
of the route, ``expires``, ``artifactName`` and ``taskID``, URL-safe base64 with its
padding), ``expires`` (Go's time format, query-escaped), ``artifactName``, ``taskID``. A
PUT with ``comp=block`` appends its body to the artifact's file in arrival order, whatever
its block id; ``comp=blocklist`` is accepted and otherwise ignored; a bad or expired
signature is a bare 401. GetSignedArtifactURL hands out a signed ``DownloadArtifact`` URL
that serves the file. Answers use camelCase, as act's protojson does.

Stricter than act, which compares the decoded values: a blob request is refused (401, a
problem recorded) unless each of the signed URL's own parameters arrives exactly as it
was handed out. The double records every blob PUT (start, end, how many were in flight),
checks the block list it is sent, and can answer chosen statuses, stall, or hand out
links that have already expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

from tests.artifact_service import PRIVATE_EVENT, runtime_token

PREFIX = "/twirp/github.actions.results.api.v1.ArtifactService/"
KEY = bytes([0xBA, 0xDB, 0xEE, 0xF0])  # act's own signing key
SIGNED = ("sig", "expires", "artifactName", "taskID")
RUN_ID, JOB_ID = "31", "77"  # act parses the run id as a number


def fnv32a(text: str) -> int:
    """act's artifact id: the FNV-1a hash of the name."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def go_time(moment: datetime) -> str:
    """``time.Time.Format("2006-01-02 15:04:05.999999999 -0700 MST")`` in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + (
        " +0000 UTC"
    )


@dataclass
class BlobPut:
    comp: str
    started: float
    in_flight: int
    block_id: str = ""
    ended: float = 0.0
    status: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ActFaults:
    #: Statuses to answer, in order, to the next block PUTs (after reading the body).
    block_statuses: list[int] = field(default_factory=list)
    #: A body to send with those statuses.
    status_body: bytes = b""
    #: How many block PUTs to hold without an answer (until the client gives up).
    stall_blocks: int = 0
    #: Hand out upload links whose ``expires`` has passed.
    expired_links: bool = False


class ActArtifactServer:
    """``with ActArtifactServer() as act:``; ``act.env()`` is what the runner gives."""

    def __init__(self) -> None:
        self.token = runtime_token(RUN_ID, JOB_ID)
        self.faults = ActFaults()
        self.files: dict[str, bytearray] = {}
        self.finalized: dict[str, int] = {}
        self.blob_puts: list[BlobPut] = []
        self.problems: list[str] = []
        self.issued: dict[str, str] = {}  # artifact name -> the raw query handed out
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.act = self  # type: ignore[attr-defined]

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ActArtifactServer:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def env(self) -> dict[str, str]:
        return {
            "ACTIONS_RUNTIME_TOKEN": self.token,
            "ACTIONS_RESULTS_URL": self.origin + "/",
            "ACTIONS_RUNTIME_URL": self.origin + "/",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "octo/game",
            "GITHUB_RUN_ID": "4242",
            # The runner always gives the event; this one says the repository is private.
            "GITHUB_EVENT_PATH": str(PRIVATE_EVENT),
            "GITHUB_RETENTION_DAYS": "0",
        }

    def signed_url(self, route: str, name: str) -> str:
        """act's ``buildArtifactURL``."""
        moment = datetime.now(UTC) + timedelta(minutes=-5 if self.faults.expired_links else 60)
        expires = go_time(moment)
        sig = base64.urlsafe_b64encode(_signature(route, expires, name, int(RUN_ID))).decode()
        query = f"sig={sig}&expires={quote_plus(expires)}&artifactName={quote_plus(name)}"
        query += f"&taskID={RUN_ID}"
        return f"{self.origin}{PREFIX}{route}?{query}"

    def block_puts(self) -> list[BlobPut]:
        return [put for put in self.blob_puts if put.comp == "block"]

    # -- Twirp -------------------------------------------------------------------------

    def twirp(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not str(body.get("workflow_run_backend_id", "")).isdigit():
            return 400, {}
        name = str(body.get("name", ""))
        if method == "CreateArtifact":
            with self._lock:
                self.files[name] = bytearray()
            url = self.signed_url("UploadArtifact", name)
            self.issued[name] = urlsplit(url).query
            return 200, {"ok": True, "signedUploadUrl": url}
        if method == "FinalizeArtifact":
            data = bytes(self.files.get(name, b""))
            if body.get("size") != str(len(data)):
                self.problems.append(f"Finalize: size {body.get('size')}, stored {len(data)}")
            if body.get("hash") != f"sha256:{hashlib.sha256(data).hexdigest()}":
                self.problems.append("Finalize: the hash is not the stored file's")
            self.finalized[name] = fnv32a(name)
            return 200, {"ok": True, "artifactId": str(fnv32a(name))}
        if method == "ListArtifacts":
            wanted_name = body.get("name_filter")
            wanted_id = body.get("id_filter")
            listed = [
                {
                    "workflowRunBackendId": RUN_ID,
                    "workflowJobRunBackendId": JOB_ID,
                    "databaseId": str(fnv32a(stored)),
                    "name": stored,
                    "size": str(len(data)),
                    "createdAt": "2026-12-03T08:00:00Z",
                }
                for stored, data in self.files.items()
                if wanted_name in (None, stored) and wanted_id in (None, str(fnv32a(stored)))
            ]
            return 200, {"artifacts": listed}
        if method == "GetSignedArtifactURL":
            return 200, {"signedUrl": self.signed_url("DownloadArtifact", name)}
        if method == "DeleteArtifact":
            self.files.pop(name, None)
            return 200, {"ok": True, "artifactId": str(fnv32a(name))}
        return 404, {}

    # -- the blob routes ----------------------------------------------------------------

    def verify(self, route: str, raw_query: str) -> str | None:
        """act's ``verifySignature``, plus the raw check; the artifact name, or None."""
        params = {k: v[0] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        name = params.get("artifactName", "")
        try:
            given = base64.urlsafe_b64decode(params.get("sig", "") + "==")
            task = int(params.get("taskID", ""))
        except ValueError:
            return None
        expected = _signature(route, params.get("expires", ""), name, task)
        if not hmac.compare_digest(given, expected):
            return None
        match = re.match(r"(\S+ \S+) \+0000 UTC$", params.get("expires", ""))
        if not match or datetime.fromisoformat(match.group(1) + "+00:00") < datetime.now(UTC):
            return None
        if route == "UploadArtifact":
            issued = self.issued.get(name, "")
            received = raw_query.split("&")
            altered = [part for part in issued.split("&") if part not in received]
            if altered:
                self.problems.append(
                    "the signed URL's own parameters arrived changed: "
                    + ", ".join(part.split("=")[0] for part in altered)
                )
                return None
        return name

    def put(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        comp = (query.get("comp") or [""])[0]
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            put = BlobPut(comp, time.monotonic(), self._in_flight)
            put.block_id = (query.get("blockid") or [""])[0]
            put.headers = {k.lower(): v for k, v in handler.headers.items()}
            self.blob_puts.append(put)
            stall = comp == "block" and self.faults.stall_blocks > 0
            if stall:
                self.faults.stall_blocks -= 1
        try:
            if stall:
                # Neither read the body nor answer, until the client gives up.
                self._release.wait(10)
                handler.close_connection = True
                return
            put.body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
            name = self.verify(parts.path.rsplit("/", 1)[-1], parts.query)
            if name is None:
                put.status = 401
            elif comp == "block" and self.faults.block_statuses:
                put.status = self.faults.block_statuses.pop(0)
            elif comp in ("block", "appendBlock"):
                with self._lock:
                    self.files[name] += put.body
                put.status = 201
            else:
                if comp == "blocklist":
                    self._check_block_list(put)
                put.status = 201
            body = self.faults.status_body if put.status not in (201, 401) else b""
            handler.answer(put.status, body)
        finally:
            with self._lock:
                self._in_flight -= 1
                put.ended = time.monotonic()

    def _check_block_list(self, put: BlobPut) -> None:
        """act ignores the list; the double checks it names the stored blocks in order."""
        listed = [i.decode() for i in re.findall(rb"<Latest>([^<]*)</Latest>", put.body)]
        stored = [p.block_id for p in self.block_puts() if p.status == 201]
        if listed != stored:
            self.problems.append("Put Block List: not the stored blocks in their order")
        if put.headers.get("x-ms-blob-content-type") != "application/zip":
            self.problems.append(
                f"Put Block List: content type {put.headers.get('x-ms-blob-content-type')}"
            )

    def download(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        name = self.verify("DownloadArtifact", parts.query)
        if name is None or name not in self.files:
            handler.answer(401, b"")
            return
        handler.answer(200, bytes(self.files[name]), content_type="application/zip")


def _signature(route: str, expires: str, name: str, task: int) -> bytes:
    mac = hmac.new(KEY, digestmod=hashlib.sha256)
    for part in (route, expires, name, str(task)):
        mac.update(part.encode())
    return mac.digest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    @property
    def act(self) -> ActArtifactServer:
        return self.server.act  # type: ignore[attr-defined, no-any-return]

    def answer(self, status: int, body: bytes, *, content_type: str = "") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(PREFIX):
            self.answer(404, b"")
            return
        status, answer = self.act.twirp(self.path[len(PREFIX) :], json.loads(body or b"{}"))
        data = json.dumps(answer).encode()
        self.answer(status, data, content_type="application/json;charset=utf-8")

    def do_PUT(self) -> None:
        if not urlsplit(self.path).path.endswith("/UploadArtifact"):
            self.answer(404, b"")
            return
        self.act.put(self)

    def do_GET(self) -> None:
        if not urlsplit(self.path).path.endswith("/DownloadArtifact"):
            self.answer(404, b"")
            return
        self.act.download(self)
