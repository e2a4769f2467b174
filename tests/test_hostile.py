"""A hostile PlayCanvas (issue 9): what it sends may be read, never obeyed.

Each test runs the real entrypoint against the emulator's hostile switches (or a small
TLS server) and asserts the safe behaviour the way the runner would see it: the stdout
is parsed with the runner's own two command syntaxes (``::name::data`` after leading
blanks, and the legacy ``##[name]data`` anywhere in a line), so a command smuggled in
through a branch name or an error text is caught even where a plain text search would
miss it.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import PROJECT, ROOT, Action, Run
from tests.emulator import Emulator
from tests.scripted_host import self_signed

#: The commands the action itself writes.
OURS = {"add-mask", "group", "endgroup", "debug", "warning", "error"}
#: Every command the runner knows (what a smuggled line could try to run).
RUNNER_COMMANDS = OURS | {
    "stop-commands",
    "set-output",
    "set-env",
    "save-state",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "notice",
    "echo",
}


@dataclass(frozen=True)
class Command:
    name: str
    data: str
    #: False when the runner would ignore it (command processing was stopped).
    processed: bool


def runner_commands(stdout: str) -> list[Command]:
    """The workflow commands the runner finds in ``stdout``, in order.

    Lines are split wherever Python sees a line break (more places than the runner
    does, so this errs on the side of finding commands).
    """
    found: list[Command] = []
    stop_token: str | None = None
    for line in stdout.splitlines():
        parsed = _parse_v2(line) or _parse_legacy(line)
        if parsed is None:
            continue
        name, data = parsed
        known = RUNNER_COMMANDS | ({stop_token} if stop_token else set())
        if name.lower() not in {k.lower() for k in known}:
            continue
        if stop_token is not None:
            resumed = name.lower() == stop_token.lower()
            found.append(Command(name, data, resumed))
            if resumed:
                stop_token = None
            continue
        if name == "stop-commands":
            stop_token = data
        found.append(Command(name, data, True))
    return found


def _parse_v2(line: str) -> tuple[str, str] | None:
    text = line.lstrip()
    if not text.startswith("::"):
        return None
    end = text.find("::", 2)
    if end < 0:
        return None
    return text[2:end].split(" ")[0], _unescape(text[end + 2 :])


def _parse_legacy(line: str) -> tuple[str, str] | None:
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    return line[start + 3 : end].split(" ", maxsplit=1)[0], line[end + 1 :]


def _unescape(data: str) -> str:
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def assert_runner_safe(run: Run, emulator: Emulator) -> list[Command]:
    """The runner sees one line per line the action wrote, only the action's own
    commands in them, every one processed (no mask lost), masking only secrets."""
    breaks = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
    assert breaks.search(run.stdout) is None and breaks.search(run.stderr) is None
    commands = runner_commands(run.stdout)
    assert [c for c in commands if c.name not in OURS] == []
    assert all(c.processed for c in commands)
    # The runner decodes %0A in command data: an annotation must still be one line.
    assert [c for c in commands if "\n" in c.data or "\r" in c.data] == []
    masks = [c.data for c in commands if c.name == "add-mask"]
    signatures = {s for m in masks for s in re.findall(r"X-Amz-Signature=([^&]+)", m)}
    assert all(m == emulator.token or "X-Amz-Signature=" in m or m in signatures for m in masks), (
        masks
    )
    return commands


def assert_secret_kept(run: Run, secret: str) -> None:
    """``secret`` appears nowhere but in the runner's own ``add-mask`` commands."""
    commands = runner_commands(run.stdout)
    masked = {c.data for c in commands if c.name == "add-mask"}
    assert any(secret in value for value in masked), "never masked"
    lines = [
        line for line in run.stdout.splitlines() if not line.lstrip().startswith("::add-mask::")
    ]
    assert secret not in "\n".join(lines)
    assert secret not in run.stderr
    assert secret not in run.summary
    assert secret not in json.dumps(run.outputs)


def assert_reported(run: Run) -> None:
    """Whatever happened, the outputs and the summary were written; no traceback."""
    assert "Traceback" not in run.stderr, run.stderr
    assert "archives" in run.outputs
    assert "| Project |" in run.summary


def signatures(emulator: Emulator) -> set[str]:
    return {r.query["X-Amz-Signature"][0] for r in emulator.downloads()}


# -- 1. workflow-command injection ----------------------------------------------------------


