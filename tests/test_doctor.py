"""``playcanvas-backup doctor`` against the emulator, as PlayCanvas answers (the default)
and as it documents (the switch), and with a wrong token; its report holds no secret."""

from __future__ import annotations

import re

import pytest
from ruamel.yaml import YAML

from playcanvas_backup import cli, doctor
from playcanvas_backup.errors import InputError
from tests.conftest import OTHER_PROJECT, PROJECT, ROOT, Action
from tests.emulator import Emulator

ORG = 700001


def routes(emulator: Emulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.api_requests()]


# -- the token's reach --------------------------------------------------------------------------


def test_as_playcanvas_answers_a_backup_by_id_can_run_without_names(
    action: Action, emulator: Emulator
) -> None:
    run = action("doctor", github=False)

    assert run.exit_code == 0, run.log
    assert re.search(rf"yes +GET /projects/{PROJECT}/branches +3 open branches", run.stdout)
    assert re.search(rf'no +GET /projects/{PROJECT} +answered 401 "Token does not have', run.stdout)
    assert "by id: yes" in run.stdout and "names: no" in run.stdout
    assert "Verdict: the configured backup can run (exit 0)." in run.stdout


def test_with_project_name_in_the_file_name_it_says_files_use_the_id(action: Action) -> None:
    run = action("doctor", github=False, filename="{project_name}.zip")

    assert run.exit_code == 0, run.log
    assert "names: no, files use the id" in run.stdout


def test_as_documented_names_are_available(action: Action, emulator: Emulator) -> None:
    emulator.faults.documented = True
    run = action("doctor", github=False, filename="{project_name}.zip")

    assert run.exit_code == 0, run.log
    assert re.search(rf"yes +GET /projects/{PROJECT} ", run.stdout)
    assert "names: yes" in run.stdout


def test_a_wrong_token_cannot_run(action: Action, emulator: Emulator) -> None:
    run = action("doctor", github=False, access_token="wrong-token")

    assert run.exit_code == 1
    assert f'by id: no: project {PROJECT} answered 401 "Unauthorized"' in run.stdout
    assert "refused the token" in run.stdout and "cannot run" in run.stdout


def test_the_plan_s_limits_are_reported(action: Action) -> None:
    run = action("doctor", github=False)

    assert "Rate limits: normal 120 a minute, strict 5 a minute (the free plan)" in run.stdout


def test_asks_only_normal_limit_routes_without_export(action: Action, emulator: Emulator) -> None:
    run = action("doctor", github=False, project_id=f"{PROJECT} {OTHER_PROJECT}")

    assert run.exit_code == 0, run.log
    assert routes(emulator) == [
        f"GET /api/projects/{PROJECT}/branches",
        f"GET /api/projects/{OTHER_PROJECT}/branches",
        f"GET /api/projects/{PROJECT}",
        "GET /api/ratelimits",
    ]


def test_export_starts_one_export_and_looks_at_its_job_once(
    action: Action, emulator: Emulator
) -> None:
    run = action("doctor", "--export", github=False, project_id=f"{PROJECT} {OTHER_PROJECT}")

    assert run.exit_code == 0, run.log
    assert len(emulator.api_requests("POST", "/export")) == 1
    assert len(emulator.api_requests("GET", "/jobs/")) == 1
    assert "by id: yes" in run.stdout and "X-Amz-Signature" not in run.log
    assert emulator.downloads() == []


def test_an_export_refused_by_the_plan_cannot_run(action: Action, emulator: Emulator) -> None:
    emulator.faults.export_status = 403
    run = action("doctor", "--export", github=False)

    assert run.exit_code == 1
    assert 'by id: no: 403 "Invalid plan"' in run.stdout


