"""The rules that protect the user, each held by a behaviour test (issue 17's mutation testing).

Each test here kills a change of the code that the rest of the suite let through (a
deliberate break, or a mutant of ``make mutate``). Most go through the product's public doors
(the action as the runner runs it, the run loop with its collaborators, the emulator and
loopback hosts), so that they keep holding while the code behind those doors is rearranged:
an encryption that fails is a failed archive naming no deleted file; a download that trickles
past the deadline stops at the deadline; an API answer over the body cap is refused while it
streams; nothing starts once an archive's deadline has passed. The rest call the one owner of
a rule by its public name (``untrusted``, ``Workflow``, ``encrypt.parse_recipients``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyrage
import pytest
from pyrage import x25519

from playcanvas_backup import retries
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.download import Archive
from playcanvas_backup.encrypt import MAX_RECIPIENTS, parse_recipients
from playcanvas_backup.errors import InputError
from playcanvas_backup.playcanvas import MAX_BODY, PlayCanvasApi
from playcanvas_backup.result import ArchiveResult
from playcanvas_backup.run import Upload
from playcanvas_backup.untrusted import MAX_FIELD, clean, markdown_code, redact
from playcanvas_backup.workflow import Workflow
from tests.conftest import Action
from tests.emulator import Emulator
from tests.scripted_host import Reply, Request, ScriptedHost
from tests.test_run import back_up

# -- a loopback host that answers as the test says ------------------------------------------------


class _Host(ThreadingHTTPServer):
    daemon_threads = True
    answer: Callable[[BaseHTTPRequestHandler], None]
    sent: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Host

    def do_GET(self) -> None:
        self.server.answer(self)

    def do_POST(self) -> None:
        self.server.answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def loopback_host(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[_Host]:
    """An HTTP host on 127.0.0.1 that answers every request with ``answer(handler)``."""
    host = _Host(("127.0.0.1", 0), _Handler)
    host.answer = answer
    thread = threading.Thread(target=host.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.shutdown()
        host.server_close()


def origin(host: _Host) -> str:
    address, port = host.server_address[:2]
    return f"http://{address!s}:{port}"


def small_zip(size: int) -> bytes:
    """A valid zip of about ``size`` bytes (one stored member of incompressible bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("data.bin", bytes(i * 7919 % 251 for i in range(size)))
    return buffer.getvalue()


def send_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


# -- encryption ------------------------------------------------------------------------------------


def test_an_archive_whose_encryption_fails_exits_1_and_names_no_deleted_file(
    action: Action,
) -> None:
    recipient = str(x25519.Identity.generate().to_public())
    # A folder where the encrypted file must go: it cannot be renamed into place.
    (action.workspace / "playcanvas-backups" / "backup.zip.age").mkdir(parents=True)

    run = action(encrypt_to=recipient, filename="backup.zip")

    assert run.exit_code == 1, run.log
    [archive] = run.archives
    assert isinstance(archive["error"], str) and "ncrypt" in archive["error"]
    path = archive["path"]
    assert path is None or (run.workspace / str(path)).is_file(), path
    assert run.outputs.get("path", "") == "" or (run.workspace / run.outputs["path"]).is_file()
    assert "backup.zip" not in run.files()  # the plaintext is never left behind


# -- the archive's deadline -----------------------------------------------------------------------


def test_a_download_trickling_past_the_deadline_fails_at_the_deadline(
    action: Action, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that keeps sending a little (chunked, so no read ever waits long) is stopped
    by the deadline, not by a socket timeout; nothing is saved."""
    body = small_zip(100_000)
    step = len(body) // 100

    def trickle(handler: BaseHTTPRequestHandler) -> None:  # about 15 s for the whole archive
        handler.send_response(200)
        handler.send_header("Content-Type", "application/zip")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        with contextlib.suppress(OSError):
            for start in range(0, len(body), step):
                send_chunk(handler, body[start : start + step])
                time.sleep(0.15)
            send_chunk(handler, b"")

    timeout = 3.0
    with loopback_host(trickle) as host:
        monkeypatch.setattr(type(emulator), "download_origin", property(lambda _: origin(host)))
        started = time.monotonic()
        run = action(timeout=f"{timeout:g}")
        took = time.monotonic() - started

    assert run.exit_code == 1, run.log
    [archive] = run.archives
    assert isinstance(archive["error"], str) and "'timeout'" in archive["error"], archive
    assert took < timeout + 4, took
    assert [name for name in run.files() if not name.startswith(".")] == []


def test_an_api_body_over_the_cap_is_refused_while_it_streams(action: Action) -> None:
    """An API answer with no Content-Length that never stops is refused past the cap
    after reading about the cap, not the whole body."""
    total = 64 << 20

    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        blanks = b" " * (1 << 16)
        with contextlib.suppress(OSError):
            while handler.server.sent < total:  # type: ignore[attr-defined]
                handler.wfile.write(blanks)
                handler.server.sent += len(blanks)  # type: ignore[attr-defined]
            handler.wfile.write(b"{}")

    with loopback_host(endless) as host:
        run = action(api_url=f"{origin(host)}/api")
        sent = host.sent

    assert run.exit_code == 1, run.log
    [archive] = run.archives
    assert isinstance(archive["error"], str), archive
    assert f"more than {MAX_BODY >> 20} MiB" in archive["error"], archive
    # What was read, plus what the loopback socket buffers held, not the whole body.
    assert sent < total // 2, sent


class _ClockPastDeadlineOnceSaved:
    """The run's clock: moved only by its sleeps until an archive file is in ``folder``;
    from then on ``jump`` seconds later (an hour: past any deadline the tests set), as if
    the disk had been that slow."""

    def __init__(self, folder: Path, jump: float = 3600) -> None:
        self.folder, self.jump = folder, jump
        self.start = time.time()

    def time(self) -> float:
        saved = self.folder.is_dir() and any(
            not p.name.startswith(".") for p in self.folder.iterdir()
        )
        return self.start + (self.jump if saved else 0)

    def sleep(self, seconds: float) -> None:
        self.start += max(0.0, seconds)


def _back_up(
    emulator: Emulator,
    folder: Path,
    *,
    upload: Upload | None,
    clock: _ClockPastDeadlineOnceSaved | None = None,
    inputs: dict[str, str] | None = None,
) -> tuple[list[ArchiveResult], str]:
    """The run loop against the emulator (``tests.test_run.back_up``), on a clock that
    (unless another is given) passes the deadline once an archive is saved."""
    given = {"project_id": "111111", "timeout": "600", "poll_interval": "0.05"}
    given |= {name.replace("-", "_"): value for name, value in (inputs or {}).items()}
    clock = clock or _ClockPastDeadlineOnceSaved(folder)
    return back_up(emulator, clock, folder, upload=upload, **given)


def test_no_upload_starts_after_the_archives_deadline(emulator: Emulator, tmp_path: Path) -> None:
    uploads: list[str] = []

    def upload(archive: Archive, name: str, deadline: Deadline) -> tuple[int, str]:
        uploads.append(name)
        return 7, "https://github.example/artifacts/7"

    results, log = _back_up(emulator, tmp_path / "backups", upload=upload)

    [result] = results
    assert uploads == [], log
    assert result.error is not None and "timeout" in result.error, log
    assert result.path is not None and result.path.is_file()  # what was saved stays


# -- cleaning text from outside (untrusted) -------------------------------------------------------


def test_a_field_exactly_as_long_as_the_cap_is_kept_whole() -> None:
    assert clean("a" * MAX_FIELD) == "a" * MAX_FIELD
    assert clean("a" * (MAX_FIELD + 1)) == "a" * (MAX_FIELD - 3) + "..."


def test_a_secret_containing_another_is_replaced_whole() -> None:
    """The longer secret goes first: replacing the shorter one inside it first would
    leave the rest of the longer one in the text."""
    assert redact("token azzzzzzzb here", ["zzzz", "azzzzzzzb"]) == "token *** here"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see https://host/a.zip?sig=abc?x=1", "see https://host/a.zip?***"),
        ("see https://host/a.zip?opaque-signature", "see https://host/a.zip?***"),
        ("?X-Amz-Signature=abc", "?***"),
        ("file?a=secret", "file?***"),
        ("why? because", "why? because"),
    ],
)
def test_a_query_is_replaced_from_its_first_question_mark(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_a_character_past_the_basic_plane_is_escaped_with_eight_digits() -> None:
    assert clean("tag\U000e0001") == "tag\\U000e0001"


def test_empty_text_is_an_empty_summary_cell() -> None:
    assert markdown_code("") == ""


class _ClockPastDeadlineOnceDownloaded(_ClockPastDeadlineOnceSaved):
    """Past the deadline once the download's part file holds the whole archive (with
    ``encrypt-to`` the plaintext never has a final name): the deadline passes while the
    plaintext is complete on disk, before its encryption is done."""

    def __init__(self, folder: Path, size: int) -> None:
        super().__init__(folder)
        self.size = size

    def time(self) -> float:
        parts = self.folder.glob(".*.part") if self.folder.is_dir() else []
        done = any(part.stat().st_size >= self.size for part in parts if part.exists())
        return self.start + (self.jump if done else 0)


def test_an_encrypted_archive_past_its_deadline_once_downloaded_leaves_no_plaintext(
    emulator: Emulator, tmp_path: Path
) -> None:
    recipient = str(x25519.Identity.generate().to_public())
    folder = tmp_path / "backups"
    clock = _ClockPastDeadlineOnceDownloaded(folder, size=60 << 10)  # the archive: 63.8 KiB

    [result], log = _back_up(
        emulator, folder, upload=None, clock=clock, inputs={"encrypt-to": recipient}
    )

    assert result.error is not None and "timeout" in result.error, log
    assert result.path is None, result
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".json")) == [], log


# -- the runner's commands (workflow) -------------------------------------------------------------


def _in_actions(tmp_path: Path) -> tuple[Workflow, io.StringIO]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    out = io.StringIO()
    return Workflow(env, out=out, err=out), out


def test_a_mask_with_line_breaks_stays_one_command(tmp_path: Path) -> None:
    workflow, out = _in_actions(tmp_path)
    workflow.mask("abcd\r\nefgh")

    assert out.getvalue() == "::add-mask::abcd%0D%0Aefgh\n"


def test_an_annotation_title_with_a_colon_stays_one_property(tmp_path: Path) -> None:
    workflow, out = _in_actions(tmp_path)
    workflow.warning("careful", title="Backup: a, b")

    assert out.getvalue() == "::warning title=Backup%3A a%2C b::careful\n"


def test_secrets_are_redacted_from_outputs_and_the_summary_as_they_leave(tmp_path: Path) -> None:
    workflow, _ = _in_actions(tmp_path)
    workflow.mask("s3cret-token-value")
    workflow.set_outputs({"path": "saved with s3cret-token-value"})
    workflow.summary("| s3cret-token-value |\n")

    assert "s3cret" not in (tmp_path / "output").read_text()
    assert (tmp_path / "summary").read_text() == "| *** |\n"


def test_outside_actions_outputs_are_printed_whole_and_redacted() -> None:
    out = io.StringIO()
    workflow = Workflow({}, out=out, err=io.StringIO(), output_format="github")
    workflow.mask("s3cret-token-value")
    workflow.set_outputs({"archives": "x" * 5000, "path": "s3cret-token-value.zip"})

    assert out.getvalue() == f"archives={'x' * 5000}\npath=***.zip\n"


def test_outside_actions_a_masked_secret_never_reaches_a_message() -> None:
    out, err = io.StringIO(), io.StringIO()
    workflow = Workflow({}, out=out, err=err)
    workflow.mask("s3cret-token-value")
    workflow.info("sent s3cret-token-value")
    workflow.error("refused s3cret-token-value")

    # Outside Actions the log is on stderr; stdout carries only the outputs.
    assert (out.getvalue(), err.getvalue()) == ("", "sent ***\nerror: refused ***\n")


def test_outside_actions_warnings_errors_and_debug_go_to_stderr_cleaned() -> None:
    out, err = io.StringIO(), io.StringIO()
    workflow = Workflow({"RUNNER_DEBUG": "1"}, out=out, err=err)
    workflow.warning("one\ntwo")
    workflow.error("three\rfour")
    workflow.debug("five\nsix")

    assert out.getvalue() == ""
    assert err.getvalue() == "warning: one\\ntwo\nerror: three\\rfour\ndebug: five\\nsix\n"


# -- the download's checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "saved"),
    [
        ([("Transfer-Encoding", "gzip")], False),
        ([("Content-Encoding", "x-compress")], False),
        ([("Content-Encoding", "identity"), ("Transfer-Encoding", "identity")], True),
    ],
)
def test_only_an_archive_sent_as_its_plain_bytes_is_saved(
    headers: list[tuple[str, str]],
    saved: bool,
    action: Action,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = small_zip(10_000)
    with ScriptedHost(lambda request: Reply(200, headers, body, close=True)) as host:
        monkeypatch.setattr(type(emulator), "download_origin", property(lambda _: host.origin))
        run = action()

    [archive] = run.archives
    if saved:
        assert run.exit_code == 0, run.log
        assert (run.workspace / str(archive["path"])).read_bytes() == body
    else:
        assert run.exit_code == 1, run.log
        assert isinstance(archive["error"], str) and "encoded" in archive["error"], archive
        assert [name for name in run.files() if not name.startswith(".")] == []


def test_every_redirect_hop_of_the_download_is_masked_in_the_log(
    action: Action, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = small_zip(10_000)

    def script(request: Request) -> Reply:
        if request.target.startswith("/archives/"):
            return Reply(302, [("Location", "/final?sig=hop-two-secret-0123")])
        return Reply(200, [], body)

    with ScriptedHost(script) as host:
        monkeypatch.setattr(type(emulator), "download_origin", property(lambda _: host.origin))
        run = action()

    assert run.exit_code == 0, run.log
    masks = [line for line in run.log.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{host.url('/final?sig=hop-two-secret-0123')}" in masks, masks
    assert "::add-mask::sig=hop-two-secret-0123" in masks, masks
    assert not [line for line in run.log.splitlines() if "hop-two" in line and line not in masks], (
        run.log
    )


def test_an_uploaded_archive_reports_its_artifact(emulator: Emulator, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    uploaded: list[tuple[bytes, str]] = []

    def upload(archive: Archive, name: str, deadline: Deadline) -> tuple[int, str]:
        uploaded.append((archive.path.read_bytes(), name))
        return 7, "https://github.example/artifacts/7"

    no_jump = _ClockPastDeadlineOnceSaved(folder, jump=0)
    [result], log = _back_up(emulator, folder, upload=upload, clock=no_jump)

    assert result.error is None, log
    assert (result.artifact_id, result.artifact_url) == (7, "https://github.example/artifacts/7")
    assert result.path is not None and uploaded == [(result.path.read_bytes(), uploaded[0][1])]


# -- encrypt-to ------------------------------------------------------------------------------------


def _ssh_blob(*fields: bytes) -> str:
    """The base64 of an SSH public key blob: each field as an SSH string."""
    return base64.b64encode(b"".join(len(f).to_bytes(4, "big") + f for f in fields)).decode()


def _ed25519_blob() -> str:
    return _ssh_blob(b"ssh-ed25519", bytes(32))


def _rsa_1024_blob() -> str:
    """An ``ssh-rsa`` key of 1024 bits (e = 65537): well formed, too short for age."""
    modulus = b"\x00" + ((1 << 1023) | 1).to_bytes(128, "big")
    return _ssh_blob(b"ssh-rsa", (65537).to_bytes(3, "big"), modulus)


@pytest.mark.parametrize(
    "line",
    [
        "x" * 5000,  # too long
        "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
        "age1" + "q" * 58,  # a bad checksum
        "age1plugin-name1qqqq",
        "not a key",
        "ssh-ed25519 !!!",
        "ssh-ed25519",  # no key
        "ssh-ed25519 AAA",  # not base64
        f"ssh-rsa {_ed25519_blob()}",  # a blob of another kind
        f"ssh-rsa {_rsa_1024_blob()}",  # not a usable RSA key
        f"ssh-rsa {_ssh_blob(b'ssh-rsa', bytes(32))}",  # an exponent, no modulus: pyrage panics
    ],
)
def test_every_refused_encrypt_to_line_is_an_input_error_naming_the_input(
    line: str, action: Action, emulator: Emulator
) -> None:
    run = action(encrypt_to=f"# keys\n{line}")

    assert run.exit_code == 2, run.log
    assert "Input 'encrypt-to': line 2 " in run.log, run.log
    assert emulator.api_requests() == []  # refused before any network call


def test_as_many_recipients_as_allowed_are_accepted_and_one_more_is_not() -> None:
    keys = [str(x25519.Identity.generate().to_public()) for _ in range(MAX_RECIPIENTS + 1)]

    assert len(parse_recipients("\n".join(keys[:MAX_RECIPIENTS]))) == MAX_RECIPIENTS
    with pytest.raises(InputError, match=r"^Input 'encrypt-to': names more than"):
        parse_recipients("\n".join(keys))


def test_an_encrypted_archive_replaces_its_plaintext_and_decrypts_to_it(
    action: Action, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = x25519.Identity.generate()
    body = small_zip(10_000)
    with ScriptedHost(lambda request: Reply(200, [], body)) as host:
        monkeypatch.setattr(type(emulator), "download_origin", property(lambda _: host.origin))
        run = action(encrypt_to=str(identity.to_public()), filename="backup.zip")

    assert run.exit_code == 0, run.log
    [archive] = run.archives
    assert archive["path"] == run.outputs["path"] == "playcanvas-backups/backup.zip.age"
    assert run.files() == ["backup.zip.age"]  # the plaintext is gone, nothing else is left
    encrypted = (run.workspace / "playcanvas-backups" / "backup.zip.age").read_bytes()
    assert pyrage.decrypt(encrypted, [identity]) == body
    assert (archive["sha256"], archive["size"]) == (hashlib.sha256(body).hexdigest(), len(body))
    assert archive["encrypted_sha256"] == run.outputs["encrypted-sha256"]
    assert archive["encrypted_sha256"] == hashlib.sha256(encrypted).hexdigest()
    assert archive["encrypted_size"] == len(encrypted) == int(run.outputs["encrypted-size"])


# -- retries ----------------------------------------------------------------------------------


def test_only_429s_in_a_row_count_towards_the_429_limit() -> None:
    """A 503, then one 429 fewer than the limit: the call still succeeds (the 503 is a
    failed attempt of its own, not the first 429 of the run)."""
    limit = retries.API.uncounted_in_a_row
    statuses = [503] + [429] * (limit - 1) + [200]
    job = {"id": 1, "status": "running", "messages": [], "data": {}}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        status = statuses.pop(0) if statuses else 500
        body = json.dumps(job if status == 200 else {"error": "busy"}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        if status == 429:
            handler.send_header("Retry-After", "1")
        handler.end_headers()
        handler.wfile.write(body)

    waits: list[float] = []
    with loopback_host(answer) as host:
        api = PlayCanvasApi(
            f"{origin(host)}/api",
            "pc-test-token-0123456789",
            sleep=waits.append,
            clock=lambda: time.time() + sum(waits),
        )
        assert api.get_job(1, deadline=Deadline.after(3600)).id == 1

    assert statuses == [] and len(waits) == limit


def test_an_encrypted_archive_is_uploaded_as_its_age_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    uploaded: list[Archive] = []

    def upload(archive: Archive, name: str, deadline: Deadline) -> tuple[int, str]:
        uploaded.append(archive)
        return 7, "https://github.example/artifacts/7"

    recipient = str(x25519.Identity.generate().to_public())
    no_jump = _ClockPastDeadlineOnceSaved(folder, jump=0)
    [result], log = _back_up(
        emulator, folder, upload=upload, clock=no_jump, inputs={"encrypt-to": recipient}
    )

    assert result.error is None, log
    [archive] = uploaded
    data = archive.path.read_bytes()
    assert archive.path == result.path and archive.path.name.endswith(".zip.age")
    assert (archive.sha256, archive.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert archive.crc32 == zlib.crc32(data)
