"""A download host on loopback that answers as a test scripts it: any status, any header
bytes (invalid ones too), redirects, encodings, a body trickled a byte at a time, TLS
with a certificate nobody trusts. Every request is recorded."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    #: Sent as given (latin-1): a test may send what no well-behaved host would.
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: Send the body one byte at a time, this many seconds apart.
    trickle: float | None = None
    #: Add a Content-Length header for the body.
    length: bool = True
    #: Close the connection after this reply (say, a body shorter than its length).
    close: bool = False
    #: Close the connection in the middle of the headers (after this many bytes of them).
    cut_headers: int | None = None


Script = Callable[[Request], Reply]


def serve_bytes(data: bytes, *, headers: list[tuple[str, str]] | None = None) -> Script:
    """A script serving ``data`` as a download host does, ``Range: bytes=N-`` included."""

    def script(request: Request) -> Reply:
        wanted = request.headers.get("range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            rng = ("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            return Reply(206, [rng, *(headers or [])], data[start:])
        return Reply(200, list(headers or []), data)

    return script


class ScriptedHost:
    """``with ScriptedHost(script) as host:`` serves on ``host.origin`` until the end."""

    def __init__(
        self, script: Script, *, address: str = "127.0.0.3", tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = script
        self.requests: list[Request] = []
        self._tls = tls
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(OSError, ssl.SSLError):
                    connection = self.request
                    if owner._tls is not None:
                        connection = owner._tls.wrap_socket(connection, server_side=True)
                    reader = connection.makefile("rb")
                    while owner._answer(reader, connection):
                        pass

        self._server = socketserver.ThreadingTCPServer((address, 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.origin = f"{scheme}://{address}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def _answer(self, reader: BinaryIO, connection: socket.socket) -> bool:
        line = reader.readline(65536)
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := reader.readline(65536).decode("latin-1").strip()) != "":
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        request = Request(method, target, headers)
        self.requests.append(request)
        reply = self.script(request)
        head = [f"HTTP/1.1 {reply.status} Scripted"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.length and not any(n.lower() == "content-length" for n, _ in reply.headers):
            head.append(f"Content-Length: {len(reply.body)}")
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.cut_headers is not None:
            connection.sendall(head_bytes[: reply.cut_headers])
            return False
        connection.sendall(head_bytes)
        if reply.trickle is None:
            connection.sendall(reply.body)
        else:
            for index in range(len(reply.body)):
                connection.sendall(reply.body[index : index + 1])
                time.sleep(reply.trickle)
        return reply.length and not reply.close

    def __enter__(self) -> ScriptedHost:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def self_signed(folder: Path, ip: str) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for ``ip``, which no
    client trusts."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={ip}",
            "-addext",
            f"subjectAltName=IP:{ip}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def untrusted_tls(folder: Path) -> Iterator[ssl.SSLContext]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.3."""
    yield self_signed(folder, "127.0.0.3")
