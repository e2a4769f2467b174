"""Visibility from GitHub's REST API when the event payload does not say: asked of a
GitHub double on loopback (GITHUB_API_URL points at it); nothing here reaches GitHub."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from playcanvas_backup.config import Settings, load
from playcanvas_backup.errors import InputError
from playcanvas_backup.visibility import ask_github
from tests.conftest import Action
from tests.scripted_host import Reply, ScriptedHost

GITHUB_TOKEN = "ghs_job-token-0123456789"
REPOSITORY = "octo/game"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class GitHubDouble:
    """Answers ``GET /repos/{owner}/{repo}`` with ``status`` and ``body``; records every
    request it gets."""

    status: int = 200
    body: object = field(default_factory=lambda: {"private": True, "visibility": "private"})
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    url: str = ""


@contextlib.contextmanager
def serving(double: GitHubDouble) -> Iterator[GitHubDouble]:
    """``double`` served on a loopback port (its ``url`` set) while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            double.requests.append(Seen("GET", self.path, dict(self.headers.items())))
            data = json.dumps(double.body).encode()
            self.send_response(double.status)
            for name, value in double.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def github() -> Iterator[GitHubDouble]:
    with serving(GitHubDouble()) as double:
        yield double


def no_repository_event(tmp_path: Path) -> str:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"schedule": "0 3 * * *"}))  # a scheduled run on GHES
    return str(event)


def runtime(tmp_path: Path, github: GitHubDouble) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_RUNTIME_TOKEN": "x.y.z",
        "ACTIONS_RESULTS_URL": "https://results.example/",
        "GITHUB_EVENT_PATH": no_repository_event(tmp_path),
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPOSITORY,
    }


def settings(env: dict[str, str], **inputs: str) -> Settings:
    given = {
        "access-token": "pc-test-token-0123456789abcdef0",
        "project-id": "1",
        "github-token": GITHUB_TOKEN,
    }
    given.update({k.replace("_", "-"): v for k, v in inputs.items()})
    return load({k: v for k, v in given.items() if v}, env, cwd=Path("/work"))


def refusal(env: dict[str, str], **inputs: str) -> str:
    with pytest.raises(InputError) as failure:
        settings(env, **inputs)
    assert failure.value.input_name == "upload-artifact"
    assert GITHUB_TOKEN not in failure.value.message
    return failure.value.message


def test_a_private_repository_by_github_s_answer_may_upload(
    tmp_path: Path, github: GitHubDouble
) -> None:
    assert settings(runtime(tmp_path, github)).upload_artifact
    (request,) = github.requests
    assert request.path == "/api/v3/repos/octo/game"
    assert request.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"


def test_an_internal_repository_by_github_s_answer_may_upload(
    tmp_path: Path, github: GitHubDouble
) -> None:
    github.body = {"private": True, "visibility": "internal"}
    assert settings(runtime(tmp_path, github)).upload_artifact


def test_a_public_repository_by_github_s_answer_is_refused(
    tmp_path: Path, github: GitHubDouble
) -> None:
    github.body = {"private": False, "visibility": "public"}
    assert refusal(runtime(tmp_path, github)).startswith(
        "Input 'upload-artifact': this repository is public"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "refused github-token (401)"),
        (403, "refused the request (403)"),
        (404, "found no repository the token can read (404)"),
        (500, "answered HTTP 500"),
    ],
)
def test_no_answer_from_github_fails_closed_saying_why_and_how_to_fix(
    tmp_path: Path, github: GitHubDouble, status: int, said: str
) -> None:
    github.status, github.body = status, {"message": "Not Found"}
    message = refusal(runtime(tmp_path, github))
    assert "visibility is unknown" in message
    assert f"GitHub's API {said}" in message
    assert "permissions: contents: read" in message and "Metadata: read" in message


def test_an_answer_without_visibility_fails_closed(tmp_path: Path, github: GitHubDouble) -> None:
    github.body = {"full_name": REPOSITORY}
    assert "neither private nor visibility" in refusal(runtime(tmp_path, github))


def test_without_a_github_token_nothing_is_asked_and_the_upload_is_refused(
    tmp_path: Path, github: GitHubDouble
) -> None:
    assert "no github-token was given" in refusal(runtime(tmp_path, github), github_token="")
    assert github.requests == []


def test_github_is_not_asked_when_the_event_says(tmp_path: Path, github: GitHubDouble) -> None:
    event = tmp_path / "private.json"
    event.write_text(json.dumps({"repository": {"private": True}}))
    assert settings({**runtime(tmp_path, github), "GITHUB_EVENT_PATH": str(event)}).upload_artifact
    assert github.requests == []


def test_github_is_not_asked_when_public_uploads_are_allowed(
    tmp_path: Path, github: GitHubDouble
) -> None:
    assert settings(runtime(tmp_path, github), allow_public_repository="true").upload_artifact
    assert github.requests == []


def test_the_token_is_not_sent_to_a_plain_http_api_url_off_loopback(tmp_path: Path) -> None:
    # Refused by the URL's form, before any connection is tried.
    env = {**runtime(tmp_path, GitHubDouble()), "GITHUB_API_URL": "http://203.0.113.9/api/v3"}
    assert "GITHUB_API_URL is not an https URL; the token was not sent" in refusal(env)


def test_a_redirect_is_not_followed_with_the_token(tmp_path: Path, github: GitHubDouble) -> None:
    with serving(GitHubDouble()) as elsewhere:
        github.status = 301
        github.headers = {"Location": f"{elsewhere.url}/repos/octo/game"}
        assert "answered HTTP 301" in refusal(runtime(tmp_path, github))
    assert elsewhere.requests == [] and len(github.requests) == 1


def test_an_unreachable_api_fails_closed_saying_so() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    answer = ask_github(f"http://127.0.0.1:{port}", REPOSITORY, GITHUB_TOKEN)
    assert answer.visibility == "unknown"
    assert answer.why_unknown == "GitHub's API could not be reached (ConnectionError)"


def test_the_github_token_is_masked_first_thing(action: Action, tmp_path: Path) -> None:
    run = action(github_token=GITHUB_TOKEN, upload_artifact="false")

    assert run.exit_code == 0, run.log
    masks = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{GITHUB_TOKEN}" in masks[:2]
    assert GITHUB_TOKEN not in run.log.replace(f"::add-mask::{GITHUB_TOKEN}", "")


def test_an_input_error_after_the_visibility_check_is_found_before_github_is_asked(
    tmp_path: Path, github: GitHubDouble
) -> None:
    env = {**runtime(tmp_path, github), "AWS_SECRET_ACCESS_KEY": "short"}
    with pytest.raises(InputError) as failure:
        settings(env, s3_uri="s3://bucket/{project_id}/{file}")
    assert "AWS_SECRET_ACCESS_KEY" in str(failure.value)
    assert github.requests == []


def test_the_visibility_lookup_goes_through_the_runner_s_https_proxy(
    tmp_path: Path, github: GitHubDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def loopback_only(host: object, *args: object, **kwargs: object) -> object:
        if not str(host).startswith("127."):
            raise socket.gaierror(f"test: {host} is not resolved (loopback only)")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    with ScriptedHost(lambda request: Reply(403, [], b"no")) as proxy:
        env = {
            **runtime(tmp_path, github),
            "GITHUB_API_URL": "https://ghes.example/api/v3",
            "HTTPS_PROXY": proxy.origin,
        }
        refusal(env)
    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", "ghes.example:443")]
