"""Outputs and the step summary, from the results."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from playcanvas_backup import untrusted
from playcanvas_backup.report import SUMMARY_LIMIT, ArchiveResult, outputs, summary

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
    result = ArchiveResult(1, "main", None, error='token "p|`c\\1" and https://h/x?sig=abc')
    values = outputs([result], WORKSPACE, secrets=["p|`c\\1"])
    text = summary([result], WORKSPACE, secrets=["p|`c\\1"])

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

    assert len(text.encode()) <= SUMMARY_LIMIT + 200
    assert "more archives: see the `archives` output." in text


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
