"""Issue 11 through the real entrypoint: every project of an account (``user-id``) less
``exclude``, ``{project_name}``, ``dry-run`` and its ``projects`` output, ``encrypt-to``."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from pyrage import decrypt, x25519

from tests.artifact_service import runtime_token
from tests.conftest import Action
from tests.emulator import Emulator
from tests.test_encrypt import age_decrypt, needs_age

ORG = 700001
ORG_PROJECTS = {710001: "Racing game", 710002: "Sandbox (tests)", 710003: "テスト プロジェクト"}


@pytest.fixture
def org(emulator: Emulator) -> Emulator:
    emulator.add_organization(ORG, ORG_PROJECTS, archive_size=4096)
    return emulator


def exported(emulator: Emulator) -> list[int]:
    return sorted(int(r.path.split("/")[3]) for r in emulator.api_requests("POST", "/export"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_backs_up_every_project_of_the_account_less_the_excluded(
    action: Action, org: Emulator
) -> None:
    run = action(project_id="", user_id=str(ORG), exclude="sandbox*")

    assert run.exit_code == 0, run.log
    assert exported(org) == [710001, 710003]
    assert json.loads(run.outputs["projects"]) == [710001, 710003]
    assert [a["project_name"] for a in run.archives] == ["Racing game", "テスト プロジェクト"]
    assert "project 710002" in run.log and "left out" in run.log
    assert "Left out by `exclude`" in run.summary and "710002" in run.summary
    assert f"owner_id {ORG}" in run.log


def test_an_exclude_pattern_that_matched_no_project_is_a_warning_naming_it(
    action: Action, org: Emulator
) -> None:
    run = action(project_id="", user_id=str(ORG), exclude="sandbox*, sandbx*, 999")

    assert run.exit_code == 0, run.log
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 2, run.stdout
    assert "'999' matched no project" in warnings[0]
    assert "'sandbx*' matched no project" in warnings[1]


def test_project_ids_and_the_account_together_count_each_project_once(
    action: Action, org: Emulator
) -> None:
    run = action(project_id="710002", user_id=str(ORG))

    assert run.exit_code == 0, run.log
    assert json.loads(run.outputs["projects"]) == [710002, 710001, 710003]
    assert exported(org) == [710001, 710002, 710003]


def test_an_unknown_account_fails_the_run_with_a_clear_message(
    action: Action, org: Emulator
) -> None:
    run = action(project_id="", user_id="123456789")

    assert run.exit_code == 1
    assert "User not found" in run.log and "user-id" in run.log
    assert org.api_requests("POST") == []


def test_the_project_name_is_a_template_field(action: Action, org: Emulator) -> None:
    org.faults.documented = True  # project details answered, as documented
    run = action(project_id="710003", filename="{project_name}-{branch}.zip")

    assert run.exit_code == 0, run.log
    assert run.outputs["path"] == "playcanvas-backups/テスト プロジェクト-main.zip"
    assert run.archives[0]["project_name"] == "テスト プロジェクト"


def test_a_listed_project_s_name_needs_no_project_details(action: Action, org: Emulator) -> None:
    run = action(project_id="710003", user_id=str(ORG), filename="{project_name}-{project_id}.zip")

    assert run.exit_code == 0, run.log
    assert "テスト プロジェクト-710003.zip" in run.files()
    assert org.api_requests("GET", "/projects/710003") == []


def test_a_dry_run_plans_without_exporting(action: Action, org: Emulator) -> None:
    run = action(project_id="", user_id=str(ORG), exclude="710001", dry_run="true")

    assert run.exit_code == 0, run.log
    assert org.api_requests("POST") == [] and org.downloads() == []
    assert json.loads(run.outputs["projects"]) == [710002, 710003]
    assert [a["path"] for a in run.archives] == [None, None]
    assert "would be saved as 710002-main-" in run.log
    assert "Dry run: 2 archives planned, nothing exported." in run.summary
    assert run.files() == []


@pytest.fixture
def identity(tmp_path: Path) -> tuple[x25519.Identity, Path]:
    key = x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(str(key) + "\n")
    return key, key_file


def test_an_encrypted_archive_decrypts_to_the_sha256_output(
    action: Action, emulator: Emulator, identity: tuple[x25519.Identity, Path]
) -> None:
    key, _ = identity
    run = action(encrypt_to=str(key.to_public()))

    assert run.exit_code == 0, run.log
    path = run.workspace / run.outputs["path"]
    assert path.name.endswith(".zip.age") and run.files() == [path.name]
    encrypted = path.read_bytes()
    assert run.outputs["encrypted-sha256"] == sha256(encrypted)
    assert run.outputs["encrypted-size"] == str(len(encrypted))
    plaintext = decrypt(encrypted, [key])
    assert run.outputs["sha256"] == sha256(plaintext) and run.outputs["size"] == str(len(plaintext))
    branch_id = emulator._projects[111111].branches[0]["id"]
    assert plaintext == emulator.archive_path(111111, branch_id).read_bytes()


@needs_age
def test_the_age_tool_decrypts_what_the_action_encrypted(
    action: Action, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, key_file = identity
    run = action(encrypt_to=str(key.to_public()))

    assert run.exit_code == 0, run.log
    out = tmp_path / "restored.zip"
    age_decrypt(run.workspace / run.outputs["path"], key_file, out)
    assert sha256(out.read_bytes()) == run.outputs["sha256"]
    with zipfile.ZipFile(out) as restored:
        assert restored.testzip() is None


def test_with_encryption_a_public_repository_may_upload(
    action: Action, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    event = tmp_path / "public-event.json"
    event.write_text(json.dumps({"repository": {"private": False, "visibility": "public"}}))
    key, _ = identity
    public = {"GITHUB_EVENT_PATH": str(event), "ACTIONS_RUNTIME_TOKEN": runtime_token()}
    public["ACTIONS_RESULTS_URL"] = "http://127.0.0.1:9/"  # never reached: dry run

    refused = action(upload_artifact="true", dry_run="true", env=public)
    allowed = action(
        upload_artifact="true", dry_run="true", encrypt_to=str(key.to_public()), env=public
    )

    assert refused.exit_code == 2 and "public" in refused.log
    assert allowed.exit_code == 0, allowed.log
