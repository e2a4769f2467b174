"""The artifact upload: our client against Azurite and a double of the results service,
and the official @actions/artifact client as a peer."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from playcanvas_backup.artifact import ArtifactUploader, check_name
from playcanvas_backup.artifact.blob import (
    PARALLEL_BLOCKS,
    block_id,
    stages_in_parallel,
    upload_blob,
    with_query,
)
from playcanvas_backup.artifact.service import BackendIds
from playcanvas_backup.artifact.upload import expiry
from playcanvas_backup.artifact.zipstream import StoredZip
from playcanvas_backup.config import ArtifactRuntime
from playcanvas_backup.deadline import Deadline
from playcanvas_backup.download import Archive
from playcanvas_backup.errors import ArtifactError, TimedOut
from playcanvas_backup.retries import BLOB_UPLOAD, Policy
from playcanvas_backup.workflow import Workflow
from tests.act_server import ActArtifactServer, fnv32a
from tests.artifact_service import (
    AZURITE,
    JOB_ID,
    NODE_DIR,
    RUN_ID,
    ResultsService,
    azurite,
    blob_sas,
    runtime_token,
)
from tests.conftest import Action

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    (NODE is None or not AZURITE.exists()) and os.environ.get("REQUIRE_NODE_TESTS") != "1",
    reason="Node.js and tests/node/node_modules (npm ci --prefix tests/node) are needed",
)


# -- the zip around the archive --------------------------------------------------------------


def wrapped(data: bytes, *, zip64: bool | None = None, block: int = 7) -> bytes:
    stream = StoredZip(
        io.BytesIO(data),
        name="123-main.zip",
        size=len(data),
        crc32=zlib.crc32(data),
        modified=datetime(2026, 11, 29, 6, 30),
        zip64=zip64,
    )
    out = b"".join(iter(lambda: stream.read(block), b""))
    assert len(out) == stream.length
    return out


@pytest.mark.parametrize("zip64", [False, True])
def test_the_blob_is_a_zip_holding_the_archive_byte_for_byte(zip64: bool) -> None:
    archive = os.urandom(100_003)
    with zipfile.ZipFile(io.BytesIO(wrapped(archive, zip64=zip64))) as blob:
        (member,) = blob.infolist()
        assert blob.testzip() is None
        assert member.filename == "123-main.zip"
        assert member.compress_type == zipfile.ZIP_STORED
        assert member.date_time == (2026, 11, 29, 6, 30, 0)
        assert blob.read(member) == archive


def test_the_blob_reads_the_same_in_any_block_size() -> None:
    archive = os.urandom(5000)
    assert (
        wrapped(archive, block=1) == wrapped(archive, block=4096) == wrapped(archive, block=1 << 20)
    )


def test_an_archive_that_shrank_since_the_download_is_an_error() -> None:
    stream = StoredZip(io.BytesIO(b"short"), name="a.zip", size=10, crc32=0)
    with pytest.raises(OSError, match="shorter"):
        stream.read(100)


# -- pure parts ---------------------------------------------------------------------------------


def test_reads_the_backend_ids_from_the_token() -> None:
    assert BackendIds.from_token(runtime_token()) == BackendIds(RUN_ID, JOB_ID)
    assert BackendIds.from_token(runtime_token("123", "456")) == BackendIds("123", "456")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.e30.c", runtime_token("only-one-part:x:y:z")])
def test_a_token_without_results_ids_is_refused(token: str) -> None:
    with pytest.raises(ArtifactError, match="ACTIONS_RUNTIME_TOKEN"):
        BackendIds.from_token(token)


def test_retention_is_capped_by_the_repository_with_a_warning() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert expiry(None, 30, now) == (None, None)
    assert expiry(10, 30, now) == ("2026-12-09T00:00:00.000000Z", None)
    expires, warning = expiry(60, 30, now)
    assert expires == "2026-12-29T00:00:00.000000Z" and warning and "30 days" in warning


@pytest.mark.parametrize("name", ["", "a/b", "a:b", 'x"y', "a\\b", "a|b", "a*b", "a?b", "a<b"])
def test_artifact_names_are_checked(name: str) -> None:
    with pytest.raises(ArtifactError, match="artifact-name"):
        check_name(name)


# -- against Azurite and the results-service double ------------------------------------------


@pytest.fixture(scope="session")
def blob_account() -> Iterator[str]:
    if NODE is None or not AZURITE.exists():
        if os.environ.get("REQUIRE_NODE_TESTS") == "1":
            pytest.fail("REQUIRE_NODE_TESTS=1 but Node.js or tests/node/node_modules is missing")
        pytest.skip("Node.js and Azurite are needed")
    with azurite() as account_url:
        yield account_url


@pytest.fixture
def service(blob_account: str) -> Iterator[ResultsService]:
    with ResultsService(blob_account, proxy_blobs=True) as double:
        yield double


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    data = os.urandom(3 * (1 << 20) + 12345)
    path = tmp_path / "123456-main-20261129T063000Z.zip"
    path.write_bytes(data)
    return Archive(path, hashlib.sha256(data).hexdigest(), len(data), zlib.crc32(data))


class Recorder:
    def __init__(self) -> None:
        self.masked: list[str] = []
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.waits: list[float] = []
        self._workflow = Workflow({}, out=io.StringIO())

    def mask_url(self, url: str) -> None:
        """What the runner is asked to mask for a URL (the one masker's choice)."""
        before = len(self._workflow.secrets)
        self._workflow.mask_url(url)
        self.masked += self._workflow.secrets[before:]


SMALL_BLOCKS = 256 << 10
#: For the stall tests: a block that moves nothing for a second is given up on.
QUICK = dataclasses.replace(BLOB_UPLOAD, stall_timeout=1.0, attempts=2)


def uploader(
    service: ResultsService | ActArtifactServer,
    record: Recorder,
    *,
    overwrite: bool = False,
    retention_days: int | None = None,
    cap: int | None = None,
    block_size: int = 8 << 20,
    policy: Policy = BLOB_UPLOAD,
) -> ArtifactUploader:
    env = service.env()
    runtime = ArtifactRuntime(
        env["ACTIONS_RUNTIME_TOKEN"],
        env["ACTIONS_RESULTS_URL"],
        cap,
        "https://github.com",
        "octo/game",
        "4242",
    )
    return ArtifactUploader(
        runtime,
        retention_days=retention_days,
        overwrite=overwrite,
        mask=record.masked.append,
        mask_url=record.mask_url,
        log=record.lines.append,
        warn=record.warnings.append,
        sleep=record.waits.append,
        block_size=block_size,
        blob_policy=policy,
    )


def unpacked(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


@needs_node
def test_uploads_the_archive_as_an_artifact(service: ResultsService, archive: Archive) -> None:
    record = Recorder()
    artifact_id, url = uploader(service, record)(archive, "playcanvas-123456-main")

    assert service.problems == []
    assert url == f"https://github.com/octo/game/actions/runs/4242/artifacts/{artifact_id}"
    stored = service.artifacts["playcanvas-123456-main"]
    assert stored.id == artifact_id and stored.finalized
    assert unpacked(service.blob_bytes("playcanvas-123456-main")) == {
        archive.path.name: archive.path.read_bytes()
    }
    (create,) = service.calls_to("CreateArtifact")
    assert create["name"] == "playcanvas-123456-main" and "expires_at" not in create


@needs_node
def test_never_sends_a_single_shot_put_blob(service: ResultsService, archive: Archive) -> None:
    uploader(service, Recorder())(archive, "a")

    assert len(service.block_puts) == 1  # 3 MiB fits one 8 MiB block
    assert service.single_shot_puts == 0


@needs_node
def test_many_blocks_go_in_order_and_never_overlap(
    service: ResultsService, archive: Archive
) -> None:
    url = service._sas_url("direct/blocks.zip", write=True)
    with archive.path.open("rb") as data:
        sent = upload_blob(url, data, parallel=False, block_size=SMALL_BLOCKS)

    puts = service.block_puts
    assert len(puts) == -(-archive.size // SMALL_BLOCKS) > 1
    assert [p.block_id for p in puts] == [block_id(i) for i in range(len(puts))]
    assert len({len(p.block_id) for p in puts}) == 1
    assert all(a.ended <= b.started for a, b in itertools.pairwise(puts))
    assert service.max_in_flight == 1
    assert service.stored("direct/blocks.zip") == archive.path.read_bytes()
    assert sent.size == archive.size and sent.sha256 == archive.sha256


@needs_node
def test_parallel_blocks_overlap_and_make_the_same_blob(
    service: ResultsService, archive: Archive
) -> None:
    service.faults.hold_blocks = PARALLEL_BLOCKS
    url = service._sas_url("direct/parallel.zip", write=True)
    with archive.path.open("rb") as data:
        upload_blob(url, data, parallel=True, block_size=SMALL_BLOCKS)

    assert service.max_in_flight == PARALLEL_BLOCKS
    assert service.stored("direct/parallel.zip") == archive.path.read_bytes()


@pytest.mark.parametrize(
    ("url", "parallel"),
    [
        ("https://productionresultssa3.blob.core.windows.net/actions-results/a.zip?sig=x", True),
        ("https://ProductionResultsSA3.Blob.Core.Windows.Net./actions-results/a.zip", True),
        ("http://127.0.0.1:10000/devstoreaccount1/artifacts/a.zip?sv=2025-11-05", False),
        ("http://172.17.0.1:34567/twirp/x/UploadArtifact?sig=x&taskID=1", False),
        ("https://blob.core.windows.net.example.org/a.zip", False),
        ("https://example.org/a.zip?host=x.blob.core.windows.net", False),
    ],
)
def test_blocks_go_in_parallel_only_to_azures_blob_hosts(url: str, parallel: bool) -> None:
    assert stages_in_parallel(url) is parallel


def test_comp_is_appended_to_the_query_as_it_was_given() -> None:
    url = "http://h/UploadArtifact?sig=ab-_c=&expires=2026-12-03+09%3A41%3A20+%2B0000+UTC#f"
    assert with_query(url, comp="block", blockid="YQ+/=") == (
        "http://h/UploadArtifact?sig=ab-_c=&expires=2026-12-03+09%3A41%3A20+%2B0000+UTC"
        "&comp=block&blockid=YQ%2B%2F%3D"
    )


@needs_node
def test_a_failed_block_put_is_sent_again(service: ResultsService, archive: Archive) -> None:
    service.faults.fail_blocks = {0}
    uploader(service, Recorder())(archive, "a")

    assert service.problems == []
    assert [p.block_id for p in service.block_puts][:2] == [service.block_puts[0].block_id] * 2


def secrets_of(url: str) -> list[str]:
    """The signed URL and its signature, raw and decoded: none may be printed."""
    query = url.split("?", 1)[1]
    raw = next(part[4:] for part in query.split("&") if part.startswith("sig="))
    return [url, query, raw, urllib.parse.unquote(raw)]


def assert_no_secret(url: str, *texts: str) -> None:
    for text in texts:
        assert "sig=" not in text
        for secret in secrets_of(url):
            assert secret not in text


@needs_node
def test_a_refused_signature_is_explained_without_the_link(
    service: ResultsService, archive: Archive
) -> None:
    good = service._sas_url("direct/refused.zip", write=True)
    url = good.replace("sig=", "sig=AAAA")  # Azurite: 403 AuthorizationFailure
    record = Recorder()
    with archive.path.open("rb") as data, pytest.raises(ArtifactError) as failure:
        upload_blob(url, data, parallel=False, log=record.lines.append)

    message = str(failure.value)
    assert "refused the upload's signature (HTTP 403 AuthorizationFailure)" in message
    assert "expired" not in message
    assert_no_secret(url, message, *record.lines)


@needs_node
def test_an_expired_link_is_explained_without_the_link(
    service: ResultsService, archive: Archive
) -> None:
    expired = datetime.now(UTC) - timedelta(minutes=5)
    url = f"{service.account_url}/artifacts/direct/expired.zip?"
    url += blob_sas("direct/expired.zip", "rcw", expired)
    with archive.path.open("rb") as data, pytest.raises(ArtifactError) as failure:
        upload_blob(url, data, parallel=False)

    message = str(failure.value)
    assert "HTTP 403" in message and "link has expired" in message
    assert_no_secret(url, message)


# -- against a server in the style of act's (act, Gitea, Forgejo) ------------------------------


@pytest.fixture
def act() -> Iterator[ActArtifactServer]:
    with ActArtifactServer() as server:
        yield server


def test_uploads_through_act_with_its_signed_parameters_kept(
    act: ActArtifactServer, archive: Archive
) -> None:
    artifact_id, _ = uploader(act, Recorder(), block_size=SMALL_BLOCKS)(archive, "a")

    assert act.problems == []
    assert artifact_id == fnv32a("a")
    assert len(act.block_puts()) > 1 and all(p.status == 201 for p in act.block_puts())
    assert unpacked(bytes(act.files["a"])) == {archive.path.name: archive.path.read_bytes()}


def test_blocks_go_to_act_one_at_a_time(act: ActArtifactServer, archive: Archive) -> None:
    uploader(act, Recorder(), block_size=SMALL_BLOCKS)(archive, "a")

    assert len(act.block_puts()) > 1
    assert act.max_in_flight == 1


def test_the_act_double_refuses_a_re_encoded_signature(act: ActArtifactServer) -> None:
    _, answer = act.twirp("CreateArtifact", {"workflow_run_backend_id": "31", "name": "a"})
    url = str(answer["signedUploadUrl"])
    assert "=&expires=" in url  # act's signature keeps its base64 padding
    re_encoded = url.replace("=&expires=", "%3D&expires=") + "&comp=block&blockid=YQ%3D%3D"

    assert requests.put(re_encoded, data=b"block", timeout=10).status_code == 401
    assert act.files["a"] == b""
    assert act.problems == ["the signed URL's own parameters arrived changed: sig"]


@needs_node
def test_the_official_client_downloads_what_act_stored(
    act: ActArtifactServer, archive: Archive, tmp_path: Path
) -> None:
    artifact_id, _ = uploader(act, Recorder(), block_size=SMALL_BLOCKS)(archive, "a")
    target = tmp_path / "downloaded"

    official(act, "download", str(artifact_id), str(target), cwd=tmp_path)

    restored = target / archive.path.name
    assert hashlib.sha256(restored.read_bytes()).hexdigest() == archive.sha256


def test_a_block_503_is_sent_again(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.block_statuses = [503]
    record = Recorder()
    uploader(act, record, block_size=SMALL_BLOCKS)(archive, "a")

    assert [p.status for p in act.block_puts()][:2] == [503, 201]
    assert unpacked(bytes(act.files["a"])) == {archive.path.name: archive.path.read_bytes()}
    assert len(record.waits) == 1 and 2 <= record.waits[0] <= 4
    (line,) = record.lines
    assert "block 1" in line and "HTTP 503" in line and "trying again" in line


def test_an_expired_act_link_is_explained(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.expired_links = True
    record = Recorder()
    with pytest.raises(ArtifactError, match=r"\(HTTP 401\): the signed upload link has expired"):
        uploader(act, record)(archive, "a")

    (url,) = [m for m in record.masked if m.startswith("http")]
    assert_no_secret(url, *record.lines)
    assert [p.status for p in act.blob_puts] == [401]


def test_a_too_large_block_is_explained(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.block_statuses = [413]
    act.faults.status_body = b"<html><body>413 Request Entity Too Large</body></html>"
    record = Recorder()
    with pytest.raises(ArtifactError) as failure:
        uploader(act, record)(archive, "a")

    message = str(failure.value)
    assert "as too large (HTTP 413)" in message and "client_max_body_size" in message
    assert "html" not in message
    (url,) = [m for m in record.masked if m.startswith("http")]
    assert_no_secret(url, message)


def test_a_full_storage_quota_is_explained(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.block_statuses = [413]
    act.faults.status_body = b"Quota exceeded"
    record = Recorder()
    with pytest.raises(ArtifactError) as failure:
        uploader(act, record)(archive, "a")

    message = str(failure.value)
    assert "quota exceeded" in message and "archive itself was saved" in message
    assert len(act.block_puts()) == 1  # final: not sent again
    (url,) = [m for m in record.masked if m.startswith("http")]
    assert_no_secret(url, message)


def test_a_stalled_block_is_given_up_on(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.stall_blocks = QUICK.attempts
    record = Recorder()
    with pytest.raises(ArtifactError) as failure:
        uploader(act, record, policy=QUICK)(archive, "a")

    assert str(failure.value) == (
        f"Uploading block 1 of the artifact failed {QUICK.attempts} times, the last time: "
        "upload progress stalled (no data moved for 1 s). The archive itself was saved."
    )
    assert len(act.block_puts()) == QUICK.attempts
    assert len(record.waits) == QUICK.attempts - 1
    (url,) = [m for m in record.masked if m.startswith("http")]
    assert_no_secret(url, str(failure.value), *record.lines)


def test_a_stalled_store_is_given_up_on_by_the_archives_deadline(
    act: ActArtifactServer, archive: Archive
) -> None:
    act.faults.stall_blocks = 100
    record = Recorder()
    started = time.monotonic()
    with pytest.raises(TimedOut, match=r"artifact upload \(block 1\) did not finish within"):
        uploader(act, record)(archive, "a", Deadline.after(2, clock=time.time))

    assert time.monotonic() - started < 4  # the store's own stall limit is 300 s
    assert len(act.block_puts()) == 1


def test_a_signal_abandons_a_stalled_block_without_waiting_for_it(
    act: ActArtifactServer, archive: Archive
) -> None:
    """SIGTERM's handler raises in the main thread: the blocks in flight on their own
    threads are abandoned, not waited for (the store's stall limit is 300 s)."""

    class Stop(BaseException):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stop

    act.faults.stall_blocks = 100
    previous = signal.signal(signal.SIGUSR1, stop)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    started = time.monotonic()
    try:
        with pytest.raises(Stop):
            uploader(act, Recorder())(archive, "a")
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert time.monotonic() - started < 3


def test_a_stalled_block_is_sent_again(act: ActArtifactServer, archive: Archive) -> None:
    act.faults.stall_blocks = 1
    record = Recorder()
    uploader(act, record, policy=QUICK)(archive, "a")

    assert [p.status for p in act.block_puts()] == [0, 201]
    assert unpacked(bytes(act.files["a"])) == {archive.path.name: archive.path.read_bytes()}
    assert "stalled" in record.lines[0]


@needs_node
@pytest.mark.parametrize("method", ["CreateArtifact", "FinalizeArtifact"])
def test_retries_503_and_429_bursts(service: ResultsService, archive: Archive, method: str) -> None:
    service.faults.fail[method] = [503, 429, 502]
    record = Recorder()
    uploader(service, record)(archive, "a")

    assert service.problems == []
    assert len(service.calls_to(method)) == 4
    assert len(record.waits) == 3 and 3 <= record.waits[0] < record.waits[-1]


@needs_node
def test_gives_up_after_five_attempts(service: ResultsService, archive: Archive) -> None:
    service.faults.fail["CreateArtifact"] = [503] * 10

    with pytest.raises(ArtifactError, match="503"):
        uploader(service, Recorder())(archive, "a")
    assert len(service.calls_to("CreateArtifact")) == 5


@needs_node
def test_a_name_taken_in_this_run_is_explained(service: ResultsService, archive: Archive) -> None:
    uploader(service, Recorder())(archive, "a")

    with pytest.raises(ArtifactError, match="overwrite: true") as failure:
        uploader(service, Recorder())(archive, "a")
    assert "artifact-name" in str(failure.value)


@needs_node
def test_overwrite_replaces_the_artifact(service: ResultsService, archive: Archive) -> None:
    first, _ = uploader(service, Recorder())(archive, "a")
    service.faults.fail["ListArtifacts"] = [503]
    service.faults.fail["DeleteArtifact"] = [429]
    second, _ = uploader(service, Recorder(), overwrite=True)(archive, "a")

    assert second != first and service.artifacts["a"].id == second
    assert service.problems == []


@needs_node
def test_the_storage_quota_is_final_and_explained(
    service: ResultsService, archive: Archive
) -> None:
    service.faults.quota = True

    with pytest.raises(ArtifactError, match="quota") as failure:
        uploader(service, Recorder())(archive, "a")
    assert "archive itself was saved" in str(failure.value)
    assert len(service.calls_to("CreateArtifact")) == 1


@needs_node
def test_understands_camel_case_answers(service: ResultsService, archive: Archive) -> None:
    service.faults.camel_case = True
    artifact_id, _ = uploader(service, Recorder())(archive, "a")

    assert artifact_id == service.artifacts["a"].id


@needs_node
def test_masks_the_signed_upload_url_and_its_signature(
    service: ResultsService, archive: Archive
) -> None:
    record = Recorder()
    uploader(service, record)(archive, "a")

    assert service.token in record.masked
    urls = [m for m in record.masked if m.startswith("http")]
    assert len(urls) == 1 and "sig=" in urls[0]
    signature = urls[0].split("sig=")[1].split("&")[0]
    assert signature in record.masked  # as it stands in the URL, for a partial print
    assert all(signature not in line for line in record.lines)


@needs_node
def test_sends_the_capped_retention(service: ResultsService, archive: Archive) -> None:
    record = Recorder()
    uploader(service, record, retention_days=90, cap=14)(archive, "a")

    (create,) = service.calls_to("CreateArtifact")
    days = (
        datetime.fromisoformat(create["expires_at"].replace("Z", "+00:00")) - datetime.now(UTC)
    ).days
    assert 13 <= days <= 14
    assert record.warnings and "14 days" in record.warnings[0]


# -- the official client as a peer --------------------------------------------------------------


def official(
    service: ResultsService | ActArtifactServer, *args: str, cwd: Path
) -> dict[str, object]:
    env = {**os.environ, **service.env(), "RUNNER_TEMP": str(cwd), "GITHUB_WORKSPACE": str(cwd)}
    done = subprocess.run(
        [str(NODE), str(NODE_DIR / "peer.mjs"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


@needs_node
def test_the_official_client_downloads_the_original_archive(
    service: ResultsService, archive: Archive, tmp_path: Path
) -> None:
    artifact_id, _ = uploader(service, Recorder())(archive, "playcanvas-123456-main")
    target = tmp_path / "downloaded"

    official(service, "download", str(artifact_id), str(target), cwd=tmp_path)

    restored = target / archive.path.name
    assert sorted(p.name for p in target.iterdir()) == [archive.path.name]
    assert hashlib.sha256(restored.read_bytes()).hexdigest() == archive.sha256


@needs_node
def test_the_double_accepts_the_official_clients_upload(
    service: ResultsService, archive: Archive, tmp_path: Path
) -> None:
    result = official(service, "upload", "from-official", str(archive.path), cwd=tmp_path)

    assert service.problems == []
    assert result["id"] == service.artifacts["from-official"].id
    assert unpacked(service.blob_bytes("from-official")) == {
        archive.path.name: archive.path.read_bytes()
    }


# -- through the entrypoint, as the runner runs it ---------------------------------------------


@needs_node
def test_the_action_uploads_each_archive_and_reports_it(
    action: Action, service: ResultsService, tmp_path: Path
) -> None:
    run = action(upload_artifact="true", branch="dev", retention_days="7", env=service.env())

    assert run.exit_code == 0, run.log
    assert service.problems == []
    stored = service.artifacts["playcanvas-111111-dev"]
    assert run.outputs["artifact-id"] == str(stored.id)
    assert run.outputs["artifact-url"] == (
        f"https://github.com/octo/game/actions/runs/4242/artifacts/{stored.id}"
    )
    (entry,) = run.archives
    assert (
        entry["artifact_id"] == stored.id and entry["artifact_url"] == run.outputs["artifact-url"]
    )
    assert f"[{stored.id}]({run.outputs['artifact-url']})" in run.summary
    saved = run.workspace / run.outputs["path"]
    assert unpacked(service.blob_bytes("playcanvas-111111-dev")) == {saved.name: saved.read_bytes()}
    # The SAS URL handed out for the upload is masked and never printed.
    masks = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
    assert any("sig=" in line for line in masks)
    signature = next(line for line in masks if "sig=" in line).split("sig=")[1].split("&")[0]
    assert signature not in "\n".join(line for line in run.log.splitlines() if line not in masks)
    assert f"::add-mask::{service.token}" in masks


def test_the_action_uploads_through_an_act_style_server(
    action: Action, act: ActArtifactServer
) -> None:
    run = action(upload_artifact="true", branch="dev", env=act.env())

    assert run.exit_code == 0, run.log
    assert act.problems == []
    assert run.outputs["artifact-id"] == str(fnv32a("playcanvas-111111-dev"))
    saved = run.workspace / run.outputs["path"]
    assert unpacked(bytes(act.files["playcanvas-111111-dev"])) == {saved.name: saved.read_bytes()}
    upload_url = act.issued["playcanvas-111111-dev"]
    signature = upload_url.split("sig=")[1].split("&")[0]
    masks = {line for line in run.stdout.splitlines() if line.startswith("::add-mask::")}
    assert f"::add-mask::{signature}" in masks
    assert signature not in "\n".join(line for line in run.log.splitlines() if line not in masks)


def test_a_stalled_artifact_store_ends_the_run_within_its_timeout_with_outputs(
    action: Action, act: ActArtifactServer
) -> None:
    act.faults.stall_blocks = 100
    started = time.monotonic()

    run = action(upload_artifact="true", timeout="3", env=act.env())

    assert time.monotonic() - started < 3 + 3
    assert run.exit_code == 1
    (archive,) = run.archives
    assert (run.workspace / str(archive["path"])).is_file()  # the saved archive stays
    assert "did not finish within 'timeout' (3 s)" in str(archive["error"])


@needs_node
def test_a_failed_upload_keeps_the_archive_and_fails_the_step(
    action: Action, service: ResultsService
) -> None:
    service.faults.quota = True
    run = action(upload_artifact="true", env=service.env())

    assert run.exit_code == 1
    saved = run.workspace / run.outputs["path"]
    assert (
        saved.is_file() and run.outputs["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    )
    (entry,) = run.archives
    assert entry["path"] == run.outputs["path"] and "quota" in str(entry["error"])
    assert entry["artifact_id"] is None
    assert "artifact-id" not in run.outputs
    assert "::error title=Backup of project 111111 (main) failed::" in run.stdout


def test_a_public_repository_is_refused_before_any_request(action: Action, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"private": False, "visibility": "public"}}))
    env = {
        "ACTIONS_RUNTIME_TOKEN": runtime_token(),
        "ACTIONS_RESULTS_URL": "http://127.0.0.1:9/",
        "GITHUB_EVENT_PATH": str(event),
    }
    run = action(upload_artifact="true", env=env)

    assert run.exit_code == 2
    assert "public" in run.stdout and "allow-public-repository" in run.stdout
    assert action.emulator.requests == []
