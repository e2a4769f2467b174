"""``playcanvas-backup restore``: a backup made by the action, stored in the loopback S3
server (or an artifact from the GitHub double), comes back as a verified zip whose SHA-256
is the backup's ``sha256`` output; damage, a wrong key and bad input fail clearly."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyrage import x25519

from playcanvas_backup import cli, retries
from playcanvas_backup import restore as restore_module
from playcanvas_backup.encrypt import encrypt_archive, parse_recipients
from tests.conftest import PROJECT, Action, Run
from tests.emulator.archives import make_archive
from tests.github_artifacts import TOKEN, GitHubArtifacts
from tests.s3_server import BUCKET, CREDENTIALS, S3Server

AGE = shutil.which("age")
URI = f"s3://{BUCKET}/playcanvas/{{project_id}}/{{branch}}/"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def restore(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    retries.set_testing(True)
    try:
        status = cli.main(["restore", *args], {**CREDENTIALS, **(env or {})}, out=out, err=err)
    finally:
        retries.set_testing(False)
    return status, out.getvalue(), err.getvalue()


def back_up_to_s3(action: Action, s3: S3Server, **inputs: str) -> Run:
    given = {"s3_uri": URI, "s3_endpoint_url": s3.endpoint_url, "s3_region": "us-east-1"}
    run = action(inputs={**given, **inputs}, env=CREDENTIALS)
    assert run.exit_code == 0, run.log
    return run


def from_s3(s3: S3Server, output: Path, *more: str) -> tuple[int, str, str]:
    return restore(
        "--from", URI, "--project-id", str(PROJECT), "--s3-endpoint-url", s3.endpoint_url,
        "--s3-region", "us-east-1", "--output", str(output), *more,
    )  # fmt: skip


def test_a_backup_in_s3_is_restored_to_the_zip_of_the_sha256_output(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    run = back_up_to_s3(action, s3)
    status, out, err = from_s3(s3, tmp_path / "restored")
    restored = list((tmp_path / "restored").iterdir())
    assert status == 0, err
    assert [p.name for p in restored] == [Path(run.outputs["path"]).name]
    assert sha256_of(restored[0]) == run.outputs["sha256"]
    assert "Projects Dashboard" in out and "backup-and-export" in out


def test_an_encrypted_backup_in_s3_is_decrypted_with_the_identity(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    identity = x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(f"# created: today\n{identity}\n")
    run = back_up_to_s3(action, s3, encrypt_to=str(identity.to_public()))
    entry = run.archives[0]
    assert str(entry["s3_uri"]).endswith(".zip.age")
    status, _, err = from_s3(s3, tmp_path / "restored", "--identity", str(key))
    restored = list((tmp_path / "restored").iterdir())
    assert status == 0, err
    assert [p.name for p in restored] == [Path(str(entry["path"])).name.removesuffix(".age")]
    assert sha256_of(restored[0]) == run.outputs["sha256"]


@pytest.mark.skipif(AGE is None, reason="the age command-line tool is not installed")
def test_the_age_tool_decrypts_the_stored_object_to_the_same_zip(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    identity = x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(f"{identity}\n")
    run = back_up_to_s3(action, s3, encrypt_to=str(identity.to_public()))
    stored_key = str(run.archives[0]["s3_uri"]).removeprefix(f"s3://{BUCKET}/")
    encrypted = tmp_path / "object.age"
    encrypted.write_bytes(s3.admin().get_object(Bucket=BUCKET, Key=stored_key)["Body"].read())
    plain = tmp_path / "by-age.zip"
    subprocess.run([str(AGE), "-d", "-i", str(key), "-o", str(plain), str(encrypted)], check=True)
    assert sha256_of(plain) == run.outputs["sha256"]


def test_an_encrypted_backup_without_an_identity_fails_saying_what_to_give(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    back_up_to_s3(action, s3, encrypt_to=str(x25519.Identity.generate().to_public()))
    status, _, err = from_s3(s3, tmp_path / "restored")
    assert status == 1 and "--identity" in err
    assert list((tmp_path / "restored").iterdir()) == []


def test_a_wrong_identity_fails_and_leaves_nothing(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    back_up_to_s3(action, s3, encrypt_to=str(x25519.Identity.generate().to_public()))
    key = tmp_path / "other.txt"
    key.write_text(f"{x25519.Identity.generate()}\n")
    status, _, err = from_s3(s3, tmp_path / "restored", "--identity", str(key))
    assert status == 1 and "could not be decrypted" in err
    assert list((tmp_path / "restored").iterdir()) == []


def test_the_branch_asked_for_is_restored(action: Action, s3: S3Server, tmp_path: Path) -> None:
    run = back_up_to_s3(action, s3, all_branches="true")
    dev = next(a for a in run.archives if a["branch"] == "dev")
    status, _, err = from_s3(s3, tmp_path / "restored", "--branch", "dev")
    restored = list((tmp_path / "restored").iterdir())
    assert status == 0, err
    assert sha256_of(restored[0]) == dev["sha256"]


def test_a_damaged_object_is_refused(action: Action, s3: S3Server, tmp_path: Path) -> None:
    run = back_up_to_s3(action, s3)
    key = str(run.archives[0]["s3_uri"]).removeprefix(f"s3://{BUCKET}/")
    admin = s3.admin()
    head = admin.head_object(Bucket=BUCKET, Key=key)
    body = bytearray(admin.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[100] ^= 1  # the same size and recorded entry, other bytes (bit rot, a bad copy)
    admin.put_object(Bucket=BUCKET, Key=key, Body=bytes(body), Metadata=head["Metadata"])
    status, _, err = from_s3(s3, tmp_path / "restored")
    assert status == 1 and "damaged" in err
    assert list((tmp_path / "restored").iterdir()) == []


def test_a_sha256_that_is_not_the_backup_s_fails(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    back_up_to_s3(action, s3)
    status, _, err = from_s3(s3, tmp_path / "restored", "--sha256", "0" * 64)
    assert status == 1 and "--sha256" in err


def test_no_backup_of_the_project_fails_clearly(s3: S3Server, tmp_path: Path) -> None:
    status, _, err = from_s3(s3, tmp_path / "restored")
    assert status == 1 and f"No backup of project {PROJECT}" in err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--from", "https://bucket/x", "--project-id", "1"], "--from"),
        (["--from", "s3://Bad_Bucket/x/", "--project-id", "1"], "--from"),
        (["--from", URI, "--project-id", "abc"], "--project-id"),
        (["--from", URI, "--project-id", "1", "--date", "yesterday"], "--date"),
        (
            ["--from", URI, "--project-id", "1", "--s3-endpoint-url", "http://example.com"],
            "--s3-endpoint-url",
        ),
    ],
)
def test_bad_input_is_exit_2_naming_the_argument(args: list[str], named: str) -> None:
    status, _, err = restore(*args)
    assert status == 2 and f"'{named}'" in err


# -- from a repository's artifacts ---------------------------------------------------------


def test_an_artifact_is_restored_to_the_archive_it_holds(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "111111-main-20261206T000000Z.zip", size=200_000, label="a")
    older = make_archive(tmp_path / "111111-main-20261205T000000Z.zip", size=100_000, label="b")
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", older, created_at="2026-12-05T00:00:00Z")
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111", "--output",
            str(tmp_path / "restored"), "--sha256", sha256_of(archive),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
        assert github.blob_authorizations == [None]  # the token never reaches the blob host
    assert status == 0, err
    assert sha256_of(tmp_path / "restored" / archive.name) == sha256_of(archive)


def test_an_artifact_of_the_date_asked_for_is_restored(tmp_path: Path) -> None:
    first = make_archive(tmp_path / "first.zip", size=50_000, label="a")
    second = make_archive(tmp_path / "second.zip", size=50_000, label="b")
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", first, created_at="2026-12-05T03:00:00Z")
        github.add("playcanvas-111111-main", second, created_at="2026-12-06T03:00:00Z")
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111", "--date", "2026-12-05",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 0, err
    assert [p.name for p in (tmp_path / "restored").iterdir()] == ["first.zip"]


def test_an_artifact_that_is_not_what_github_recorded_is_refused(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    with GitHubArtifacts() as github:
        github.add(
            "playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z", digest="ab" * 32
        )
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 1 and "damaged" in err
    assert list((tmp_path / "restored").iterdir()) == []


def test_an_artifact_restore_without_a_token_is_an_input_error_saying_which_to_give(
    tmp_path: Path,
) -> None:
    status, _, err = restore(
        "--from", "github:octo/game", "--project-id", "1", "--output", str(tmp_path)
    )
    assert status == 2 and "'--github-token'" in err and "GITHUB_TOKEN" in err


def test_a_refused_token_is_reported_with_github_s_answer(tmp_path: Path) -> None:
    with GitHubArtifacts() as github:
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "1", "--output", str(tmp_path),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": "wrong-token"},
        )  # fmt: skip
    assert status == 1 and "401" in err and "Bad credentials" in err
    assert "wrong-token" not in err


def test_restore_help_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["restore", "--help"], {})
    assert "--identity" in capsys.readouterr().out


def test_archives_output_of_an_s3_backup_names_the_objects(action: Action, s3: S3Server) -> None:
    run = back_up_to_s3(action, s3)
    entry = json.loads(run.outputs["archives"])[0]
    assert (
        entry["s3_uri"]
        == f"s3://{BUCKET}/playcanvas/{PROJECT}/main/{Path(run.outputs['path']).name}"
    )
    assert entry["s3_version_id"] is None


def test_an_encrypted_artifact_is_decrypted_with_an_ssh_key(tmp_path: Path) -> None:
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        pytest.skip("ssh-keygen is not installed")
    key = tmp_path / "id_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    archive = make_archive(tmp_path / "111111-main.zip", size=80_000, label="a")
    copy = Path(shutil.copy(archive, tmp_path / "copy.zip"))  # encrypting removes it
    sealed = encrypt_archive(copy, parse_recipients(Path(f"{key}.pub").read_text()))
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", sealed.path, created_at="2026-12-06T00:00:00Z")
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111", "--identity", str(key),
            "--output", str(tmp_path / "restored"), "--sha256", sha256_of(archive),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 0, err
    assert sha256_of(tmp_path / "restored" / "copy.zip") == sha256_of(archive)


def test_a_netrc_entry_adds_no_credentials_to_the_signed_artifact_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login runner password netrc-secret-000\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text(netrc.read_text())
    (tmp_path / ".netrc").chmod(0o600)
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
        assert github.blob_authorizations == [None]
    assert status == 0, err


def test_github_s_texts_are_cleaned_where_restore_prints_them(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    with GitHubArtifacts() as github:
        github.add(
            "playcanvas-111111-main",
            archive,
            created_at="2026-12-06T00:00:00Z\x1b[2J\n::error title=forged::restored elsewhere",
        )
        status, out, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 0, err
    assert "\x1b" not in out + err
    assert not any(line.lstrip().startswith("::") for line in (out + err).splitlines())


def test_a_stalled_artifact_download_fails_within_the_restore_s_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_module, "TIMEOUT", 2.0)
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        github.blob_stall = 30.0
        started = time.monotonic()
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
        took = time.monotonic() - started
    assert status == 1 and "did not finish" in err, err
    assert took < 10
    assert list((tmp_path / "restored").iterdir()) == []


def test_an_unreachable_github_api_is_a_failure_with_a_message(tmp_path: Path) -> None:
    with GitHubArtifacts() as github:
        api_url = github.api_url  # closed when the block ends: nothing listens there
    status, _, err = restore(
        "--from", "github:octo/game", "--project-id", "111111",
        "--output", str(tmp_path / "restored"),
        env={"GITHUB_API_URL": api_url, "GITHUB_TOKEN": TOKEN},
    )  # fmt: skip
    assert status == 1 and "could not be reached" in err, err
    assert TOKEN not in err


def test_an_object_s_hostile_key_is_cleaned_where_restore_prints_it(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    run = back_up_to_s3(action, s3)
    key = str(run.archives[0]["s3_uri"]).removeprefix(f"s3://{BUCKET}/")
    admin = s3.admin()
    head = admin.head_object(Bucket=BUCKET, Key=key)
    body = admin.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    hostile = key.rsplit("/", 1)[0] + "/##[error]forged\u202egpj.zip"
    time.sleep(1.1)  # newer than the backup's own object
    admin.put_object(Bucket=BUCKET, Key=hostile, Body=body, Metadata=head["Metadata"])

    status, out, err = from_s3(s3, tmp_path / "restored")

    assert status == 0, err
    assert "##[" not in out + err and "\u202e" not in out + err


def test_the_restored_zip_is_on_disk_before_it_gets_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash right after the rename must not leave an empty zip under the final name:
    the part file is fsynced before it is renamed."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str | Path, target: str | Path) -> None:
        events.append(("replace", str(source)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 0, err
    renamed = [path for kind, path in events if kind == "replace"]
    assert len(renamed) == 1
    assert events.index(("fsync", renamed[0])) < events.index(("replace", renamed[0]))


def test_an_endpoint_url_with_credentials_is_refused_without_printing_them(
    tmp_path: Path,
) -> None:
    status, out, err = restore(
        "--from", "s3://bucket/x/", "--project-id", "1", "--output", str(tmp_path),
        "--s3-endpoint-url", "https://AKIAEXAMPLE:minio-secret-0123456789@minio.example",
    )  # fmt: skip
    assert status == 2 and "'--s3-endpoint-url'" in err
    assert "minio-secret-0123456789" not in out + err


def test_progress_goes_to_stderr_and_stdout_holds_only_the_restored_zip(
    action: Action, s3: S3Server, tmp_path: Path
) -> None:
    back_up_to_s3(action, s3)
    status, out, err = from_s3(s3, tmp_path / "restored")
    assert status == 0, err
    (restored,) = (tmp_path / "restored").iterdir()
    assert out.splitlines()[0].startswith(f"Restored {restored} (")
    assert out.splitlines()[1].startswith("Next: ")
    assert len(out.splitlines()) == 2
    assert "fetched s3://" in err and "checked " in err


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'{"artifacts": {"id": 1}}', b'{"artifacts": [7, "x"]}', b"<html>"]
)
def test_an_artifact_list_that_is_not_one_is_a_failure_with_a_message(
    tmp_path: Path, body: bytes
) -> None:
    with GitHubArtifacts() as github:
        github.listing_body = body
        status, _, err = restore(
            "--from", "github:octo/game", "--project-id", "111111",
            "--output", str(tmp_path / "restored"),
            env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
        )  # fmt: skip
    assert status == 1 and "error: " in err, err
    assert "Traceback" not in err


def test_a_restore_that_cannot_write_its_zip_fails_with_one_line_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    archive = make_archive(tmp_path / "a.zip", size=200_000, label="a")
    output = tmp_path / "restored"

    def small_files() -> None:  # the disk "fills up" at 64 KiB a file (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        done = subprocess.run(
            [sys.executable, "-m", "playcanvas_backup", "restore", "--from", "github:octo/game",
             "--project-id", "111111", "--output", str(output)],
            env={**os.environ, "GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
            capture_output=True, text=True, preexec_fn=small_files, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "error: " in done.stderr
    assert list(output.iterdir()) == []


def test_sigterm_during_a_restore_exits_143_and_leaves_nothing_in_the_output(
    tmp_path: Path,
) -> None:
    archive = make_archive(tmp_path / "a.zip", size=50_000, label="a")
    output = tmp_path / "restored"
    with GitHubArtifacts() as github:
        github.add("playcanvas-111111-main", archive, created_at="2026-12-06T00:00:00Z")
        github.blob_stall = 30.0
        process = subprocess.Popen(
            [sys.executable, "-m", "playcanvas_backup", "restore", "--from", "github:octo/game",
             "--project-id", "111111", "--output", str(output)],
            env={**os.environ, "GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not github.blob_authorizations and time.monotonic() < deadline:
            time.sleep(0.05)  # until the download has started
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 143, err
    assert list(output.iterdir()) == []
