"""Test peers for the artifact upload: Azurite (a real blob server) and a double of
GitHub's results service (the Twirp routes), on loopback.

The double hands out Azurite SAS URLs, and on FinalizeArtifact checks what the client
says (size, ``sha256:`` hash) against what Azurite holds, that the blob was built from
blocks (never a single Put Blob) and that its content type is a zip. Optionally the SAS
URLs point at a small proxy in front of Azurite that records the block PUTs (order,
concurrency) and can fail some of them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

PRIVATE_EVENT = Path(__file__).resolve().parent / "data" / "private-event.json"

ROOT = Path(__file__).resolve().parent
NODE_DIR = ROOT / "node"
AZURITE = NODE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONTAINER = "artifacts"
#: The storage REST version Azurite 3.35 knows (and the SAS ``sv`` signed here).
STORAGE_VERSION = "2025-11-05"
RUN_ID, JOB_ID = "5b1f4bc0-1c62-4ad2-9a3d-7a3c2b1e0f11", "8d0e2f6a-3b5c-4e7f-a1b2-c3d4e5f60718"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def runtime_token(run: str = RUN_ID, job: str = JOB_ID) -> str:
    """A JWT shaped like the runner's ACTIONS_RUNTIME_TOKEN (unsigned: nobody verifies it)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"scp": f"Actions.GenericRead:{run} Actions.Results:{run}:{job}", "exp": 9999999999}
    return f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.c2lnbmF0dXJl"


def _sas_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(string_to_sign: str) -> str:
    key = base64.b64decode(ACCOUNT_KEY)
    digest = hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items() if value)


def blob_sas(blob: str, permissions: str, expiry: datetime) -> str:
    """A service SAS for one blob (``sr=b``), as GitHub hands out for an artifact's blob."""
    params = {"sp": permissions, "se": _sas_time(expiry), "sv": STORAGE_VERSION, "sr": "b"}
    resource = f"/blob/{ACCOUNT}/{CONTAINER}/{blob}"
    # Permissions, start, expiry, resource, identifier, IP, protocol, version, resource
    # type, snapshot time, encryption scope and the five response-header overrides.
    fields = [params["sp"], "", params["se"], resource, "", "", "", STORAGE_VERSION, "b"]
    params["sig"] = _sign("\n".join([*fields, "", "", "", "", "", "", ""]))
    return _query(params)


def account_sas(expiry: datetime) -> str:
    """An account SAS for everything in the blob service: the double's own access."""
    params = {
        "sv": STORAGE_VERSION,
        "ss": "b",
        "srt": "sco",
        "sp": "rwdlac",
        "se": _sas_time(expiry),
    }
    # Account, permissions, services, resource types, start, expiry, IP, protocol,
    # version, encryption scope (and a final newline).
    fields = [ACCOUNT, params["sp"], "b", "sco", "", params["se"], "", "", STORAGE_VERSION, ""]
    params["sig"] = _sign("\n".join(fields) + "\n")
    return _query(params)


