"""The artifact upload: our client against Azurite and a double of the results service,
and the official @actions/artifact client as a peer."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playcanvas_backup.artifact import ArtifactUploader, check_name
from playcanvas_backup.artifact.blob import upload_blob
from playcanvas_backup.artifact.service import BackendIds
from playcanvas_backup.artifact.upload import expiry
from playcanvas_backup.artifact.zipstream import StoredZip
from playcanvas_backup.config import ArtifactRuntime
from playcanvas_backup.download import Archive
from playcanvas_backup.errors import ArtifactError
from tests.artifact_service import (
    AZURITE,
    JOB_ID,
    NODE_DIR,
    RUN_ID,
    ResultsService,
    azurite,
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


def uploader(
    service: ResultsService,
    record: Recorder,
    *,
    overwrite: bool = False,
    retention_days: int | None = None,
    cap: int | None = None,
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
        log=record.lines.append,
        warn=record.warnings.append,
        sleep=record.waits.append,
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
def test_stages_blocks_in_order_one_at_a_time(service: ResultsService, archive: Archive) -> None:
    uploader(service, Recorder())(archive, "a")

    puts = service.block_puts
    assert len(puts) == 1  # 3 MiB fits one 8 MiB block
    assert service.single_shot_puts == 0


@needs_node
def test_many_blocks_go_in_order_and_never_overlap(
    service: ResultsService, archive: Archive
) -> None:
    url = service._sas_url("direct/blocks.zip", write=True)
    with archive.path.open("rb") as data:
        sent = upload_blob(url, data, parallel=False, block_size=256 << 10)

    puts = service.block_puts
    assert len(puts) == -(-archive.size // (256 << 10))
    assert len({len(p.block_id) for p in puts}) == 1
    assert all(a.ended <= b.started for a, b in itertools.pairwise(puts))
    assert sent.size == archive.size and sent.sha256 == archive.sha256


@needs_node
def test_parallel_blocks_make_the_same_blob(service: ResultsService, archive: Archive) -> None:
    url = service._sas_url("direct/parallel.zip", write=True)
    with archive.path.open("rb") as data:
        upload_blob(url, data, parallel=True, block_size=256 << 10)

    blob = service._service.get_blob_client("artifacts", "direct/parallel.zip")
    assert bytes(blob.download_blob().readall()) == archive.path.read_bytes()


@needs_node
def test_a_failed_block_put_is_sent_again(service: ResultsService, archive: Archive) -> None:
    service.faults.fail_blocks = {0}
    uploader(service, Recorder())(archive, "a")

    assert service.problems == []
    assert [p.block_id for p in service.block_puts][:2] == [service.block_puts[0].block_id] * 2


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


def official(service: ResultsService, *args: str, cwd: Path) -> dict[str, object]:
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
