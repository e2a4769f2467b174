"""Name templates: checked up front, filled with cleaned fields; every archive's names
planned before any export (the names rule in the interface contract)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from playcanvas_backup.errors import InputError
from playcanvas_backup.templates import parse, plan_names, timestamp_fields

VALUES = {
    "project_id": 12,
    "branch": "feature/new ui",
    "branch_id": None,
    "job_id": 99,
    "timestamp": "20261129T061500Z",
    "date": "2026-11-29",
}
FILES = parse("filename", "{project_id}-{branch}.zip")
ARTIFACTS = parse("artifact-name", "playcanvas-{project_id}-{branch}")


def branch(name: str, branch_id: str) -> dict[str, object]:
    return {"project_id": 7, "branch": name, "branch_id": branch_id}


def test_fills_every_field() -> None:
    template = parse(
        "filename", "{project_id}_{branch}_{branch_id}_{job_id}_{timestamp}_{date}.zip"
    )
    assert template.render(VALUES) == "12_feature-new ui_none_99_20261129T061500Z_2026-11-29.zip"


@pytest.mark.parametrize("name", ["テスト", "修正中", "naïve", "level 1", "Ünïcode-ß"])
def test_unicode_letters_digits_and_spaces_are_kept(name: str) -> None:
    assert parse("filename", "{branch}").render({**VALUES, "branch": name}) == name


def test_field_values_are_nfc() -> None:
    decomposed = "nai\u0308ve"
    assert parse("filename", "{branch}").render({**VALUES, "branch": decomposed}) == "naïve"


@pytest.mark.parametrize("branch_name", ["../../etc", "a/b\\c", 'x:y*z?"<>|', "..", "a\nb\x00c"])
def test_field_values_cannot_make_a_path(branch_name: str) -> None:
    name = parse("filename", "{branch}").render({**VALUES, "branch": branch_name})
    assert not set(name) & set('/\\:*?"<>|\n\x00')
    assert not name.startswith(".")


@pytest.mark.parametrize(
    "text",
    [
        "dir/{project_id}.zip",
        "..",
        ".{project_id}.zip",
        "{project}.zip",
        "{project_id:>5}.zip",
        "{project_id!r}",
        "{",
        "a}b",
        "",
        "x" * 250 + "{project_id}",
    ],
)
def test_rejects_templates_that_do_not_make_a_plain_name(text: str) -> None:
    with pytest.raises(InputError) as failure:
        parse("filename", text)
    assert failure.value.input_name == "filename"


def test_a_space_in_the_template_is_allowed() -> None:
    assert parse("filename", "{project_id} copy.zip").render(VALUES) == "12 copy.zip"


def test_timestamps_are_utc_and_compact() -> None:
    moment = datetime(2026, 11, 29, 6, 15, 0, tzinfo=UTC)
    assert timestamp_fields(moment) == {"timestamp": "20261129T061500Z", "date": "2026-11-29"}


# -- planning every name of a run -------------------------------------------------------------


def test_distinct_unicode_branches_keep_distinct_names() -> None:
    plan = plan_names(
        [branch("テスト", "aaaaaaaa-1"), branch("修正中", "bbbbbbbb-2")],
        filename=FILES,
        artifact_name=ARTIFACTS,
    )
    assert [n.final(1) for n in plan.files] == ["7-テスト.zip", "7-修正中.zip"]
    assert plan.notes == []


@pytest.mark.parametrize(("first", "second"), [("feature/x", "feature-x"), ("Main", "main")])
def test_colliding_names_both_get_the_branch_ids_first_8_characters(
    first: str, second: str
) -> None:
    plan = plan_names(
        [branch(first, "1a2b3c4d-0000"), branch(second, "9f8e7d6c-0000")],
        filename=FILES,
        artifact_name=ARTIFACTS,
    )
    one, two = (n.final(1) for n in plan.files)
    assert one.endswith("-1a2b3c4d.zip") and two.endswith("-9f8e7d6c.zip")
    assert plan.artifacts[0].final(1).endswith("-1a2b3c4d")
    assert any("1a2b3c4d" in note for note in plan.notes)


def test_file_names_and_artifact_names_are_separate_namespaces() -> None:
    same = parse("filename", "backup-{project_id}")
    plan = plan_names(
        [branch("main", "1a2b3c4d-0"), {**branch("main", "9f8e7d6c-0"), "project_id": 8}],
        filename=same,
        artifact_name=parse("artifact-name", "backup-{project_id}"),
    )
    assert [n.final(1) for n in plan.files] == ["backup-7", "backup-8"]
    assert [n.final(1) for n in plan.artifacts] == ["backup-7", "backup-8"]
    assert plan.notes == []


def test_ids_that_share_their_first_8_characters_fall_back_to_the_whole_id() -> None:
    plan = plan_names(
        [branch("a/b", "00000007-0001"), branch("a-b", "00000007-0002")],
        filename=FILES,
        artifact_name=ARTIFACTS,
    )
    names = [n.final(1) for n in plan.files]
    assert len(set(names)) == 2
    assert names[0].endswith("00000007-0001.zip")


def test_the_plan_is_deterministic() -> None:
    archives = [branch("feature/x", "1a2b3c4d-0"), branch("feature-x", "9f8e7d6c-0")]
    first = plan_names(archives, filename=FILES, artifact_name=ARTIFACTS)
    again = plan_names(archives, filename=FILES, artifact_name=ARTIFACTS)
    assert [n.final(5) for n in first.files] == [n.final(5) for n in again.files]


def test_a_long_branch_name_is_shortened_within_255_bytes() -> None:
    long_names = [branch("ü" * 300, "1a2b3c4d-0"), branch("ü" * 301, "9f8e7d6c-0")]
    template = parse("filename", "{project_id}-{branch}-{job_id}.zip")
    plan = plan_names(long_names, filename=template, artifact_name=ARTIFACTS)

    names = [n.final(123456789012345678) for n in plan.files]
    assert all(len(name.encode()) <= 235 for name in names)  # room for ".<name>.<8>.part"
    assert names[0] != names[1]
    assert "-123456789012345678-" in names[0] and names[0].endswith(".zip")
    assert any("shortened" in note for note in plan.notes)


def test_a_job_id_in_the_template_needs_no_tag() -> None:
    template = parse("filename", "{branch}-{job_id}.zip")
    plan = plan_names(
        [branch("feature/x", "1a2b3c4d-0"), branch("feature-x", "9f8e7d6c-0")],
        filename=template,
        artifact_name=ARTIFACTS,
    )
    assert [n.final(j) for n, j in zip(plan.files, (1, 2), strict=True)] == [
        "feature-x-1.zip",
        "feature-x-2.zip",
    ]