def storage_request(
    account_url: str,
    method: str,
    path: str,
    query: str = "",
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request to Azurite with the double's account SAS: status, headers (lower case), body."""
    target = urlsplit(account_url)
    sas = account_sas(datetime.now(UTC) + timedelta(hours=1))
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
    try:
        connection.request(
            method,
            f"{target.path}/{path}?{'&'.join(filter(None, (query, sas)))}",
            body=body,
            headers={"x-ms-version": STORAGE_VERSION, **(headers or {})},
        )
        response = connection.getresponse()
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers_in, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def azurite() -> Iterator[str]:
    """Start Azurite's blob service on loopback; yield its account URL."""
    port = free_port()
    location = Path(tempfile.mkdtemp(prefix="azurite-"))
    process = subprocess.Popen(
        [
            "node",
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Azurite did not start: {process.stderr.read()!r}"
                    if process.stderr
                    else "Azurite did not start"
                )
            time.sleep(0.1)
        account_url = f"http://127.0.0.1:{port}/{ACCOUNT}"
        status, _, answer = storage_request(account_url, "PUT", CONTAINER, "restype=container")
        if status != 201:
            raise RuntimeError(f"Azurite did not create the container: {status} {answer!r}")
        yield account_url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(location, ignore_errors=True)


@dataclass
class StoredArtifact:
    id: int
    name: str
    blob: str
    created_at: str
    finalized: bool = False
    size: int | None = None


@dataclass
class BlockPut:
    index: int
    block_id: str
    started: float
    ended: float = 0.0


@dataclass
class ServiceFaults:
    """Switches for the double. ``fail``: statuses to answer, in order, before a method
    works again (e.g. ``{"CreateArtifact": [503]}``)."""

    fail: dict[str, list[int]] = field(default_factory=dict)
    #: CreateArtifact answers the storage-quota error.
    quota: bool = False
    #: Answers use camelCase field names (as some servers do).
    camel_case: bool = False
    #: Block PUTs (counted from 0) that the proxy answers with 500, once each.
    fail_blocks: set[int] = field(default_factory=set)
    #: The first this many block PUTs wait (up to 5 s) until all of them are in flight,
    #: so that a client sending them in parallel is seen to.
    hold_blocks: int = 0


class ResultsService:
    """The double: ``with ResultsService(account_url) as svc:``; ``svc.url`` is the
    ACTIONS_RESULTS_URL to give the client."""

    def __init__(self, account_url: str, *, proxy_blobs: bool = False) -> None:
        self.account_url = account_url
        self.token = runtime_token()
        self.faults = ServiceFaults()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.problems: list[str] = []
        self.artifacts: dict[str, StoredArtifact] = {}
        self.block_puts: list[BlockPut] = []
        #: The most block PUTs the proxy had in flight at once.
        self.max_in_flight = 0
        self._in_flight = 0
        self.single_shot_puts = 0
        self._next_id = 100
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._proxy_blobs = proxy_blobs
        self._servers: list[ThreadingHTTPServer] = []

    @property
    def url(self) -> str:
        host, port = self._servers[0].server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> ResultsService:
        handlers: list[type[BaseHTTPRequestHandler]] = [_TwirpHandler]
        if self._proxy_blobs:
            handlers.append(_BlobProxy)
        for handler in handlers:
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            server.double = self  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self._servers.append(server)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def env(self) -> dict[str, str]:
        """What the runner gives a container action for artifacts."""
        return {
            "ACTIONS_RUNTIME_TOKEN": self.token,
            "ACTIONS_RESULTS_URL": self.url,
            "ACTIONS_RUNTIME_URL": self.url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "octo/game",
            "GITHUB_RUN_ID": "4242",
            # The runner always gives the event; this one says the repository is private.
            "GITHUB_EVENT_PATH": str(PRIVATE_EVENT),
        }

    def blob_bytes(self, name: str) -> bytes:
        return self.stored(self.artifacts[name].blob)

    def stored(self, blob: str) -> bytes:
        """A blob's content as Azurite holds it."""
        status, _, data = storage_request(self.account_url, "GET", f"{CONTAINER}/{blob}")
        if status != 200:
            raise RuntimeError(f"Azurite answered {status} for the blob {blob}")
        return data

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == method]

    # -- the routes ------------------------------------------------------------------------

    def handle(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, body))
        failures = self.faults.fail.get(method)
        if failures:
            status = failures.pop(0)
            return status, {"code": "unavailable", "msg": f"injected {status}"}
        if (body.get("workflow_run_backend_id"), body.get("workflow_job_run_backend_id")) != (
            RUN_ID,
            JOB_ID,
        ):
            self.problems.append(f"{method}: wrong backend ids {body}")
            return 400, {"code": "invalid_argument", "msg": "wrong backend ids"}
        route = {
            "CreateArtifact": self._create,
            "FinalizeArtifact": self._finalize,
            "ListArtifacts": self._list,
            "DeleteArtifact": self._delete,
            "GetSignedArtifactURL": self._signed_url,
        }.get(method)
        if route is None:
            return 404, {"code": "bad_route", "msg": f"no method {method}"}
        status, answer = route(body)
        if self.faults.camel_case:
            answer = {_camel(key): value for key, value in answer.items()}
        return status, answer

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.faults.quota:
            return 429, {
                "code": "resource_exhausted",
                "msg": "Artifact storage quota has been hit. Unable to upload any new "
                "artifacts. Usage is recalculated every 6-12 hours. "
                "(insufficient usage)",
            }
        name = str(body.get("name", ""))
        if body.get("version") not in (4, 7):
            self.problems.append(f"CreateArtifact: version {body.get('version')}")
        if "expires_at" in body:
            datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        with self._lock:
            if name in self.artifacts:
                return 409, {
                    "code": "already_exists",
                    "msg": "an artifact with this name already exists on the workflow run",
                }
            self._next_id += 1
            blob = f"{RUN_ID}/{JOB_ID}/{name}-{self._next_id}.zip"
            self.artifacts[name] = StoredArtifact(
                self._next_id, name, blob, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            )
        return 200, {"ok": True, "signed_upload_url": self._sas_url(blob, write=True)}

    def _finalize(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        artifact = self.artifacts.get(str(body.get("name")))
        if artifact is None:
            return 404, {"code": "not_found", "msg": "artifact not found"}
        path = f"{CONTAINER}/{artifact.blob}"
        data = self.stored(artifact.blob)
        _, properties, _ = storage_request(self.account_url, "HEAD", path)
        _, _, block_list = storage_request(
            self.account_url, "GET", path, "comp=blocklist&blocklisttype=committed"
        )
        committed = re.findall(rb"<Block>", block_list)
        content_type = properties.get("content-type")
        expected_hash = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if str(body.get("size")) != str(len(data)):
            self.problems.append(f"Finalize: size {body.get('size')} but the blob has {len(data)}")
        if body.get("hash") != expected_hash:
            self.problems.append(
                f"Finalize: hash {body.get('hash')} but the blob is {expected_hash}"
            )
        if not committed:
            self.problems.append("Finalize: the blob was not built from blocks (single Put Blob)")
        if content_type != "application/zip":
            self.problems.append(f"Finalize: content type {content_type}")
        artifact.finalized, artifact.size = True, len(data)
        return 200, {"ok": True, "artifact_id": str(artifact.id)}

    def _list(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        listed = [
            {
                "workflow_run_backend_id": RUN_ID,
                "workflow_job_run_backend_id": JOB_ID,
                "database_id": str(a.id),
                "name": a.name,
                "size": str(a.size or 0),
                "created_at": a.created_at,
            }
            for a in self.artifacts.values()
            if a.finalized
            and body.get("name_filter") in (None, a.name)
            and body.get("id_filter") in (None, str(a.id), a.id)
        ]
        return 200, {"artifacts": listed}

    def _delete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        artifact = self.artifacts.pop(str(body.get("name")), None)
        if artifact is None:
            return 404, {"code": "not_found", "msg": "artifact not found"}
        storage_request(self.account_url, "DELETE", f"{CONTAINER}/{artifact.blob}")
        return 200, {"ok": True, "artifact_id": str(artifact.id)}

    def _signed_url(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        artifact = self.artifacts.get(str(body.get("name")))
        if artifact is None:
            return 404, {"code": "not_found", "msg": "artifact not found"}
        return 200, {"signed_url": self._sas_url(artifact.blob, write=False, direct=True)}

    def _sas_url(self, blob: str, *, write: bool, direct: bool = False) -> str:
        sas = blob_sas(blob, "rcw" if write else "r", datetime.now(UTC) + timedelta(hours=1))
        origin = self.account_url
        if self._proxy_blobs and not direct:
            host, port = self._servers[1].server_address[:2]
            origin = f"http://{host!s}:{port}/{ACCOUNT}"
        return f"{origin}/{CONTAINER}/{blob}?{sas}"

    # -- the blob proxy ---------------------------------------------------------------------

    def proxy_done(self, put: BlockPut) -> None:
        """A block PUT was answered."""
        with self._arrived:
            self._in_flight -= 1
            put.ended = time.monotonic()

    def proxy_put(self, path: str, query: str) -> tuple[BlockPut | None, int | None]:
        """Record a PUT through the proxy; return (the block PUT, a status to fail it with)."""
        params = parse_qs(query)
        comp = (params.get("comp") or [""])[0]
        if comp == "block":
            with self._arrived:
                put = BlockPut(len(self.block_puts), params["blockid"][0], time.monotonic())
                self.block_puts.append(put)
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                self._arrived.notify_all()
                if put.index < self.faults.hold_blocks:
                    self._arrived.wait_for(
                        lambda: (
                            self._in_flight >= self.faults.hold_blocks
                            or len(self.block_puts) > self.faults.hold_blocks
                        ),
                        timeout=5,
                    )
                if put.index in self.faults.fail_blocks:
                    self.faults.fail_blocks.discard(put.index)
                    return put, 500
            return put, None
        if comp == "":
            self.single_shot_puts += 1
        return None, None


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


class _TwirpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        double: ResultsService = self.server.double  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        prefix = "/twirp/github.actions.results.api.v1.ArtifactService/"
        if self.headers.get("Authorization") != f"Bearer {double.token}":
            status, answer = 401, {"code": "unauthenticated", "msg": "bad token"}
        elif not self.path.startswith(prefix):
            status, answer = 404, {"code": "bad_route", "msg": self.path}
        else:
            status, answer = double.handle(self.path[len(prefix) :], json.loads(body or b"{}"))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _BlobProxy(BaseHTTPRequestHandler):
    """Forwards blob requests to Azurite, recording (and sometimes failing) block PUTs."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_PUT(self) -> None:
        self._forward()

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def _forward(self) -> None:
        double: ResultsService = self.server.double  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        put, fail = (
            double.proxy_put(parts.path, parts.query) if self.command == "PUT" else (None, None)
        )
        try:
            if fail:
                payload = b"<Error><Code>InternalError</Code></Error>"
                self.send_response(fail)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self._relay(double, body)
        finally:
            if put is not None:
                double.proxy_done(put)

    def _relay(self, double: ResultsService, body: bytes) -> None:
        target = urlsplit(double.account_url)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in {"transfer-encoding", "connection"}:
                self.send_header(name, value)
        if response.getheader("Content-Length") is None:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        connection.close()
