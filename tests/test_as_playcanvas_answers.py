"""Issue 15 through the real entrypoint, against the emulator's default (PlayCanvas as it
answers: project details refused to every API token): a backup by id needs only the
export, job and branch routes; names are best effort; a run that saved nothing exits 1."""

from __future__ import annotations

import json

from pyrage import decrypt, x25519

from tests.conftest import OTHER_PROJECT, PROJECT, Action
from tests.emulator import Emulator

ORG = 700001


def lookups(emulator: Emulator) -> list[str]:
    """The lookup requests sent: project details and account listings."""
    return [
        r.path
        for r in emulator.api_requests("GET")
        if r.path.startswith("/api/users/")
        or (r.path.startswith("/api/projects/") and r.path.count("/") == 3)
    ]


def errors(run_log: str) -> list[str]:
    return [line for line in run_log.splitlines() if line.startswith("::error")]


# -- a backup by id ---------------------------------------------------------------------------


def test_several_projects_with_all_branches_back_up_without_a_lookup(
    action: Action, emulator: Emulator
) -> None:
    run = action(project_id=f"{PROJECT} {OTHER_PROJECT}", all_branches="true")

    assert run.exit_code == 0, run.log
    assert [(a["project_id"], a["branch"]) for a in run.archives] == [
        (PROJECT, "dev"),
        (PROJECT, "feature/physics"),
        (PROJECT, "main"),
        (OTHER_PROJECT, "main"),
    ]
    assert all(a["sha256"] and a["project_name"] is None for a in run.archives)
    assert lookups(emulator) == []


def test_a_branch_by_name_backs_up_without_a_lookup(action: Action, emulator: Emulator) -> None:
    run = action(branch="feature/physics")

    assert run.exit_code == 0, run.log
    assert run.archives[0]["branch"] == "feature/physics" and run.archives[0]["sha256"]
    assert lookups(emulator) == []


def test_the_project_name_falls_back_to_the_id_after_one_refused_lookup(
    action: Action, emulator: Emulator
) -> None:
    run = action(
        project_id=f"{PROJECT} {OTHER_PROJECT}", filename="{project_name}-{project_id}-{branch}.zip"
    )

    assert run.exit_code == 0, run.log
    assert run.files() == [
        f"{PROJECT}-{PROJECT}-main.zip",
        f"{OTHER_PROJECT}-{OTHER_PROJECT}-main.zip",
    ]
    assert [a["project_name"] for a in run.archives] == [None, None]
    # One lookup for the run, not one per project; said once, as a warning.
    assert lookups(emulator) == [f"/api/projects/{PROJECT}"]
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1
    assert '401 "Token does not have required scope"' in warnings[0]
    assert "{project_name} is the project id" in warnings[0]
    assert errors(run.stdout) == []


def test_an_encrypted_backup_named_by_project_name_decrypts_to_its_sha256(
    action: Action, emulator: Emulator
) -> None:
    key = x25519.Identity.generate()
    run = action(filename="{project_name}-{branch}.zip", encrypt_to=str(key.to_public()))

    assert run.exit_code == 0, run.log
    assert run.files() == [f"{PROJECT}-main.zip.age"]
    plaintext = decrypt((run.workspace / run.outputs["path"]).read_bytes(), [key])
    assert json.loads(run.outputs["archives"])[0]["sha256"] == run.outputs["sha256"]
    assert len(plaintext) == int(run.outputs["size"])


def test_an_exclude_pattern_does_not_leave_out_a_project_whose_name_is_unknown(
    action: Action, emulator: Emulator
) -> None:
    run = action(exclude="*")

    assert run.exit_code == 0, run.log
    assert json.loads(run.outputs["projects"]) == [PROJECT]


def test_a_wrong_token_still_stops_at_the_export(action: Action, emulator: Emulator) -> None:
    run = action(access_token="wrong-token", filename="{project_name}-{branch}.zip")

    assert run.exit_code == 1
    assert "refused the token" in run.log
    assert len(emulator.api_requests("POST", "/export")) == 1


