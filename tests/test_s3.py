"""The S3 destination against a real S3 server on loopback (moto, behind the fault front
of tests/s3_server.py), through the real client: stored once, verified by the store and
by a read-back, in parts when large, retried, refused clearly, bounded by the deadline."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import TimedOut
from playcanvas_backup.finished import FinishedArchive, measure
from playcanvas_backup.report import summary
from playcanvas_backup.result import ArchiveResult
from playcanvas_backup.s3 import (
    S3Error,
    S3Refused,
    S3Store,
    S3Unavailable,
    archive_metadata,
    composite_checksum,
)
from tests.conftest import PROJECT, Action
from tests.s3_server import ACCESS_KEY, BUCKET, CREDENTIALS, SECRET_KEY, VERSIONED, S3Server
from tests.scripted_host import Reply, ScriptedHost

MIB = 1 << 20
FAR = Deadline.never()  # a deadline that is never reached


def make_store(s3: S3Server, log: list[str] | None = None, **options: object) -> S3Store:
    lines = [] if log is None else log
    return S3Store(
        endpoint_url=s3.endpoint_url,
        region="us-east-1",
        env=CREDENTIALS,
        log=lines.append,
        sleep=lambda seconds: None,
        **options,  # type: ignore[arg-type]
    )


def file_of(tmp_path: Path, size: int, name: str = "111-main.zip") -> FinishedArchive:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return measure(path)


def b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def test_an_archive_is_stored_with_its_sha256_as_the_store_s_checksum(
    s3: S3Server, tmp_path: Path
) -> None:
    archive = file_of(tmp_path, 300_000)
    stored = make_store(s3).store(archive, f"s3://{BUCKET}/pc/a.zip", metadata={}, deadline=FAR)
    head = s3.admin().head_object(Bucket=BUCKET, Key="pc/a.zip", ChecksumMode="ENABLED")
    assert (stored.uri, stored.already) == (f"s3://{BUCKET}/pc/a.zip", False)
    assert head["ChecksumSHA256"] == b64(archive.sha256)
    assert head["Metadata"]["sha256"] == archive.sha256
    body = s3.admin().get_object(Bucket=BUCKET, Key="pc/a.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == archive.sha256


def test_the_archives_entry_is_stored_as_object_metadata(s3: S3Server, tmp_path: Path) -> None:
    archive = file_of(tmp_path, 1000)
    metadata = archive_metadata(
        stored_sha256=archive.sha256,
        archive_sha256=archive.sha256,
        archive_size=archive.size,
        encrypted=False,
        project_id=111,
        branch="feature/ü",
        branch_id="abc-123",
        job_id=9,
        created=datetime(2026, 12, 6, 7, 0, tzinfo=UTC),
    )
    make_store(s3).store(archive, f"s3://{BUCKET}/m.zip", metadata=metadata, deadline=FAR)
    stored = s3.admin().head_object(Bucket=BUCKET, Key="m.zip")["Metadata"]
    assert stored["archive-sha256"] == archive.sha256
    assert (stored["project-id"], stored["job-id"], stored["encrypted"]) == ("111", "9", "false")
    assert stored["branch"] == "feature%2F%C3%BC"
    assert stored["created"] == "2026-12-06T07:00:00Z"


def test_a_body_changed_on_the_way_is_refused_by_the_store_and_nothing_is_stored(
    s3: S3Server, tmp_path: Path
) -> None:
    s3.flip_byte = True
    archive = file_of(tmp_path, 5000)
    with pytest.raises(S3Unavailable, match="do not match the archive's SHA-256") as failed:
        make_store(s3).store(archive, f"s3://{BUCKET}/flip.zip", metadata={}, deadline=FAR)
    assert "BadDigest" in str(failed.value)
    listed = s3.admin().list_objects_v2(Bucket=BUCKET)
    assert listed.get("KeyCount", 0) == 0


def test_a_large_archive_goes_up_in_parts_with_a_composite_checksum(
    s3: S3Server, tmp_path: Path
) -> None:
    archive = file_of(tmp_path, 11 * MIB + 123)
    store = make_store(s3, threshold=8 * MIB, part_size=5 * MIB, parallel=3)
    stored = store.store(archive, f"s3://{BUCKET}/big.zip", metadata={}, deadline=FAR)
    data = archive.path.read_bytes()
    digests = [hashlib.sha256(data[i : i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB)]
    head = s3.admin().head_object(Bucket=BUCKET, Key="big.zip", ChecksumMode="ENABLED")
    # S3 writes a composite checksum "<base64>-<parts>"; moto leaves "-<parts>" off.
    assert head["ChecksumSHA256"].split("-")[0] == composite_checksum(digests).split("-")[0]
    assert composite_checksum(digests).endswith("-3")
    assert head["Metadata"]["sha256"] == archive.sha256
    assert len([p for p in s3.methods("PUT") if "partNumber=" in p]) == 3
    body = s3.admin().get_object(Bucket=BUCKET, Key="big.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == archive.sha256 and not stored.already


def test_a_part_changed_on_the_way_fails_the_upload_and_leaves_no_object_or_upload(
    s3: S3Server, tmp_path: Path
) -> None:
    archive = file_of(tmp_path, 11 * MIB)
    s3.flip_byte = True
    store = make_store(s3, threshold=8 * MIB, part_size=5 * MIB)
    with pytest.raises(S3Unavailable, match="do not match"):
        store.store(archive, f"s3://{BUCKET}/big.zip", metadata={}, deadline=FAR)
    admin = s3.admin()
    assert admin.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert not admin.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


def test_a_rerun_finds_the_archive_already_stored_and_uploads_nothing(
    s3: S3Server, tmp_path: Path
) -> None:
    archive, log = file_of(tmp_path, 4000), list[str]()
    uri = f"s3://{BUCKET}/again.zip"
    make_store(s3).store(archive, uri, metadata={}, deadline=FAR)
    puts = len(s3.methods("PUT"))
    again = make_store(s3, log).store(archive, uri, metadata={}, deadline=FAR)
    assert again.already
    assert len(s3.methods("PUT")) == puts
    assert any("already stored" in line for line in log)


def test_other_bytes_at_the_key_are_replaced(s3: S3Server, tmp_path: Path) -> None:
    uri = f"s3://{BUCKET}/same-name.zip"
    make_store(s3).store(file_of(tmp_path, 4000, "a.zip"), uri, metadata={}, deadline=FAR)
    newer = file_of(tmp_path, 5000, "b.zip")
    stored = make_store(s3).store(newer, uri, metadata={}, deadline=FAR)
    head = s3.admin().head_object(Bucket=BUCKET, Key="same-name.zip")
    assert not stored.already and head["Metadata"]["sha256"] == newer.sha256


def test_a_versioned_bucket_gives_the_object_s_version_id(s3: S3Server, tmp_path: Path) -> None:
    archive = file_of(tmp_path, 2000)
    stored = make_store(s3).store(archive, f"s3://{VERSIONED}/v.zip", metadata={}, deadline=FAR)
    versions = s3.admin().list_object_versions(Bucket=VERSIONED)["Versions"]
    assert stored.version_id is not None
    assert [v["VersionId"] for v in versions] == [stored.version_id]


def test_an_unversioned_bucket_gives_no_version_id(s3: S3Server, tmp_path: Path) -> None:
    stored = make_store(s3).store(
        file_of(tmp_path, 2000), f"s3://{BUCKET}/u.zip", metadata={}, deadline=FAR
    )
    assert stored.version_id is None


def test_a_store_that_answers_503_and_500_then_recovers_is_tried_again(
    s3: S3Server, tmp_path: Path
) -> None:
    archive, log = file_of(tmp_path, 3000), list[str]()
    s3.fail_next(503)
    s3.fail_next(500)
    stored = make_store(s3, log).store(archive, f"s3://{BUCKET}/r.zip", metadata={}, deadline=FAR)
    assert stored.uri.endswith("r.zip")
    assert sum("trying again" in line for line in log) == 2
    assert "503 Service Unavailable" in log[0] and "500 Internal Server Error" in log[1]


def test_a_store_that_keeps_failing_is_given_up_after_five_attempts(
    s3: S3Server, tmp_path: Path
) -> None:
    s3.fail_next(503, count=50)
    with pytest.raises(S3Unavailable, match="503 Service Unavailable"):
        make_store(s3).store(
            file_of(tmp_path, 3000), f"s3://{BUCKET}/x.zip", metadata={}, deadline=FAR
        )
    assert len(s3.requests) == 5


def test_a_refused_key_is_a_clear_403_tried_once_without_the_secret(
    s3: S3Server, tmp_path: Path
) -> None:
    s3.refused_keys.add(ACCESS_KEY)
    with pytest.raises(S3Refused) as refused:
        make_store(s3).store(
            file_of(tmp_path, 3000), f"s3://{BUCKET}/k.zip", metadata={}, deadline=FAR
        )
    message = str(refused.value)
    assert "403 Forbidden" in message and "AWS_ACCESS_KEY_ID" in message
    assert SECRET_KEY not in message
    assert len(s3.requests) == 1


def test_a_missing_bucket_says_so(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(S3Error, match="does not exist"):
        make_store(s3).store(
            file_of(tmp_path, 3000), "s3://no-such-bucket/k.zip", metadata={}, deadline=FAR
        )


def test_no_request_starts_past_the_archive_s_deadline(s3: S3Server, tmp_path: Path) -> None:
    now = itertools.count(1000.0)
    store, passed = make_store(s3), Deadline(900.0, clock=lambda: float(next(now)))
    with pytest.raises(S3Error, match="time ran out"):
        store.store(file_of(tmp_path, 3000), f"s3://{BUCKET}/d.zip", metadata={}, deadline=passed)
    assert s3.requests == []


def test_the_deadline_ends_the_retries_before_the_attempts_run_out(
    s3: S3Server, tmp_path: Path
) -> None:
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    s3.fail_next(503, count=50)
    store = S3Store(
        endpoint_url=s3.endpoint_url,
        region="us-east-1",
        env=CREDENTIALS,
        sleep=sleep,
    )
    deadline = Deadline(1002.5, clock=lambda: clock[0])
    with pytest.raises(TimedOut) as raised:
        store.store(file_of(tmp_path, 3000), f"s3://{BUCKET}/d.zip", metadata={}, deadline=deadline)
    assert isinstance(raised.value.__cause__, S3Unavailable)
    assert 1 <= len(s3.requests) < 5
    assert clock[0] <= 1002.5


def test_only_one_of_the_key_pair_is_a_clear_error(s3: S3Server, tmp_path: Path) -> None:
    store = S3Store(
        endpoint_url=s3.endpoint_url, region="us-east-1", env={"AWS_ACCESS_KEY_ID": ACCESS_KEY}
    )
    with pytest.raises(S3Error, match="AWS_SECRET_ACCESS_KEY"):
        store.store(file_of(tmp_path, 10), f"s3://{BUCKET}/k.zip", metadata={}, deadline=FAR)
    assert s3.requests == []


# -- the action with s3-uri ---------------------------------------------------------------------


def s3_inputs(s3: S3Server, bucket: str = BUCKET) -> dict[str, str]:
    return {
        "s3-uri": f"s3://{bucket}/pc/{{project_id}}/{{branch}}/{{file}}",
        "s3-endpoint-url": s3.endpoint_url,
        "s3-region": "us-east-1",
    }


def test_the_action_stores_each_archive_and_reports_where(action: Action, s3: S3Server) -> None:
    run = action(inputs=s3_inputs(s3), env=CREDENTIALS)
    entry = run.archives[0]
    key = f"pc/{PROJECT}/main/{Path(run.outputs['path']).name}"
    assert run.exit_code == 0, run.log
    assert entry["s3_uri"] == f"s3://{BUCKET}/{key}"
    head = s3.admin().head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"]["archive-sha256"] == run.outputs["sha256"]
    assert "| S3 |" in run.summary and f"s3://{BUCKET}/{key}" in run.summary
    assert "stored and verified" in run.log


def test_the_action_never_prints_the_credentials(action: Action, s3: S3Server) -> None:
    run = action(inputs=s3_inputs(s3), env=CREDENTIALS)
    assert run.exit_code == 0
    shown = [line for line in run.log.splitlines() if SECRET_KEY in line]
    assert shown == [f"::add-mask::{SECRET_KEY}"]  # the runner's mask, asked for first
    assert SECRET_KEY not in run.summary + json.dumps(run.outputs)


def test_a_versioned_bucket_gives_the_version_in_archives(action: Action, s3: S3Server) -> None:
    run = action(inputs=s3_inputs(s3, VERSIONED), env=CREDENTIALS)
    versions = s3.admin().list_object_versions(Bucket=VERSIONED)["Versions"]
    assert run.archives[0]["s3_version_id"] == versions[0]["VersionId"]


def test_a_refused_store_keeps_the_archive_and_fails_the_run(action: Action, s3: S3Server) -> None:
    s3.refused_keys.add(ACCESS_KEY)
    run = action(inputs=s3_inputs(s3), env=CREDENTIALS)
    entry = run.archives[0]
    assert run.exit_code == 1
    assert (run.workspace / str(entry["path"])).is_file()
    assert entry["s3_uri"] is None and "403 Forbidden" in str(entry["error"])
    assert run.outputs["sha256"] == entry["sha256"]


def test_without_s3_the_summary_has_no_s3_column(action: Action) -> None:
    run = action()
    assert run.exit_code == 0 and "S3" not in run.summary


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"s3-uri": "https://bucket/x/{file}"}, "s3-uri"),
        ({"s3-uri": "s3://UPPER/x/{file}"}, "s3-uri"),
        ({"s3-uri": "s3://bucket/x/{nope}/{file}"}, "s3-uri"),
        ({"s3-uri": "s3://bucket/x/{project_id}.zip"}, "s3-uri"),
        ({"s3-uri": "s3://bucket/x/", "s3-endpoint-url": "http://example.com"}, "s3-endpoint-url"),
        ({"s3-uri": "s3://bucket/x/", "s3-region": "eu west"}, "s3-region"),
        ({"s3-endpoint-url": "https://s3.example.com"}, "s3-endpoint-url"),
    ],
)
def test_a_bad_s3_input_is_exit_2_naming_it_before_any_request(
    action: Action, s3: S3Server, inputs: dict[str, str], named: str
) -> None:
    run = action(inputs=inputs, env=CREDENTIALS)
    assert run.exit_code == 2 and f"Input '{named}'" in run.log
    assert s3.requests == [] and action.emulator.requests == []


def test_the_summary_shows_each_archive_s_object_in_an_s3_column(tmp_path: Path) -> None:
    stored = ArchiveResult(1, "main", None, path=tmp_path / "a.zip", sha256="ab", size=3)
    stored.s3_uri = f"s3://{BUCKET}/pc/1/main/a.zip"
    failed = ArchiveResult(2, "main", None, error="403")
    table = summary([stored, failed], tmp_path).splitlines()
    header, first, second = table[4], table[6], table[7]
    assert header.endswith("| Artifact | S3 |")
    assert first.split("|")[-2].strip() == f"` s3://{BUCKET}/pc/1/main/a.zip `"
    assert second.endswith("| - | - |")


def test_a_store_that_cannot_be_reached_is_tried_again_then_given_up(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    store = S3Store(endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1", env=CREDENTIALS)
    store.sleep = lambda seconds: None
    log: list[str] = []
    store.log = log.append
    with pytest.raises(S3Unavailable, match="could not be reached"):
        store.store(file_of(tmp_path, 10), f"s3://{BUCKET}/k.zip", metadata={}, deadline=FAR)
    assert sum("trying again" in line for line in log) == 4


def test_the_deadline_passing_between_parts_fails_the_upload_and_aborts_it(
    s3: S3Server, tmp_path: Path
) -> None:
    clock = itertools.count(1000.0, 1.0)  # every look at the clock is a second later
    store = make_store(s3, threshold=8 * MIB, part_size=5 * MIB, parallel=1)
    deadline = Deadline(1004.0, clock=lambda: float(next(clock)))
    with pytest.raises(S3Error, match="time ran out"):
        store.store(
            file_of(tmp_path, 16 * MIB), f"s3://{BUCKET}/late.zip", metadata={}, deadline=deadline
        )
    admin = s3.admin()
    assert len([p for p in s3.methods("PUT") if "partNumber=" in p]) < 4
    assert admin.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert not admin.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


def test_a_rerun_of_the_action_finds_its_archive_already_stored(
    action: Action, s3: S3Server
) -> None:
    inputs = {**s3_inputs(s3), "filename": "{project_id}-{branch}.zip"}
    first = action(inputs=inputs, env=CREDENTIALS)
    puts = len(s3.methods("PUT"))
    second = action(inputs=inputs, env=CREDENTIALS)
    assert first.exit_code == second.exit_code == 0
    assert first.outputs["sha256"] == second.outputs["sha256"]
    assert "already stored" in second.log and len(s3.methods("PUT")) == puts
    assert second.archives[0]["s3_uri"] == first.archives[0]["s3_uri"]


def test_a_dry_run_names_each_object_and_sends_nothing_to_the_store(
    action: Action, s3: S3Server
) -> None:
    run = action(inputs={**s3_inputs(s3), "dry-run": "true"}, env=CREDENTIALS)
    assert run.exit_code == 0, run.log
    assert f"s3://{BUCKET}/pc/{PROJECT}/main/{PROJECT}-main-" in run.log
    assert s3.requests == []


def test_a_stalled_store_is_left_when_the_archive_s_deadline_passes(tmp_path: Path) -> None:
    with socket.socket() as stalled:  # accepts connections (the backlog), never answers
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        store = S3Store(
            endpoint_url=f"http://127.0.0.1:{stalled.getsockname()[1]}",
            region="us-east-1",
            env=CREDENTIALS,
            sleep=lambda seconds: None,
        )
        started = time.monotonic()
        with pytest.raises((S3Error, S3Unavailable, TimedOut)):
            store.store(
                file_of(tmp_path, 3000),
                f"s3://{BUCKET}/stalled.zip",
                metadata={},
                deadline=Deadline.after(2.0),
            )
        took = time.monotonic() - started
    assert took < 10


def test_a_listing_that_repeats_its_page_is_refused_at_once() -> None:
    page = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>backups</Name><Prefix>pc/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
        b"<IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken>"
        b"</ListBucketResult>"
    )
    headers = [("Content-Type", "application/xml"), ("Connection", "close")]
    with ScriptedHost(lambda request: Reply(200, headers, page, close=True)) as host:
        store = S3Store(endpoint_url=host.origin, region="us-east-1", env=CREDENTIALS)
        with pytest.raises(S3Error, match="same page"):
            store.list("backups", "pc/", deadline=Deadline.after(5.0), limit=100_000)
    assert len(host.requests) == 2


def test_an_endpoint_url_with_credentials_is_refused_without_printing_them(
    action: Action,
) -> None:
    endpoint = "https://AKIAEXAMPLE:minio-secret-0123456789@minio.example"
    run = action(s3_uri="s3://bucket/x/{file}", s3_endpoint_url=endpoint, env=CREDENTIALS)
    assert run.exit_code == 2 and "Input 's3-endpoint-url'" in run.log
    assert "minio-secret-0123456789" not in run.log


class _Stop(BaseException):
    """What the CLI's SIGTERM handler raises (cli.Stopped)."""


def test_a_signal_during_a_multipart_upload_does_not_wait_for_the_parts_in_flight(
    s3: S3Server, tmp_path: Path
) -> None:
    archive = file_of(tmp_path, 11 * MIB)
    store = make_store(s3, threshold=8 * MIB, part_size=5 * MIB, parallel=3)
    s3.stall_parts = 20.0

    def stop(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(_Stop):
            store.store(archive, f"s3://{BUCKET}/stopped.zip", metadata={}, deadline=FAR)
        took = time.monotonic() - started
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
        s3.stall_parts = 0.0
    assert took < 6


def test_a_store_that_reports_no_checksum_is_not_called_verified(
    action: Action, s3: S3Server
) -> None:
    s3.hide_checksums = True
    run = action(inputs=s3_inputs(s3), env=CREDENTIALS)
    assert run.exit_code == 0, run.log
    assert "stored and verified" not in run.log
    assert "reports no SHA-256 checksum" in run.log
