"""Outputs and the step summary, from the results."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from playcanvas_backup import untrusted
from playcanvas_backup.playcanvas import Project
from playcanvas_backup.projects import Excluded
from playcanvas_backup.report import (
    ARCHIVES_LIMIT,
    SUMMARY_LIMIT,
    capped_json,
    failed,
    nothing_saved,
    outputs,
    summary,
    write_archives,
)
from playcanvas_backup.result import ArchiveResult
from playcanvas_backup.workflow import Workflow
from tests.conftest import parse_output_file

WORKSPACE = Path("/github/workspace")


def saved(project_id: int, name: str) -> ArchiveResult:
    return ArchiveResult(
        project_id,
        "main",
        None,
        job_id=9,
        path=WORKSPACE / "out" / name,
        sha256="ab" * 32,
        size=2048,
        seconds=3.0,
    )


def test_describes_the_first_saved_archive_even_when_another_failed() -> None:
    failed = ArchiveResult(1, "main", None, error="Project not found")
    values = outputs([failed, saved(2, "b.zip"), saved(3, "c.zip")], WORKSPACE)

    assert values["path"] == "out/b.zip"
    assert values["sha256"] == "ab" * 32 and values["size"] == "2048" and values["job-id"] == "9"
    entries = json.loads(values["archives"])
    assert [e["project_id"] for e in entries] == [1, 2, 3]
    assert entries[0] == {
        "project_id": 1,
        "project_name": None,
        "branch": "main",
        "branch_id": None,
        "job_id": None,
        "path": None,
        "sha256": None,
        "size": None,
        "encrypted_sha256": None,
        "encrypted_size": None,
        "artifact_id": None,
        "artifact_url": None,
        "s3_uri": None,
        "s3_version_id": None,
        "error": "Project not found",
    }
    assert "artifact-id" not in values


def test_nothing_saved_means_only_the_archives_and_projects_outputs() -> None:
    values = outputs([ArchiveResult(1, "main", None, error="x")], WORKSPACE)
    assert set(values) == {"archives", "projects"}
    assert json.loads(values["projects"]) == [1]


def test_artifact_outputs_come_from_the_first_upload() -> None:
    result = saved(2, "b.zip")
    result.artifact_id, result.artifact_url = (
        77,
        "https://github.com/o/r/actions/runs/1/artifacts/77",
    )
    values = outputs([result], WORKSPACE)
    assert values["artifact-id"] == "77" and values["artifact-url"].endswith("/77")


def test_summary_has_a_row_per_archive_and_the_reason_for_failures() -> None:
    text = summary(
        [saved(2, "b.zip"), ArchiveResult(1, "dev", None, error="bad | thing")], WORKSPACE
    )

    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 3
    assert "` out/b.zip `" in rows[1] and "2.0 KiB" in rows[1] and "3.0 s" in rows[1]
    assert "❌ ` bad \\| thing `" in rows[2]
    assert "1 of 2 archives saved" in text


# -- text from outside (issue 9) -------------------------------------------------------------


def test_outputs_carry_branch_names_and_errors_cleaned() -> None:
    result = ArchiveResult(1, "dev\n::stop-commands::x", None, error="boom ##[add-mask]e\r\n")
    (entry,) = json.loads(outputs([result], WORKSPACE)["archives"])

    assert entry["branch"] == "dev\\n::stop-commands::x"
    assert entry["error"] == "boom ## [add-mask]e\\r\\n"


def test_outputs_and_summary_redact_the_secrets() -> None:
    result = ArchiveResult(1, "main", None, error='token "p|`c\\1-42" and https://h/x?sig=abc')
    values = outputs([result], WORKSPACE, secrets=["p|`c\\1-42"])
    text = summary([result], WORKSPACE, secrets=["p|`c\\1-42"])

    for written in (values["archives"], text):
        assert "p|`c" not in written and "p\\|`c" not in written and "sig=abc" not in written
        assert "***" in written


def test_a_long_error_is_capped_in_the_outputs() -> None:
    result = ArchiveResult(1, "main", None, error="x" * 100_000)
    (entry,) = json.loads(outputs([result], WORKSPACE)["archives"])

    assert len(entry["error"]) == untrusted.MAX_MESSAGE and entry["error"].endswith("...")


def test_hostile_markdown_in_a_cell_is_a_code_span() -> None:
    text = summary([ArchiveResult(1, "[x](https://e.example) <img src=y>", None)], WORKSPACE)
    (row,) = [line for line in text.splitlines() if line.startswith("| 1 ")]

    assert "| ` [x](https://e.example) <img src=y> ` |" in row


def test_the_summary_stays_under_githubs_limit() -> None:
    results = [ArchiveResult(i, "b" * 300, None, error="e" * 5000) for i in range(1, 2000)]
    text = summary(results, WORKSPACE)

    assert len(text.encode()) <= SUMMARY_LIMIT
    assert "more archives: see the file `archives-file` names." in text


# -- the one rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("x\u2028y\x85z\u202e", "x\\u2028y\\x85z\\u202e"),
        ("::warning::x", ": :warning::x"),
        ("  ::add-mask::x", "  : :add-mask::x"),
        ("a ##[stop-commands]t", "a ## [stop-commands]t"),
        ("feature/physics", "feature/physics"),
        ("émoji 🎮 ok", "émoji 🎮 ok"),
    ],
)
def test_clean_shows_text_on_one_inert_line(text: str, shown: str) -> None:
    assert untrusted.clean(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "GET https://s3.example/a.zip?X-Amz-Signature=abc&b=1 failed",
            "GET https://s3.example/a.zip?*** failed",
        ),
        ('"url": "https://h/p?sig=1"', '"url": "https://h/p?***"'),
        ("at /a.zip?X-Amz-Signature=abc", "at /a.zip?***"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("token tok-12345 again tok-12345", "token *** again ***"),
    ],
)
def test_clean_redacts_secrets_and_queries(text: str, shown: str) -> None:
    assert untrusted.clean(text, secrets=["tok-12345"]) == shown


def test_clean_caps_the_length() -> None:
    assert untrusted.clean("y" * 1000, limit=20) == "y" * 17 + "..."


@pytest.mark.parametrize(
    ("text", "cell"),
    [("plain", "` plain `"), ("a`b", "`` a`b ``"), ("`x`", "`` `x` ``"), ("a|b", "` a\\|b `")],
)
def test_markdown_code_shows_text_as_typed(text: str, cell: str) -> None:
    assert untrusted.markdown_code(text) == cell


@pytest.mark.parametrize("text", ["a." * 2_000_000, "a://" * 1_000_000, "x Bearer" * 500_000])
def test_clean_takes_linear_time_on_hostile_text(text: str) -> None:
    started = time.monotonic()
    untrusted.clean(text, secrets=["secret-1"])

    assert time.monotonic() - started < 3


def test_the_summary_says_an_archive_is_encrypted_and_gives_the_files_hash() -> None:
    result = replace(saved(2, "b.zip.age"), encrypted_sha256="cd" * 32, encrypted_size=2100)
    text = summary([result], WORKSPACE)
    assert "age-encrypted: 2.1 KiB, `" + "cd" * 32 + "`" in text
    assert "`" + "ab" * 32 + "`" in text  # the plaintext's, what a restore yields


# -- the exit rule ------------------------------------------------------------------------------


def test_a_run_that_saved_every_archive_did_not_fail() -> None:
    assert not failed([saved(1, "a.zip"), saved(2, "b.zip")], dry_run=False)


def test_a_run_with_a_failed_archive_failed() -> None:
    broken = ArchiveResult(2, "main", None, error="Project not found")
    assert failed([saved(1, "a.zip"), broken], dry_run=False)


def test_a_run_that_saved_nothing_failed_even_with_nothing_to_save() -> None:
    assert failed([], dry_run=False)
    assert failed([ArchiveResult(1, "main", None)], dry_run=False)


def test_a_dry_run_that_saved_nothing_did_not_fail() -> None:
    assert not failed([], dry_run=True)
    assert not failed([ArchiveResult(1, "main", None)], dry_run=True)


def test_nothing_saved_says_why_only_when_no_archive_does() -> None:
    broken = ArchiveResult(1, "main", None, error="refused")
    assert nothing_saved([broken], [], dry_run=False) is None
    assert nothing_saved([saved(1, "a.zip")], [], dry_run=False) is None
    assert nothing_saved([], [], dry_run=True) is None
    assert "no project to back up" in str(nothing_saved([], [], dry_run=False))


def test_nothing_saved_names_exclude_when_it_left_out_every_project() -> None:
    left_out = Excluded(Project(5, "Sandbox"), "its name matches exclude pattern 'sand*'")

    assert "exclude left out every project (1)" in str(nothing_saved([], [left_out], dry_run=False))


def test_the_summary_says_what_failed_the_run_as_a_whole() -> None:
    text = summary([], WORKSPACE, problem="PlayCanvas would not list the projects `x`")

    assert "❌" in text and "PlayCanvas would not list the projects" in text


# -- outputs that always parse --------------------------------------------------------------------

JQ = shutil.which("jq")
# CI sets REQUIRE_JQ=1 (and installs jq) so that these never pass by skipping.
needs_jq = pytest.mark.skipif(
    JQ is None and os.environ.get("REQUIRE_JQ") != "1",
    reason="jq is not installed (Debian: apt-get install jq)",
)

HOSTILE = ['Bearer x"', 'http://a?b"', "https://h/x?sig=abc\\", 'p"w\\"-42', "tok\u2028en"]


def jq(text: str, program: str = "length") -> str:
    assert JQ is not None
    done = subprocess.run(
        [JQ, "-c", program], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_jq
@pytest.mark.parametrize("name", HOSTILE)
def test_archives_parses_with_jq_whatever_the_names(tmp_path: Path, name: str) -> None:
    result = replace(saved(1, "a.zip"), branch=name, project_name=name, error=name)
    workflow = Workflow(
        {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out")}, out=io.StringIO()
    )
    workflow.mask('p"w\\"-42')  # a secret: 8 characters at least

    workflow.set_outputs(outputs([result], WORKSPACE, secrets=workflow.secrets))

    written = parse_output_file((tmp_path / "out").read_text())["archives"]
    assert jq(written, ".[0] | [.branch, .project_name, .error] | length") == "3"
    assert "sig=abc" not in written and 'p\\"w' not in written


def test_text_values_are_redacted_before_the_list_is_serialised() -> None:
    result = replace(saved(1, "a.zip"), branch='Bearer x"', error='see http://a?b" now')

    (entry,) = json.loads(outputs([result], WORKSPACE)["archives"])

    assert entry["branch"] == 'Bearer ***"'
    assert entry["error"] == 'see http://a?***" now'


@needs_jq
def test_ten_thousand_archives_give_a_capped_valid_prefix_and_a_complete_file(
    tmp_path: Path,
) -> None:
    results = [ArchiveResult(i, "main", None, project_name=f"Project {i}") for i in range(10_000)]

    values = outputs(results, tmp_path, archives_file=tmp_path / "list.json")
    written = write_archives(tmp_path, results, tmp_path)

    assert len(values["archives"].encode()) <= ARCHIVES_LIMIT
    kept = int(jq(values["archives"]))
    assert 0 < kept < 10_000
    assert json.loads(values["archives"]) == json.loads(written.read_text())[:kept]
    assert jq(written.read_text()) == "10000"
    assert values["archives-file"] == "list.json"


def test_capped_json_keeps_the_longest_prefix_that_fits() -> None:
    items = [{"n": "x" * 10}] * 5
    one = len(json.dumps(items[0]))

    text, kept = capped_json(items, 2 + one * 3 + 2 * 2)

    assert kept == 3 and text == json.dumps(items[:3])
    assert capped_json(items, 1) == ("[]", 0)


def test_each_run_writes_its_own_archives_file(tmp_path: Path) -> None:
    first = write_archives(tmp_path, [saved(1, "a.zip")], tmp_path)
    second = write_archives(tmp_path, [saved(2, "b.zip")], tmp_path)

    assert first != second
    assert json.loads(first.read_text())[0]["project_id"] == 1
    assert json.loads(second.read_text())[0]["project_id"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name])


def test_the_summarys_cap_counts_the_projects_left_out() -> None:
    results = [ArchiveResult(1, "main", None)]
    excluded = [Excluded(Project(i, "n" * 250), "r" * 250) for i in range(5000)]

    text = summary(results, WORKSPACE, excluded=excluded)

    assert len(text.encode()) <= SUMMARY_LIMIT
    assert "more projects left out: see the log." in text
