"""Inputs: read from flags and the runner's variables, validated before any request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playcanvas_backup.config import INPUTS, Settings, load, raw_inputs, unknown_inputs
from playcanvas_backup.errors import InputError
from playcanvas_backup.http import Network
from tests.artifact_service import PRIVATE_EVENT

TOKEN = "pc-test-token-0123456789abcdef0"


def settings(env: dict[str, str] | None = None, /, **inputs: str) -> Settings:
    given = {
        "access-token": TOKEN,
        "project-id": "1",
        **{k.replace("_", "-"): v for k, v in inputs.items()},
    }
    return load({k: v for k, v in given.items() if v}, env or {}, cwd=Path("/work"))


def rejected(env: dict[str, str] | None = None, /, **inputs: str) -> InputError:
    with pytest.raises(InputError) as failure:
        settings(env, **inputs)
    return failure.value


def test_reads_hyphenated_runner_variables_first() -> None:
    env = {"INPUT_PROJECT-ID": "5", "INPUT_PROJECT_ID": "6", "INPUT_ACCESS-TOKEN": "t"}
    assert raw_inputs(env, {})["project-id"] == "5"


def test_accepts_the_underscore_spelling() -> None:
    assert raw_inputs({"INPUT_PROJECT_ID": "6"}, {})["project-id"] == "6"


def test_a_flag_wins_over_the_environment() -> None:
    assert raw_inputs({"INPUT_PROJECT-ID": "5"}, {"project-id": "7"})["project-id"] == "7"


def test_empty_counts_as_not_given() -> None:
    given = raw_inputs({"INPUT_TIMEOUT": "", "INPUT_ACCESS-TOKEN": " "}, {})
    assert "timeout" not in given and "access-token" not in given


def test_the_token_may_come_from_playcanvas_access_token() -> None:
    assert raw_inputs({"PLAYCANVAS_ACCESS_TOKEN": "pat"}, {})["access-token"] == "pat"


def test_defaults() -> None:
    s = settings()
    assert s.project_ids == (1,)
    assert s.branch is None and not s.all_branches
    assert s.output_dir == Path("/work/playcanvas-backups")
    assert (s.timeout, s.poll_interval, s.max_poll_interval) == (3600, 2, 30)
    assert s.verify and not s.upload_artifact and not s.overwrite
    assert s.retention_days is None
    assert s.api_url == "https://playcanvas.com/api"


@pytest.mark.parametrize("text", ["1,2,3", "1 2 3", "1\n2\n3", " 1, 2\n3 ", "1,2,2,3"])
def test_project_ids_split_on_commas_spaces_and_newlines(text: str) -> None:
    assert settings(
        project_id=text, filename="{project_id}.zip", artifact_name="a-{project_id}"
    ).project_ids == (1, 2, 3)


@pytest.mark.parametrize("text", ["abc", "12a", "-3", "0", "1;2"])
def test_rejects_a_project_id_that_is_not_a_number(text: str) -> None:
    assert rejected(project_id=text).input_name == "project-id"


def test_requires_a_token_and_says_where_to_get_one() -> None:
    error = rejected(access_token="")
    assert error.input_name == "access-token" and "PLAYCANVAS_ACCESS_TOKEN" in str(error)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("FaLsE", False)],
)
def test_booleans_in_any_case(text: str, value: bool) -> None:
    assert settings(verify=text).verify is value


@pytest.mark.parametrize("text", ["yes", "1", "on", "tru"])
def test_rejects_other_booleans(text: str) -> None:
    error = rejected(overwrite=text)
    assert error.input_name == "overwrite" and "true or false" in str(error)


@pytest.mark.parametrize("name", ["timeout", "poll-interval", "max-poll-interval"])
@pytest.mark.parametrize("text", ["0", "-1", "soon", "nan", "inf"])
def test_rejects_seconds_that_are_not_positive_numbers(name: str, text: str) -> None:
    assert rejected(**{name.replace("-", "_"): text}).input_name == name


def test_accepts_fractions_of_seconds() -> None:
    assert settings(poll_interval="0.5").poll_interval == 0.5


def test_rejects_a_first_poll_longer_than_the_longest() -> None:
    assert rejected(poll_interval="40").input_name == "poll-interval"


@pytest.mark.parametrize("text", ["0", "401", "7.5", "week"])
def test_rejects_retention_outside_1_to_400(text: str) -> None:
    assert rejected(retention_days=text).input_name == "retention-days"


def test_rejects_branch_together_with_all_branches() -> None:
    assert rejected(branch="dev", all_branches="true").input_name == "branch"


@pytest.mark.parametrize(
    "url",
    [
        "https://playcanvas.com/api/",
        "http://localhost:8080/api",
        "http://127.0.0.7:1/api",
        "http://[::1]:9/api",
    ],
)
def test_accepts_https_and_loopback_http(url: str) -> None:
    assert settings(api_url=url).api_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://playcanvas.com/api",
        "ftp://x/api",
        "playcanvas.com",
        "https://user:pw@playcanvas.com/api",
        "http://10.0.0.1/api",
    ],
)
def test_rejects_other_api_urls(url: str) -> None:
    assert rejected(api_url=url).input_name == "api-url"


def test_a_relative_path_is_under_the_workspace() -> None:
    s = settings({"GITHUB_WORKSPACE": "/github/workspace"}, path="backups/pc")
    assert s.output_dir == Path("/github/workspace/backups/pc")


def test_several_projects_need_project_id_in_the_names() -> None:
    error = rejected(project_id="1 2", filename="backup.zip")
    assert error.input_name == "filename" and "{project_id}" in str(error)


def test_all_branches_needs_the_branch_in_the_names() -> None:
    error = rejected(all_branches="true", artifact_name="backup-{project_id}")
    assert error.input_name == "artifact-name" and "{branch}" in str(error)


RUNTIME = {
    "GITHUB_ACTIONS": "true",
    "ACTIONS_RUNTIME_TOKEN": "x.y.z",
    "ACTIONS_RESULTS_URL": "https://results.example/",
    "GITHUB_EVENT_PATH": str(PRIVATE_EVENT),
}


def test_uploads_by_default_in_github_actions() -> None:
    s = settings(RUNTIME)
    assert s.upload_artifact and s.artifact_runtime is not None


def test_asking_for_an_upload_without_the_runner_is_an_input_error() -> None:
    error = rejected({"GITHUB_ACTIONS": "true"}, upload_artifact="true")
    assert error.input_name == "upload-artifact" and "ACTIONS_RESULTS_URL" in str(error)


def test_the_default_upload_in_actions_without_the_service_is_an_input_error() -> None:
    assert rejected({"GITHUB_ACTIONS": "true"}).input_name == "upload-artifact"


def test_outside_actions_nothing_is_uploaded_by_default() -> None:
    assert not settings({"ACTIONS_RUNTIME_TOKEN": "x", "ACTIONS_RESULTS_URL": "y"}).upload_artifact


@pytest.mark.parametrize("repository", [{"private": False}, {"visibility": "public"}])
def test_refuses_to_upload_from_a_public_repository(
    tmp_path: Path, repository: dict[str, object]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": repository}))
    error = rejected({**RUNTIME, "GITHUB_EVENT_PATH": str(event)})
    assert error.input_name == "upload-artifact" and "public" in str(error)
    assert settings(
        {**RUNTIME, "GITHUB_EVENT_PATH": str(event)}, allow_public_repository="true"
    ).upload_artifact


def test_an_internal_repository_is_not_public(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"private": True, "visibility": "internal"}}))
    assert settings({**RUNTIME, "GITHUB_EVENT_PATH": str(event)}).upload_artifact


def test_a_public_repository_without_upload_is_fine(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"private": False}}))
    assert not settings(
        {**RUNTIME, "GITHUB_EVENT_PATH": str(event)}, upload_artifact="false"
    ).upload_artifact


@pytest.mark.parametrize("days", ["", "0", " 0 "])
def test_a_zero_or_empty_retention_setting_is_no_known_cap(days: str) -> None:
    runtime = settings({**RUNTIME, "GITHUB_RETENTION_DAYS": days}).artifact_runtime
    assert runtime is not None and runtime.retention_cap_days is None


def test_an_absent_retention_setting_is_no_known_cap() -> None:
    runtime = settings(RUNTIME).artifact_runtime
    assert runtime is not None and runtime.retention_cap_days is None


def test_the_repository_retention_setting_is_the_cap() -> None:
    runtime = settings({**RUNTIME, "GITHUB_RETENTION_DAYS": "7"}).artifact_runtime
    assert runtime is not None and runtime.retention_cap_days == 7


# -- absurd inputs (issue 9) ---------------------------------------------------------------


@pytest.mark.parametrize("blank", [" ", "\r\n", "\t", "\x00", "ç"])
def test_rejects_a_token_that_is_not_visible_ascii_and_never_echoes_it(blank: str) -> None:
    failure = rejected(access_token=f"Zq9x{blank}Wv7y")

    assert failure.input_name == "access-token"
    assert "Zq9x" not in str(failure) and "Wv7y" not in str(failure)


def test_accepts_a_token_of_visible_ascii() -> None:
    assert settings(access_token="pc_AbC-123.~!").access_token == "pc_AbC-123.~!"


@pytest.mark.parametrize("name", ["access-token", "github-token"])
def test_a_token_too_short_to_be_masked_is_an_input_error_that_does_not_echo_it(
    name: str,
) -> None:
    failure = rejected(**{name.replace("-", "_"): "Zq9xWv7"})

    assert failure.input_name == name
    assert "too short" in str(failure) and "Zq9xWv7" not in str(failure)


def test_an_access_token_error_says_how_long_playcanvas_tokens_are() -> None:
    assert "PlayCanvas API tokens are 32 characters" in str(rejected(access_token="abc"))


def test_a_token_of_eight_characters_may_be_masked_so_it_is_accepted() -> None:
    assert settings(access_token="Zq9xWv7y").access_token == "Zq9xWv7y"


@pytest.mark.parametrize("variable", ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"])
def test_an_aws_secret_too_short_to_be_masked_is_an_input_error(variable: str) -> None:
    failure = rejected({variable: "Qx7z9"}, s3_uri="s3://bucket/{file}")

    assert failure.input_name == variable and "Qx7z9" not in str(failure)


@pytest.mark.parametrize("text", ["1" * 19, "9" * 5000])
def test_rejects_a_project_id_of_more_than_18_digits(text: str) -> None:
    failure = rejected(project_id=text)

    assert failure.input_name == "project-id" and "at most 18 digits" in str(failure)


def test_accepts_a_project_id_of_18_digits() -> None:
    assert settings(project_id="9" * 18).project_ids == (int("9" * 18),)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("timeout", "604801"),
        ("timeout", "1e9"),
        ("poll-interval", "1e10"),
        ("max-poll-interval", "3601"),
    ],
)
def test_rejects_seconds_past_their_cap(name: str, text: str) -> None:
    failure = rejected(**{name.replace("-", "_"): text})

    assert failure.input_name == name and "more than the most allowed" in str(failure)


def test_accepts_a_week_of_timeout_and_an_hour_of_polling() -> None:
    s = settings(timeout="604800", poll_interval="3600", max_poll_interval="3600")

    assert (s.timeout, s.poll_interval, s.max_poll_interval) == (604800, 3600, 3600)


def test_rejects_a_filename_template_whose_own_text_passes_255_bytes() -> None:
    failure = rejected(filename="a" * 250 + "-{project_id}-{branch}.zip")

    assert failure.input_name == "filename"
    assert "too long" in str(failure)


def test_a_long_template_with_short_text_is_accepted() -> None:
    assert settings(filename="a" * 200 + "-{project_id}-{branch}.zip")


def test_a_retention_cap_that_is_not_ascii_digits_is_ignored() -> None:
    from playcanvas_backup.config import _artifact_runtime  # noqa: PLC0415

    runtime = _artifact_runtime(
        {"ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_RESULTS_URL": "u", "GITHUB_RETENTION_DAYS": "²"}
    )
    assert runtime is not None and runtime.retention_cap_days is None


def test_user_id_alone_is_enough() -> None:
    s = settings(project_id="", user_id="98765")
    assert s.project_ids == () and s.user_id == 98765


def test_neither_project_id_nor_user_id_is_an_input_error() -> None:
    error = rejected(project_id="")
    assert error.input_name == "project-id" and "user-id" in str(error)


def test_a_user_id_means_several_projects_so_the_names_need_the_project() -> None:
    assert rejected(user_id="98765", filename="{branch}.zip").input_name == "filename"


def test_exclude_reads_ids_and_patterns() -> None:
    s = settings(project_id="", user_id="9", exclude="12, sandbox-*")
    assert s.exclusions.ids == {12} and s.exclusions.patterns == ("sandbox-*",)


def test_an_id_both_asked_for_and_excluded_is_an_input_error() -> None:
    assert rejected(project_id="12", exclude="12").input_name == "exclude"


def test_dry_run_is_a_boolean() -> None:
    assert settings(dry_run="TRUE").dry_run
    assert rejected(dry_run="yes").input_name == "dry-run"


def test_retention_of_400_days_is_accepted() -> None:
    assert settings(retention_days="400").retention_days == 400


def test_unknown_visibility_counts_as_public() -> None:
    unknown = {k: v for k, v in RUNTIME.items() if k != "GITHUB_EVENT_PATH"}
    error = rejected(unknown)
    assert error.input_name == "upload-artifact" and "unknown" in str(error)


def test_encrypted_archives_may_be_uploaded_from_a_public_repository(tmp_path: Path) -> None:
    pyrage = pytest.importorskip("pyrage")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"private": False}}))
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    s = settings({**RUNTIME, "GITHUB_EVENT_PATH": str(event)}, encrypt_to=recipient)
    assert s.upload_artifact and len(s.recipients) == 1


def test_a_bad_recipient_is_an_input_error_that_does_not_echo_it() -> None:
    error = rejected(encrypt_to="AGE-SECRET-KEY-1QQQQ")
    assert error.input_name == "encrypt-to" and "AGE-SECRET-KEY-1QQQQ" not in str(error)


def test_the_network_settings_read_only_the_proxy_and_ca_variables() -> None:
    env = {"HTTPS_PROXY": "http://127.0.0.1:3128", "HOME": "/root", "NETRC": "/root/.netrc"}
    assert settings(env).network == Network(https_proxy="http://127.0.0.1:3128")


# -- docker://: no action.yml between the workflow and the action ---------------------------


def action_yml_defaults() -> dict[str, str]:
    """What ``uses: ./`` (the runner reading action.yml) sets for every input not given."""
    from ruamel.yaml import YAML  # noqa: PLC0415 - a dev dependency, only here

    metadata = YAML(typ="safe").load((Path(__file__).parent.parent / "action.yml").read_text())
    return {
        name: str(spec["default"])
        for name, spec in metadata["inputs"].items()
        # An expression default (${{ github.token }}) is the runner's to evaluate.
        if "default" in spec and "${{" not in str(spec["default"])
    }


def test_docker_uses_gets_the_same_settings_as_action_yml_defaults() -> None:
    given = {"INPUT_ACCESS-TOKEN": TOKEN, "INPUT_PROJECT-ID": "1"}
    with_defaults = {f"INPUT_{k.upper()}": v for k, v in action_yml_defaults().items()}
    as_docker = load(raw_inputs({**RUNTIME, **given}, {}), RUNTIME, cwd=Path("/w"))
    as_action = load(raw_inputs({**RUNTIME, **with_defaults, **given}, {}), RUNTIME, cwd=Path("/w"))
    assert as_docker == as_action
    assert as_docker.upload_artifact  # action.yml's upload-artifact: true, in Actions


def test_a_misspelt_input_is_warned_about_with_the_nearest_name() -> None:
    assert unknown_inputs({"INPUT_ALL-BRANCH": "true"}) == [
        "`all-branch` is not an input; did you mean `all-branches`? It is ignored."
    ]


def test_a_misspelt_input_in_underscores_gets_the_hyphenated_suggestion() -> None:
    assert "did you mean `upload-artifact`?" in unknown_inputs({"INPUT_UPLOAD_ARTIFACTS": "1"})[0]


def test_an_input_like_no_other_is_warned_about_without_a_suggestion() -> None:
    assert unknown_inputs({"INPUT_ZZZ": "1"}) == ["`zzz` is not an input. It is ignored."]


def test_both_spellings_of_every_input_are_known() -> None:
    env = {f"INPUT_{n.upper()}": "x" for spec in INPUTS for n in (spec.name, spec.dest)}
    assert "INPUT_PROJECT_ID" in env
    assert unknown_inputs({**env, "PATH": "/bin", "GITHUB_ACTIONS": "true"}) == []