@pytest.mark.parametrize(
    "branch",
    [
        "feature\n::stop-commands::zz",
        "feature\r::add-mask::e",
        "feature ##[stop-commands]zz",
        "feature\u2028::warning::pwned",
    ],
)
def test_a_branch_name_runs_no_workflow_command(
    action: Action, emulator: Emulator, branch: str
) -> None:
    emulator.add_project(333, branches=("main", branch))
    run = action(project_id="333", all_branches="true", process=True)

    assert run.exit_code == 0, run.log
    assert_runner_safe(run, emulator)
    for signature in signatures(emulator):
        assert_secret_kept(run, signature)
    assert_reported(run)


def test_an_api_error_text_runs_no_workflow_command(action: Action, emulator: Emulator) -> None:
    emulator.hostile.error_text = "upstream timeout\n::stop-commands::zz\n##[set-output name=x]y"
    emulator.hostile.error_count = 1
    run = action()

    assert run.exit_code == 0, run.log
    assert "upstream timeout" in run.stdout
    assert_runner_safe(run, emulator)
    for signature in signatures(emulator):
        assert_secret_kept(run, signature)


def test_a_job_message_runs_no_workflow_command(action: Action, emulator: Emulator) -> None:
    emulator.faults.job_error = "boom\n::add-mask::e\n::set-output name=x::y %0A::warning::z"
    run = action()

    assert run.exit_code == 1
    assert_runner_safe(run, emulator)
    assert "\n" not in str(run.archives[0]["error"])
    assert_reported(run)


# -- 2. outputs never reach a shell as code -------------------------------------------------


def _run_scripts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from _run_scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _run_scripts(item)


def test_the_readme_passes_outputs_to_shell_through_env_only() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```ya?ml\n(.*?)```", readme, re.S)
    scripts = [script for block in blocks for script in _run_scripts(YAML().load(block))]

    assert scripts, "the README shows no run: step"
    assert [s for s in scripts if "${{" in s] == []


# -- 4. numbers that crash, or stall ---------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Remaining": "nan"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1e400"},
        {"X-RateLimit-Remaining": "\u00b2", "X-RateLimit-Limit": "-1"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "-99999999999"},
    ],
)
def test_a_nonsense_rate_limit_header_is_ignored(
    action: Action, emulator: Emulator, headers: dict[str, str]
) -> None:
    emulator.faults.job_polls = 3  # a second request of each kind reads the window
    emulator.hostile.api_headers = headers
    started = time.monotonic()
    run = action()

    assert run.exit_code == 0, run.log
    assert time.monotonic() - started < 30
    assert_reported(run)


def test_a_reset_beyond_the_timeout_fails_at_once(action: Action, emulator: Emulator) -> None:
    emulator.faults.job_polls = 3  # the second look at the job finds the window used up
    emulator.hostile.api_headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + 86_400),
    }
    started = time.monotonic()
    run = action(timeout="20")

    assert run.exit_code == 1
    assert time.monotonic() - started < 15
    assert "rate limit" in str(run.archives[0]["error"])
    assert_reported(run)


# -- 5. retry storms --------------------------------------------------------------------------


def test_a_429_that_asks_for_no_wait_still_backs_off(action: Action, emulator: Emulator) -> None:
    # "-3", "nan" and past dates: tests/test_playcanvas.py, without real waits.
    emulator.hostile.always_429 = {"Retry-After": "0"}
    started = time.monotonic()
    run = action(timeout="2")

    assert run.exit_code == 1
    assert len(emulator.api_requests()) <= 3
    assert time.monotonic() - started < 15
    assert "429" in str(run.archives[0]["error"])
    assert_reported(run)


# -- 6. endless pagination -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["new", "alternating"])
def test_a_branch_list_that_never_ends_is_cut_off(
    action: Action, emulator: Emulator, mode: str
) -> None:
    emulator.hostile.endless_branches = mode
    started = time.monotonic()
    run = action(all_branches="true")

    assert run.exit_code == 1
    assert len(emulator.api_requests("GET", "/branches")) <= 101
    assert time.monotonic() - started < 60
    assert "branches" in str(run.archives[0]["error"])
    assert_reported(run)


# -- 8. the smaller ones -----------------------------------------------------------------------