# -- user-id when the listing is refused ---------------------------------------------------------


def test_a_listing_refused_for_scope_fails_with_the_reason_and_the_way_out(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_organization(ORG, {710001: "Racing game"})
    emulator.faults.listing_unauthorized = True
    run = action(project_id="", user_id=str(ORG))

    assert run.exit_code == 1
    (error,) = errors(run.stdout)
    assert '401 "Token does not have required scope"' in error and "project-id" in error
    assert run.outputs["projects"] == "[]" and run.outputs["archives"] == "[]"
    assert "Token does not have required scope" in run.summary
    assert emulator.api_requests("POST") == []


def test_a_forbidden_listing_fails_the_run(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(ORG, {710001: "Racing game"})
    emulator.faults.listing_forbidden = True
    run = action(project_id="", user_id=str(ORG))

    assert run.exit_code == 1
    assert '403 "Forbidden"' in run.log and "project-id" in run.log


def test_a_wrong_token_with_user_id_fails_the_run(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(ORG, {710001: "Racing game"})
    run = action(project_id="", user_id=str(ORG), access_token="wrong-token")

    assert run.exit_code == 1
    assert '401 "Unauthorized"' in run.log and "access-token" in run.log
    assert run.outputs["archives"] == "[]" and run.summary


# -- never green when nothing was saved ---------------------------------------------------------


def test_an_empty_listing_fails_the_run(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(ORG, {})
    run = action(project_id="", user_id=str(ORG))

    assert run.exit_code == 1
    assert "lists 0 projects" in run.log
    (error,) = errors(run.stdout)
    assert "No archive was saved" in error and "no project to back up" in error
    assert "No archive was saved" in run.summary and run.outputs["archives"] == "[]"


def test_exclude_leaving_nothing_fails_the_run(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(ORG, {710001: "Racing game", 710002: "Racing demo"})
    run = action(project_id="", user_id=str(ORG), exclude="racing*")

    assert run.exit_code == 1
    assert "exclude left out every project (2)" in run.log
    assert "Left out by `exclude`" in run.summary


def test_a_dry_run_that_plans_nothing_succeeds(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(ORG, {710001: "Racing game"})
    run = action(project_id="", user_id=str(ORG), exclude="racing*", dry_run="true")

    assert run.exit_code == 0, run.log
    assert errors(run.stdout) == []


def test_every_archive_failing_fails_the_run(action: Action, emulator: Emulator) -> None:
    emulator.faults.job_error = "Archive too large"
    run = action(project_id=f"{PROJECT} {OTHER_PROJECT}")

    assert run.exit_code == 1
    assert [a["error"] is not None for a in run.archives] == [True, True]


def test_a_refused_token_fails_the_run(action: Action, emulator: Emulator) -> None:
    run = action(access_token="wrong-token")

    assert run.exit_code == 1
    assert run.archives[0]["error"] is not None and run.archives[0]["sha256"] is None


# -- the documented behaviour, where tests need project details -----------------------------------


def test_with_documented_details_a_name_is_read_once_per_project(
    action: Action, emulator: Emulator
) -> None:
    emulator.faults.documented = True
    run = action(
        project_id=f"{PROJECT} {OTHER_PROJECT}", filename="{project_name}-{project_id}.zip"
    )

    assert run.exit_code == 0, run.log
    assert [a["project_name"] for a in run.archives] == [
        f"Project {PROJECT}",
        f"Project {OTHER_PROJECT}",
    ]
    assert lookups(emulator) == [f"/api/projects/{PROJECT}", f"/api/projects/{OTHER_PROJECT}"]


def test_with_documented_details_a_missing_project_costs_no_export(
    action: Action, emulator: Emulator
) -> None:
    emulator.faults.documented = True
    run = action(project_id="999", filename="{project_name}.zip")

    assert run.exit_code == 1
    assert '404 "Project not found"' in run.log
    assert emulator.api_requests("POST") == []
