"""The one session factory: nothing from the process environment reaches a request unless
the settings carry it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from playcanvas_backup import http
from playcanvas_backup.artifact.service import ResultsService
from playcanvas_backup.http import Network
from playcanvas_backup.playcanvas import PlayCanvasApi
from tests.artifact_service import runtime_token
from tests.conftest import Action
from tests.emulator import Emulator
from tests.scripted_host import Reply, ScriptedHost, self_signed

#: A ~/.netrc as self-hosted runners often have: credentials for any host.
NETRC = "default login runner password hunter2\n"


@pytest.fixture
def hostile_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process environment a trusting HTTP client would read: a ``default`` .netrc
    entry, proxies that lead nowhere, a CA bundle that does not exist."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(NETRC)
    (home / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.9:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    yield


@pytest.mark.usefixtures("hostile_environment")
def test_a_netrc_and_proxy_variables_change_no_request_of_a_run(
    action: Action, emulator: Emulator
) -> None:
    run = action()

    assert run.exit_code == 0, run.log
    assert {r.headers.get("Authorization") for r in emulator.api_requests()} == {
        f"Bearer {emulator.token}"
    }
    assert all("Authorization" not in r.headers for r in emulator.downloads())


@pytest.mark.usefixtures("hostile_environment")
def test_a_session_sends_no_netrc_credentials_and_uses_no_proxy_from_the_environment() -> None:
    with ScriptedHost(lambda request: Reply(200, [], b"ok")) as host:
        answer = http.session().get(host.url("/x"), timeout=5)

    assert answer.content == b"ok"
    assert "authorization" not in host.requests[0].headers
    assert host.requests[0].headers["user-agent"] == http.USER_AGENT


@pytest.mark.usefixtures("hostile_environment")
def test_every_client_makes_its_session_with_the_factory(emulator: Emulator) -> None:
    api = PlayCanvasApi(emulator.api_url, emulator.token)
    service = ResultsService("http://127.0.0.1:1/", runtime_token("run", "job"))

    for client in (api, service):
        session = client._session  # what the client sends with
        assert isinstance(session, http.Session) and not session.trust_env


def test_the_ca_bundle_comes_from_the_settings(tmp_path: Path) -> None:
    tls = self_signed(tmp_path, "127.0.0.3")
    bundle = str(tmp_path / "cert.pem")

    with ScriptedHost(lambda request: Reply(200, [], b"ok"), tls=tls) as host:
        trusted = http.session(Network(ca_bundle=bundle)).get(host.url("/x"), timeout=5)

    assert trusted.content == b"ok"


def test_the_proxy_from_the_settings_is_used_except_where_no_proxy_says() -> None:
    network = Network(https_proxy="http://proxy.test:3128", no_proxy="internal.test,.corp")

    assert network.proxies_for("https://storage.test/a") == {"https": "http://proxy.test:3128"}
    assert network.proxies_for("https://internal.test/a") == {}
    assert network.proxies_for("https://a.b.corp/a") == {}
    assert network.proxies_for("http://127.0.0.1/a") == {}  # plain http: loopback, direct


def test_the_network_settings_read_the_documented_variables_only() -> None:
    env = {"https_proxy": "http://p:1", "NO_PROXY": "x", "CURL_CA_BUNDLE": "/ca.pem"}
    assert Network.from_env(env) == Network("http://p:1", "x", "/ca.pem")
    assert Network.from_env({"HTTP_PROXY": "http://p:1", "ALL_PROXY": "http://p:2"}) == Network()