def test_discovery_is_yes_when_the_account_lists_its_projects(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_organization(ORG, {710001: "Racing", 710002: "Demo"})
    run = action("doctor", github=False, project_id="", user_id=str(ORG))

    assert run.exit_code == 0, run.log
    assert f"discovery: yes, user-id {ORG} lists 2 projects" in run.stdout
    assert "GET /api/projects/710001/branches" in routes(emulator)


def test_a_refused_listing_cannot_run_and_points_at_project_id(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_organization(ORG, {710001: "Racing"})
    emulator.faults.listing_unauthorized = True
    run = action("doctor", github=False, user_id=str(ORG))

    assert run.exit_code == 1
    assert "discovery: no, name the projects in project-id instead" in run.stdout
    assert "by id: yes" in run.stdout  # the project-id still answers


def test_an_unknown_branch_cannot_run(action: Action) -> None:
    run = action("doctor", github=False, branch="nope")

    assert run.exit_code == 1
    assert "branch: Project 111111 has no open branch named or with the id 'nope'" in run.stdout


def test_an_invalid_input_exits_2_before_any_request(action: Action, emulator: Emulator) -> None:
    run = action("doctor", github=False, project_id="abc")

    assert run.exit_code == 2 and "project-id" in run.log
    assert emulator.requests == []


# -- its flags are the backup's -----------------------------------------------------------------


def test_a_bare_boolean_flag_means_true_for_the_doctor_as_for_the_backup(action: Action) -> None:
    run = action("doctor", "--all-branches", "--no-verify", github=False)

    assert run.exit_code == 0, run.log
    assert "Verdict: the configured backup can run (exit 0)." in run.stdout


def test_the_doctor_s_help_explains_each_input_flag() -> None:
    text = " ".join(doctor.build_parser().format_help().split())

    assert "--all-branches [true|false]" in text
    assert "Export every open branch of each project." in text
    assert "PlayCanvas API token (or set PLAYCANVAS_ACCESS_TOKEN)." in text


# -- nothing secret -------------------------------------------------------------------------------


def test_the_report_holds_neither_the_token_nor_anything_like_it(
    action: Action, emulator: Emulator
) -> None:
    emulator.token = "Zq8" * 10 + "x9"  # 32 characters, as PlayCanvas's tokens
    emulator.hostile.error_status, emulator.hostile.error_count = 403, 1
    emulator.hostile.error_text = "token {token} may not do this"
    run = action("doctor", github=False, access_token=emulator.token)

    assert emulator.token not in run.log
    assert not re.search(r"[A-Za-z0-9]{20,}", run.log), run.log
    assert "token *** may not do this" in run.stdout


def test_in_actions_the_token_is_masked_first_and_the_report_goes_to_the_summary(
    action: Action, emulator: Emulator
) -> None:
    run = action("doctor")

    assert run.stdout.splitlines()[0] == f"::add-mask::{emulator.token}"
    assert emulator.token not in run.log.replace(f"::add-mask::{emulator.token}", "")
    assert "### PlayCanvas backup doctor" in run.summary and "Verdict:" in run.summary


# -- asked for without a command line (the action's container) ----------------------------------


def test_the_command_variable_runs_the_doctor_with_the_action_s_inputs(
    action: Action, emulator: Emulator
) -> None:
    run = action(env={"PLAYCANVAS_BACKUP_COMMAND": "doctor"})

    assert run.exit_code == 0, run.log
    assert "Verdict: the configured backup can run" in run.stdout
    assert emulator.api_requests("POST") == []


def test_a_with_key_that_is_no_input_is_warned_about_by_the_doctor_too(action: Action) -> None:
    run = action(env={"PLAYCANVAS_BACKUP_COMMAND": "doctor", "INPUT_ALL-BRANCH": "true"})

    assert run.exit_code == 0, run.log
    assert (
        "::warning title=Unknown input::`all-branch` is not an input; "
        "did you mean `all-branches`? It is ignored."
    ) in run.stdout.splitlines()


def test_the_command_variable_takes_the_doctor_s_flags(action: Action, emulator: Emulator) -> None:
    run = action(env={"PLAYCANVAS_BACKUP_COMMAND": "doctor --export"})

    assert run.exit_code == 0, run.log
    assert len(emulator.api_requests("POST", "/export")) == 1


def test_a_command_variable_that_is_not_a_command_is_an_input_error(
    action: Action, emulator: Emulator
) -> None:
    run = action(env={"PLAYCANVAS_BACKUP_COMMAND": "docter"})

    assert run.exit_code == 2 and "PLAYCANVAS_BACKUP_COMMAND" in run.log
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["doctor", "--export"], {}, ["--export"]),
        ([], {"PLAYCANVAS_BACKUP_COMMAND": " doctor "}, []),
        (
            ["--project-id", "5"],
            {"PLAYCANVAS_BACKUP_COMMAND": "doctor --export"},
            ["--export", "--project-id", "5"],
        ),
        (["--project-id", "5"], {}, None),
        ([], {"PLAYCANVAS_BACKUP_COMMAND": ""}, None),
    ],
)
def test_wanted_reads_the_command_line_then_the_variable(
    argv: list[str], env: dict[str, str], expected: list[str] | None
) -> None:
    assert doctor.wanted(argv, env) == expected


@pytest.mark.parametrize("value", ["restore", "doctor'", "--export"])
def test_wanted_refuses_a_variable_that_is_not_the_doctor(value: str) -> None:
    with pytest.raises(InputError, match="PLAYCANVAS_BACKUP_COMMAND"):
        doctor.wanted([], {"PLAYCANVAS_BACKUP_COMMAND": value})


def test_the_readme_s_workflow_recipe_runs_the_doctor(action: Action, emulator: Emulator) -> None:
    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M) if "doctor" in b]
    (step,) = YAML(typ="safe").load(block)["jobs"]["doctor"]["steps"]
    inputs = {name: str(value) for name, value in step["with"].items()}
    emulator.add_organization(int(inputs["user-id"]), {int(inputs["project-id"]): "Space Rally"})
    # As the runner runs the step: its env, and each input as INPUT_<NAME>.
    inputs["access-token"] = emulator.token
    run = action(env=step["env"], inputs=inputs)

    assert run.exit_code == 0, run.log
    assert "Verdict: the configured backup can run" in run.stdout
    assert emulator.api_requests("POST") == []


def test_a_hostile_branch_name_cannot_break_out_of_the_summary_s_code_block(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_project(333, branches=("main", "```\n# pwned\n::error::x"))
    run = action("doctor", project_id="333", branch="nope")

    assert run.exit_code == 1
    assert run.summary.count("```") == 2
    assert "\n# pwned" not in run.summary and "\n::error::x" not in run.stdout


# -- its command line ---------------------------------------------------------------------------


def test_a_bare_boolean_flag_is_true_for_the_doctor_too(action: Action) -> None:
    run = action("doctor", "--all-branches", "--no-verify", github=False)

    assert run.exit_code == 0, run.log
    assert "Verdict: the configured backup can run (exit 0)." in run.stdout


def test_a_bare_boolean_flag_before_the_doctor_word_runs_the_doctor(action: Action) -> None:
    run = action("--all-branches", "doctor", github=False)

    assert run.exit_code == 0, run.log
    assert "Verdict: the configured backup can run (exit 0)." in run.stdout


def test_the_main_help_names_both_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"], {})
    shown = " ".join(capsys.readouterr().out.split())
    assert "playcanvas-backup doctor --help" in shown
    assert "playcanvas-backup restore --help" in shown
