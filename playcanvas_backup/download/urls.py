"""Where the download may go: the URL safety checks, made before any connection.

The signed link, and every redirect hop, must be https (plain http only to loopback),
carry no credentials, and resolve only to public addresses (never private, link-local
such as a cloud's metadata service, or reserved; loopback only when the first link was
loopback, as in tests). When a proxy makes the connection, the proxy resolves the host,
so only the scheme and credentials are checked here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ..errors import DownloadFailed, TransientError
from ..untrusted import quoted

#: Resolves a host and port to the addresses a connection would use.
Resolve = Callable[[str, int], list[str]]


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses a connection to ``host`` would use (the system's resolver)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


def check_url(url: str, *, resolve: Resolve | None, loopback_ok: bool) -> None:
    """Refuse (DownloadFailed, before any connection) a URL that is not https (plain http
    only to loopback), carries credentials, or whose host resolves to an address that is
    not public (private, link-local such as cloud metadata, reserved; loopback only when
    ``loopback_ok``). ``resolve`` is None when a proxy makes the connection."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DownloadFailed("The download link is not a valid URL; refusing to fetch it.") from exc
    shown = quoted(host, limit=100)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise DownloadFailed(
            f"The download link is not https (host {shown}); "
            "refusing to fetch the archive over an insecure connection."
        )
    if parts.username is not None or parts.password is not None:
        raise DownloadFailed(f"The download link to {shown} carries credentials; refusing it.")
    if resolve is None:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = []
    try:
        addresses = addresses or resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise TransientError(f"the download host {shown} could not be resolved ({exc})") from exc
    for address in addresses:
        if not is_public(address, loopback_ok=loopback_ok):
            raise DownloadFailed(
                f"The download link's host {shown} is at {address}, which is not a public "
                "address (private, link-local or metadata); refusing to fetch it."
            )


def is_public(address: str, *, loopback_ok: bool) -> bool:
    """Whether a connection to ``address`` reaches the public internet (or loopback,
    when ``loopback_ok``)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return loopback_ok
    return ip.is_global and not ip.is_multicast
