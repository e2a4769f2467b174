"""How connections leave this machine (proxy, hosts that bypass it, CA bundle): plain
settings, read from the runner's environment by ``config`` and applied by
:func:`http.session` (kept apart from it so that reading the settings imports no HTTP
client)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Network:
    """How connections leave this machine: a proxy for https, hosts that bypass it, and
    the CA bundle that certificates are checked against (None: certifi's)."""

    https_proxy: str | None = None
    no_proxy: str = ""
    ca_bundle: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Network:
        """The network settings from the runner's environment (``config`` calls this)."""
        return cls(
            https_proxy=env.get("HTTPS_PROXY") or env.get("https_proxy") or None,
            no_proxy=env.get("NO_PROXY") or env.get("no_proxy") or "",
            ca_bundle=env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or None,
        )

    def proxies_for(self, url: str) -> dict[str, str]:
        """The ``proxies`` for one request to ``url`` (empty: connect directly)."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not self.https_proxy:
            return {}
        host = parts.hostname or ""
        # The standard library's NO_PROXY rule (urllib.request: imported only here).
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # noqa: PLC0415

        if self.no_proxy and proxy_bypass_environment(host, proxies={"no": self.no_proxy}):
            return {}
        return {"https": self.https_proxy}
