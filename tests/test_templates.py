"""Name templates: checked up front, filled with cleaned fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from playcanvas_backup.errors import InputError
from playcanvas_backup.templates import parse, timestamp_fields

VALUES = {
    "project_id": 12,
    "branch": "feature/new ui",
    "branch_id": None,
    "job_id": 99,
    "timestamp": "20261129T061500Z",
    "date": "2026-11-29",
}


def test_fills_every_field() -> None:
    template = parse(
        "filename", "{project_id}_{branch}_{branch_id}_{job_id}_{timestamp}_{date}.zip"
    )
    assert template.render(VALUES) == "12_feature-new-ui_none_99_20261129T061500Z_2026-11-29.zip"


@pytest.mark.parametrize("branch", ["../../etc", "a/b\\c", "naïve", "x:y*z?", ".."])
def test_field_values_cannot_make_a_path(branch: str) -> None:
    name = parse("filename", "{branch}").render({**VALUES, "branch": branch})
    assert "/" not in name and "\\" not in name and name not in {".", ".."}
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@pytest.mark.parametrize(
    "text",
    [
        "dir/{project_id}.zip",
        "{project_id} copy.zip",
        "..",
        "{project}.zip",
        "{project_id:>5}.zip",
        "{project_id!r}",
        "{",
        "a}b",
        "",
    ],
)
def test_rejects_templates_that_do_not_make_a_plain_name(text: str) -> None:
    with pytest.raises(InputError) as failure:
        parse("filename", text)
    assert failure.value.input_name == "filename"


def test_timestamps_are_utc_and_compact() -> None:
    moment = datetime(2026, 11, 29, 6, 15, 0, tzinfo=UTC)
    assert timestamp_fields(moment) == {"timestamp": "20261129T061500Z", "date": "2026-11-29"}
