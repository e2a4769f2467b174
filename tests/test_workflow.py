"""The runner client on its own: everything through the env and streams it is given."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlsplit

from playcanvas_backup.workflow import Workflow
from tests.conftest import parse_output_file


def actions(tmp_path: Path) -> tuple[Workflow, io.StringIO, dict[str, str]]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    out = io.StringIO()
    return Workflow(env, out=out, err=out), out, env


def test_outputs_go_to_the_file_the_given_env_names(tmp_path: Path) -> None:
    workflow, out, _ = actions(tmp_path)
    workflow.set_outputs({"path": "a.zip", "archives": '[{"x": "two\nlines"}]'})

    written = parse_output_file((tmp_path / "output").read_text())
    assert written == {"path": "a.zip", "archives": '[{"x": "two\nlines"}]'}
    assert out.getvalue() == ""


def test_the_summary_is_appended_to_the_given_file(tmp_path: Path) -> None:
    workflow, _, _ = actions(tmp_path)
    workflow.summary("one\n")
    workflow.summary("two\n")

    assert (tmp_path / "summary").read_text() == "one\ntwo\n"


def test_annotations_and_masks_go_to_the_given_stream(tmp_path: Path) -> None:
    workflow, out, _ = actions(tmp_path)
    workflow.mask("s3cret-42")
    workflow.error("line one\nline two: 100%", title="Backup of a, b failed")

    assert out.getvalue().splitlines() == [
        "::add-mask::s3cret-42",
        "::error title=Backup of a%2C b failed::line one\\nline two: 100%25",
    ]


def test_outside_actions_outputs_are_one_json_object_and_masks_are_not_printed() -> None:
    out, err = io.StringIO(), io.StringIO()
    workflow = Workflow({}, out=out, err=err)
    workflow.mask("s3cret-42")
    workflow.set_outputs({"path": "a.zip", "projects": "[1, 2]"}, structured={"projects"})

    assert json.loads(out.getvalue()) == {"path": "a.zip", "projects": [1, 2]}
    assert err.getvalue() == ""


def test_the_json_outputs_are_ascii_that_reads_back_to_the_values() -> None:
    out = io.StringIO()
    workflow = Workflow({}, out=out, err=io.StringIO())
    workflow.set_outputs({"path": "Café\x9b31m.zip"})

    assert out.getvalue().isascii()
    assert json.loads(out.getvalue()) == {"path": "Café\x9b31m.zip"}


def test_outside_actions_the_github_format_prints_name_value_lines() -> None:
    out = io.StringIO()
    workflow = Workflow({}, out=out, err=io.StringIO(), output_format="github")
    workflow.set_outputs({"path": "a.zip", "projects": "[1, 2]"}, structured={"projects"})

    assert out.getvalue() == "path=a.zip\nprojects=[1, 2]\n"


def test_outside_actions_logs_go_to_stderr_and_nothing_to_stdout() -> None:
    out, err = io.StringIO(), io.StringIO()
    workflow = Workflow({}, out=out, err=err)
    workflow.info("a line")
    workflow.warning("careful")
    workflow.error("it broke", title="Backup of project 1 (main) failed")
    with workflow.group("Settings"):
        workflow.info("inside")

    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        "a line",
        "warning: careful",
        "error: Backup of project 1 (main) failed: it broke",
        "== Settings",
        "inside",
    ]


def test_in_actions_logs_stay_on_stdout(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    Workflow({"GITHUB_ACTIONS": "true"}, out=out, err=err).info("a line")

    assert out.getvalue() == "a line\n"
    assert err.getvalue() == ""


def test_a_group_is_closed_even_when_its_body_fails(tmp_path: Path) -> None:
    workflow, out, _ = actions(tmp_path)
    try:
        with workflow.group("download"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass

    assert out.getvalue().splitlines() == ["::group::download", "::endgroup::"]


def test_a_one_character_query_registers_no_mask_and_the_log_is_not_garbled(
    tmp_path: Path,
) -> None:
    workflow, out, _ = actions(tmp_path)
    workflow.mask_url("https://storage.example/a.zip?e")
    workflow.info("project 1 (main): saved")

    masks = [line for line in out.getvalue().splitlines() if line.startswith("::add-mask::")]
    assert masks == ["::add-mask::https://storage.example/a.zip?e"]
    assert "project 1 (main): saved" in out.getvalue()


def test_short_values_and_words_are_never_masked(tmp_path: Path) -> None:
    workflow, out, _ = actions(tmp_path)
    for value in ("e", "sig=abc", "complete", "download"):
        workflow.mask(value)
    workflow.info("export complete: download e sig=abc")

    assert "add-mask" not in out.getvalue()
    assert "export complete: download e sig=abc" in out.getvalue()


def test_a_signed_url_is_masked_whole_with_its_query_and_its_signature(tmp_path: Path) -> None:
    workflow, out, _ = actions(tmp_path)
    url = "https://acct.blob.core.windows.net/c/b?sv=2025-11-05&sig=Ab%2Bc0d3%3D&se=x"
    workflow.mask_url(url)

    masks = {  # as the runner reads them: "%25" is an escaped "%"
        line.removeprefix("::add-mask::").replace("%25", "%")
        for line in out.getvalue().splitlines()
    }
    assert masks == {url, urlsplit(url).query, "Ab%2Bc0d3%3D", "Ab+c0d3="}
    workflow.info("signature Ab+c0d3= in a message")
    assert "Ab+c0d3=" not in out.getvalue().splitlines()[-1]


def test_a_json_output_stays_valid_json_when_its_texts_are_redacted(tmp_path: Path) -> None:
    workflow, _, _ = actions(tmp_path)
    workflow.mask("s3cret-42")
    value = json.dumps([{"branch": 'Bearer x"', "url": 'http://a?b"', "name": 's3cret-42"\\'}])

    workflow.set_outputs({"archives": value})

    written = parse_output_file((tmp_path / "output").read_text())["archives"]
    assert json.loads(written) == [
        {"branch": 'Bearer ***"', "url": 'http://a?***"', "name": '***"\\'}
    ]


def test_a_secret_masked_twice_is_one_add_mask_command(tmp_path: Path) -> None:
    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "o")}
    workflow = Workflow(env, out=out, err=out)

    workflow.mask_url("https://storage.example/a.zip?X-Amz-Signature=0123456789abcdef")
    workflow.mask_url("https://storage.example/a.zip?X-Amz-Signature=0123456789abcdef")

    commands = [line for line in out.getvalue().splitlines() if line.startswith("::add-mask::")]
    assert commands and len(commands) == len(set(commands))
