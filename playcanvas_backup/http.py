"""The one HTTP session factory: every connection the product makes starts here.

:func:`session` makes the ``requests.Session`` of every client (the PlayCanvas API, the
archive download, GitHub's results service and blob store, GitHub's API, S3 when it
comes), all alike:

* ``trust_env`` off: no ``~/.netrc`` credentials (a ``default`` entry would replace a
  Bearer token with Basic ones), no proxy or CA bundle from the process environment;
* proxies and the CA bundle only from the settings (:class:`Network`, which ``config``
  reads from ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``);
  ``NO_PROXY`` is matched by the standard library's own rule
  (``urllib.request.proxy_bypass_environment``); plain http, which only ever goes to
  loopback, never goes through a proxy;
* the same ``User-Agent`` on every request.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from . import __version__
from .network import Network

__all__ = ["USER_AGENT", "Network", "Session", "session"]

USER_AGENT = f"playcanvas-backup/{__version__}"


class Session(requests.Session):
    """A session whose proxies and CA bundle come from its :class:`Network` alone."""

    def __init__(self, network: Network | None = None) -> None:
        super().__init__()
        self.network = network = network or Network()
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT
        self.verify = network.ca_bundle or True

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if not proxies:
            settings["proxies"] = self.network.proxies_for(str(url))
        return settings


def session(network: Network | None = None, *, connections: int = 10) -> requests.Session:
    """A new session for one client (see the module's docstring); ``connections`` is how
    many connections to one host it keeps open at once."""
    made = Session(network or Network())
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=connections)
    made.mount("https://", adapter)
    made.mount("http://", adapter)
    return made
