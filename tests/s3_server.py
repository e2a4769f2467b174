"""A real S3 server on loopback for the ``s3-uri`` and ``restore`` tests: moto's
``ThreadedMotoServer`` (the S3 protocol, multipart, versioning, checksums as stored),
behind a small loopback front with named fault switches.

moto (5.2) stores the ``x-amz-checksum-sha256`` it is sent without comparing it with the
body, where AWS S3 answers ``400 BadDigest``. The front does that comparison the way S3
does (``enforce_checksums``, on by default), so that "a body changed on the way is
refused by the store" is a behaviour of the server the client talks to; ``flip_byte``
changes one byte of each request body on the way, as a faulty network would.

Other switches: ``fail_next(status, count)`` answers the next requests with S3's error
document (500 InternalError, 503 SlowDown); ``refused_keys`` answers 403
InvalidAccessKeyId to requests signed with those access keys (moto accepts any key);
``requests`` records (method, path and query) of what reached the front.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

ACCESS_KEY, SECRET_KEY = "AKIATESTINGKEY000001", "testing-secret-not-real"
BUCKET, VERSIONED = "backups", "versioned-backups"
#: The credentials the product reads (``env`` of the store, or the action's environment).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


class S3Server:
    """moto on a free loopback port, with the front (``endpoint_url``) in front of it."""

    def __init__(self) -> None:
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.enforce_checksums = True
        self.flip_byte = False
        self.refused_keys: set[str] = set()
        #: Leave the stored checksum out of answers (a store that keeps none).
        self.hide_checksums = False
        #: Seconds the front waits before it passes on a part of a multipart upload.
        self.stall_parts = 0.0
        self.requests: list[tuple[str, str]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._front: ThreadingHTTPServer | None = None

    def __enter__(self) -> S3Server:
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.backend = (str(host), int(port))
        # moto keeps its buckets per process, not per server: start from none.
        reset = http.client.HTTPConnection(*self.backend, timeout=30)
        reset.request("POST", "/moto-api/reset")
        reset.getresponse().read()
        reset.close()
        self._front = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._front.daemon_threads = True
        threading.Thread(target=self._front.serve_forever, daemon=True).start()
        admin = self.admin()
        admin.create_bucket(Bucket=BUCKET)
        admin.create_bucket(Bucket=VERSIONED)
        admin.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        self.requests.clear()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._front is not None:
            self._front.shutdown()
            self._front.server_close()
        self.moto.stop()

    @property
    def endpoint_url(self) -> str:
        assert self._front is not None
        return f"http://127.0.0.1:{self._front.server_address[1]}"

    def admin(self) -> Any:
        """A plain boto3 client straight to moto, for setting up and judging."""
        host, port = self.backend
        return boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def fail_next(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._failures += [status] * count

    def take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def methods(self, method: str) -> list[str]:
        """The paths (with queries) of the requests of one method that reached the front."""
        return [path for seen, path in self.requests if seen == method]


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>front</RequestId></Error>"
    ).encode()


_STATUS_CODES = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied"}


def _handler(server: S3Server) -> type[BaseHTTPRequestHandler]:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append((self.command, self.path))
            key = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            if key and key.group(1) in server.refused_keys:
                return self._answer(
                    403,
                    _error(
                        "InvalidAccessKeyId",
                        "The AWS Access Key Id you provided does not exist in our records.",
                    ),
                )
            if self.command == "PUT" and "partNumber=" in self.path:
                time.sleep(server.stall_parts)
            failure = server.take_failure()
            if failure is not None:
                return self._answer(failure, _error(_STATUS_CODES.get(failure, "Error"), "front"))
            if body and server.flip_byte:
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            sent = self.headers.get("x-amz-checksum-sha256")
            actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if server.enforce_checksums and sent and body and sent != actual:
                return self._answer(
                    400,
                    _error(
                        "BadDigest",
                        "The SHA256 you specified did not match the calculated checksum.",
                    ),
                )
            self._forward(body)
            return None

        def _forward(self, body: bytes) -> None:
            connection = http.client.HTTPConnection(*server.backend, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            headers.pop("Expect", None)
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            hidden = {"x-amz-checksum-sha256"} if server.hide_checksums else set()
            for name, value in response.getheaders():
                if name.lower() not in _HOP | hidden:
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any  # noqa: N815

    return Front