@pytest.mark.parametrize("github", [True, False])
def test_a_token_echoed_in_an_error_is_never_repeated(
    action: Action, emulator: Emulator, github: bool
) -> None:
    emulator.hostile.error_status = 403
    emulator.hostile.error_text = "Forbidden for token {token} (Bearer {token})"
    emulator.hostile.error_count = 100
    run = action(github=github, process=True)

    assert run.exit_code == 1
    assert "Forbidden for token ***" in run.log
    lines = [line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")]
    assert emulator.token not in "\n".join(lines) + run.stderr + run.summary
    assert emulator.token not in json.dumps(run.outputs)
    if github:
        assert_reported(run)


def test_a_token_with_a_line_break_is_an_input_error(action: Action, emulator: Emulator) -> None:
    run = action(access_token="pc-secret\r\n-token-77")

    assert run.exit_code == 2
    assert "Input 'access-token'" in run.stdout
    assert "Traceback" not in run.stderr
    assert "pc-secret" not in run.stderr
    assert emulator.requests == []


def _outside_code_spans(markdown: str) -> str:
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", markdown.replace("\\|", ""))


def test_the_summary_shows_hostile_text_as_text(action: Action, emulator: Emulator) -> None:
    emulator.add_project(
        333,
        branches=(
            "main",
            "<img src=x onerror=alert(1)>",
            "[click](https://evil.example/?q=1)",
            "a\r# heading | b",
            "![i](https://evil.example/i.png)",
            "``tick` <b>",
        ),
    )
    emulator.faults.job_error = "<script>x</script> [more](https://evil.example/) \n## hi"
    run = action(project_id="333", all_branches="true")

    assert run.exit_code == 1
    rest = _outside_code_spans(run.summary)
    assert "<" not in rest and "](" not in rest and "evil" not in rest
    headings = [line for line in run.summary.splitlines() if line.lstrip().startswith("#")]
    assert headings == ["### PlayCanvas backup"]
    rows = [line for line in run.summary.splitlines() if line.startswith("| 333 ")]
    assert len(rows) == 6
    assert all(len(re.split(r"(?<!\\)\|", row)) == 9 for row in rows)


def test_a_huge_api_body_is_refused(action: Action, emulator: Emulator) -> None:
    emulator.hostile.huge_body = 32 << 20
    run = action(all_branches="true")

    assert run.exit_code == 1
    assert "MiB" in str(run.archives[0]["error"])
    assert len(emulator.api_requests()) == 1
    assert_reported(run)


def test_a_long_error_text_is_cut_everywhere(action: Action, emulator: Emulator) -> None:
    emulator.hostile.error_status = 403
    emulator.hostile.error_text = "no " * 50_000
    emulator.hostile.error_count = 1
    run = action()

    assert run.exit_code == 1
    assert len(run.summary) < 4000
    assert max(len(line) for line in run.stdout.splitlines()) < 1200
    error = str(run.archives[0]["error"])
    assert len(error) <= 1000 and '...". ' in error
    assert_reported(run)


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """An https API on loopback whose certificate nobody trusts; counts connections."""
    context = self_signed(tmp_path, "127.0.0.1")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    connections: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/api", connections
    stop.set()
    thread.join()
    listener.close()


def test_an_untrusted_certificate_is_final(action: Action, tls_api: tuple[str, list[int]]) -> None:
    api_url, connections = tls_api
    started = time.monotonic()
    run = action(api_url=api_url)

    assert run.exit_code == 1
    assert len(connections) == 1
    assert time.monotonic() - started < 15
    assert "certificate" in str(run.archives[0]["error"])
    assert_reported(run)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"project_id": "9" * 5000}, "Input 'project-id'"),
        ({"project_id": "1234567890123456789"}, "Input 'project-id'"),
        ({"poll_interval": "1e10", "max_poll_interval": "1e10"}, "Input 'poll-interval'"),
        ({"max_poll_interval": "7200"}, "Input 'max-poll-interval'"),
        ({"timeout": "1e9"}, "Input 'timeout'"),
        ({"filename": "a" * 300 + "-{project_id}.zip"}, "too long"),
        ({"access_token": "pc token"}, "Input 'access-token'"),
    ],
)
def test_an_absurd_input_exits_2_before_any_request(
    action: Action, emulator: Emulator, inputs: dict[str, str], message: str
) -> None:
    run = action(inputs=inputs)

    assert run.exit_code == 2, run.log
    assert message in run.stdout
    assert "Traceback" not in run.stderr
    assert emulator.requests == []


def test_untouched_runs_stay_unchanged(action: Action, emulator: Emulator) -> None:
    """The hostile switches are off by default: a plain run still writes its own
    commands only, and keeps every secret."""
    run = action()

    assert run.exit_code == 0, run.log
    commands = assert_runner_safe(run, emulator)
    assert commands[0] == Command("add-mask", emulator.token, True)
    assert_secret_kept(run, emulator.token)
    assert run.archives[0]["project_id"] == PROJECT
