"""A loopback double of GitHub's REST API for a repository's artifacts, as ``restore``
reads them: ``GET /repos/{owner}/{repo}/actions/artifacts?name=`` (the list, with each
artifact's ``digest``), and ``GET .../artifacts/{id}/zip``, which answers 302 to a signed
blob URL (here ``/blob/{id}?sig=...``) that must not be sent the token.

An artifact is a zip holding the archive as one stored member, as the action uploads it
(see artifact-v4.md); ``add`` makes one from a file.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_restoretesttoken000000000000"


@dataclass
class Artifact:
    id: int
    name: str
    created_at: str
    blob: bytes
    digest: str
    expired: bool = False


class GitHubArtifacts:
    def __init__(self, repo: str = "octo/game") -> None:
        self.repo = repo
        self.artifacts: list[Artifact] = []
        #: The Authorization header each blob download carried (None: none, as it must).
        self.blob_authorizations: list[str | None] = []
        #: Seconds the blob host waits before answering (a stalled store).
        self.blob_stall = 0.0
        #: A body that replaces the artifact list's JSON (an answer that is not one).
        self.listing_body: bytes | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    def __enter__(self) -> GitHubArtifacts:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, name: str, archive: Path, *, created_at: str, digest: str | None = None) -> int:
        """An artifact holding ``archive`` as one stored member; ``digest`` overrides the
        recorded SHA-256 (a damaged download)."""
        buffer = BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as artifact:
            artifact.write(archive, archive.name)
        blob = buffer.getvalue()
        artifact_id = 1000 + len(self.artifacts)
        recorded = digest or hashlib.sha256(blob).hexdigest()
        self.artifacts.append(Artifact(artifact_id, name, created_at, blob, f"sha256:{recorded}"))
        return artifact_id

    def listing(self, name: str | None) -> dict[str, Any]:
        chosen = [a for a in self.artifacts if name is None or a.name == name]
        return {
            "total_count": len(chosen),
            "artifacts": [
                {
                    "id": a.id,
                    "name": a.name,
                    "size_in_bytes": len(a.blob),
                    "created_at": a.created_at,
                    "expired": a.expired,
                    "digest": a.digest,
                    "archive_download_url": f"{self.api_url}/repos/{self.repo}/actions/"
                    f"artifacts/{a.id}/zip",
                }
                for a in chosen
            ],
        }


def _handler(github: GitHubArtifacts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith("/blob/"):
                github.blob_authorizations.append(self.headers.get("Authorization"))
                time.sleep(github.blob_stall)
                found = [a for a in github.artifacts if f"/blob/{a.id}" == parts.path]
                return self._send(200, found[0].blob, "application/zip")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, b'{"message": "Bad credentials"}')
            base = f"/repos/{github.repo}/actions/artifacts"
            if parts.path == base:
                name = parse_qs(parts.query).get("name", [None])[0]
                if github.listing_body is not None:
                    return self._send(200, github.listing_body)
                return self._send(200, json.dumps(github.listing(name)).encode())
            for artifact in github.artifacts:
                if parts.path == f"{base}/{artifact.id}/zip":
                    self.send_response(302)
                    self.send_header("Location", f"{github.api_url}/blob/{artifact.id}?sig=x")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
            return self._send(404, b'{"message": "Not Found"}')

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
