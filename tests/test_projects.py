"""Choosing the projects (user-id, exclude), the new inputs' parsers, repository visibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playcanvas_backup.config import (
    parse_boolean,
    parse_retention_cap,
    parse_retention_days,
    parse_user_id,
)
from playcanvas_backup.errors import InputError
from playcanvas_backup.playcanvas import Project
from playcanvas_backup.projects import (
    MAX_EXCLUDE_ITEMS,
    Excluded,
    Exclusions,
    exclude_conflict,
    parse_exclude,
    select_projects,
)
from playcanvas_backup.visibility import (
    Visibility,
    counts_as_public,
    repository_visibility,
    upload_refusal,
    visibility_from_event_file,
)

LISTED = (
    Project(30, "Space Game", 7),
    Project(10, "Test Level", 7),
    Project(20, "Straße 3D", 7),
    Project(40, "ÉDITEUR démo", 7),
)

# -- exclude --------------------------------------------------------------------------------


def test_exclude_separates_ids_from_name_patterns() -> None:
    rules = parse_exclude("123, *test*\nSandbox ?\r\n456")

    assert rules == Exclusions(frozenset({123, 456}), ("*test*", "Sandbox ?"))


def test_exclude_skips_empty_items_and_keeps_spaces_inside_a_pattern() -> None:
    assert parse_exclude(" ,\n  old  demo  ,,\n").patterns == ("old  demo",)


def test_an_empty_exclude_leaves_nothing_out() -> None:
    assert parse_exclude("") == Exclusions()


def test_exclude_refuses_control_characters_naming_the_item() -> None:
    with pytest.raises(InputError, match="item 2 ") as raised:
        parse_exclude("ok, bad\x1b[31m")

    assert raised.value.input_name == "exclude"
    assert "\x1b" not in raised.value.message


def test_exclude_refuses_too_many_items() -> None:
    with pytest.raises(InputError, match=f"more than {MAX_EXCLUDE_ITEMS} items"):
        parse_exclude(",".join(str(n) for n in range(1, MAX_EXCLUDE_ITEMS + 2)))


def test_a_pattern_matches_names_case_insensitively() -> None:
    rules = parse_exclude("*TEST*")

    assert rules.reason(Project(10, "Test Level")) == "its name matches exclude pattern '*TEST*'"
    assert rules.reason(Project(30, "Space Game")) is None


def test_a_pattern_matches_unicode_names_whatever_their_case_and_normal_form() -> None:
    decomposed = "e\u0301diteur*"  # "é" as e + combining acute

    assert parse_exclude(decomposed).reason(Project(40, "ÉDITEUR démo")) is not None
    assert parse_exclude("strasse*").reason(Project(20, "Straße 3D")) is not None


def test_an_id_in_exclude_names_the_project() -> None:
    assert parse_exclude("10").reason(Project(10, "x")) == "project id 10 is in exclude"


def test_a_number_in_exclude_is_an_id_not_a_name() -> None:
    assert parse_exclude("2048").reason(Project(5, "2048")) is None


# -- choosing the projects ------------------------------------------------------------------


def test_listed_projects_are_backed_up_in_id_order() -> None:
    selection = select_projects([], LISTED, Exclusions())

    assert selection.ids == (10, 20, 30, 40)
    assert selection.excluded == ()


def test_requested_projects_come_first_in_the_order_given() -> None:
    selection = select_projects([Project(99, ""), Project(5, "")], LISTED, Exclusions())

    assert selection.ids == (99, 5, 10, 20, 30, 40)


def test_a_project_both_requested_and_listed_counts_once_with_its_listed_name() -> None:
    selection = select_projects([Project(30, "")], LISTED, Exclusions())

    assert selection.ids == (30, 10, 20, 40)
    assert selection.projects[0] == Project(30, "Space Game", 7)


def test_excluded_projects_are_reported_with_why_in_the_same_order() -> None:
    selection = select_projects([], LISTED, parse_exclude("40, *level*"))

    assert selection.ids == (20, 30)
    assert selection.excluded == (
        Excluded(Project(10, "Test Level", 7), "its name matches exclude pattern '*level*'"),
        Excluded(Project(40, "ÉDITEUR démo", 7), "project id 40 is in exclude"),
    )


def test_a_pattern_can_leave_out_a_requested_project_too() -> None:
    selection = select_projects([Project(8, "Test Rig")], [], parse_exclude("test*"))

    assert selection.ids == ()
    assert [e.project.id for e in selection.excluded] == [8]


def test_the_selection_does_not_depend_on_the_listing_order() -> None:
    rules = parse_exclude("*game*")

    assert select_projects([], LISTED, rules) == select_projects([], LISTED[::-1], rules)


def test_exclude_items_that_match_no_project_are_named() -> None:
    rules = parse_exclude("40, 99, *level*, sandbox*, STRASSE*, space")

    assert rules.unmatched(LISTED) == ("99", "sandbox*", "space")  # ß folds to ss


def test_a_pattern_matching_a_project_another_pattern_left_out_is_not_unmatched() -> None:
    assert parse_exclude("test*, *level").unmatched(LISTED) == ()


def test_an_id_both_requested_and_excluded_is_an_input_error() -> None:
    error = exclude_conflict([12, 13], parse_exclude("12, 99"))

    assert error is not None and error.input_name == "exclude"
    assert "leaves out project 12, which project-id asks for" in error.message


def test_excluding_ids_that_were_not_requested_is_fine() -> None:
    assert exclude_conflict([13], parse_exclude("12, *x*")) is None


# -- user-id, dry-run, retention-days -------------------------------------------------------


def test_user_id_is_a_positive_number() -> None:
    assert parse_user_id(" 4242 ") == 4242


def test_an_empty_user_id_is_not_given() -> None:
    assert parse_user_id("") is None


@pytest.mark.parametrize("value", ["abc", "-5", "0", "12.5", "1" * 19, "1e5", "٤٢"])
def test_a_user_id_that_is_not_a_positive_number_of_18_digits_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="is not an account id") as raised:
        parse_user_id(value)

    assert raised.value.input_name == "user-id"


def test_a_long_bad_user_id_is_shortened_in_the_message() -> None:
    with pytest.raises(InputError) as raised:
        parse_user_id("x" * 500)

    assert "x" * 41 not in raised.value.message


def test_dry_run_defaults_to_false_and_reads_true_in_any_case() -> None:
    assert (
        parse_boolean("dry-run", "", default=False),
        parse_boolean("dry-run", "TRUE", default=False),
        parse_boolean("dry-run", "False", default=False),
    ) == (False, True, False)


@pytest.mark.parametrize("value", ["yes", "1", "on", "tru"])
def test_dry_run_refuses_what_is_not_true_or_false(value: str) -> None:
    with pytest.raises(InputError, match="is not a boolean") as raised:
        parse_boolean("dry-run", value, default=False)

    assert raised.value.input_name == "dry-run"


def test_a_boolean_input_names_itself_when_refused() -> None:
    with pytest.raises(InputError) as raised:
        parse_boolean("verify", "maybe", default=True)

    assert raised.value.input_name == "verify"


@pytest.mark.parametrize(("value", "days"), [("1", 1), ("90", 90), ("400", 400), ("", None)])
def test_retention_days_reads_1_to_400(value: str, days: int | None) -> None:
    assert parse_retention_days(value) == days


@pytest.mark.parametrize("value", ["0", "401", "1000", "-1", "7.5", "thirty"])
def test_retention_days_outside_1_to_400_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="from 1 to 400") as raised:
        parse_retention_days(value)

    assert raised.value.input_name == "retention-days"


@pytest.mark.parametrize(("value", "cap"), [("90", 90), ("400", 400), ("0", None), ("", None)])
def test_the_repository_cap_of_0_or_empty_means_no_known_cap(value: str, cap: int | None) -> None:
    assert parse_retention_cap(value) == cap


def test_an_unset_repository_cap_means_no_known_cap() -> None:
    assert parse_retention_cap(None) is None


# -- repository visibility ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "visibility"),
    [
        ({"private": False}, "public"),
        ({"visibility": "public"}, "public"),
        ({"private": True, "visibility": "public"}, "public"),
        ({"private": False, "visibility": "private"}, "public"),
        ({"private": True, "visibility": "internal"}, "internal"),
        ({"private": True}, "private"),
        ({"visibility": "PRIVATE"}, "private"),
        ({}, "unknown"),
        ({"private": "false"}, "unknown"),
        ({"visibility": "secret"}, "unknown"),
    ],
)
def test_visibility_follows_the_event_payload(repository: object, visibility: Visibility) -> None:
    assert repository_visibility({"repository": repository}) == visibility


@pytest.mark.parametrize("payload", [{}, {"repository": "octo/game"}, None, [], "x"])
def test_a_payload_without_a_repository_object_is_unknown(payload: object) -> None:
    assert repository_visibility(payload) == "unknown"


def test_unknown_counts_as_public_and_internal_does_not() -> None:
    assert counts_as_public("unknown") and counts_as_public("public")
    assert not counts_as_public("internal") and not counts_as_public("private")


def test_reads_the_visibility_from_the_event_file(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"private": True, "visibility": "private"}}))

    assert visibility_from_event_file(str(event)) == "private"


@pytest.mark.parametrize("content", ["not json", ""])
def test_an_unreadable_event_file_is_unknown(tmp_path: Path, content: str) -> None:
    event = tmp_path / "event.json"
    event.write_text(content)

    assert visibility_from_event_file(str(event)) == "unknown"


def test_no_event_file_is_unknown(tmp_path: Path) -> None:
    assert visibility_from_event_file(None) == "unknown"
    assert visibility_from_event_file(str(tmp_path / "missing.json")) == "unknown"


def test_uploading_from_a_public_repository_is_refused_and_says_how_to_allow_it() -> None:
    error = upload_refusal("public", allow_public_repository=False, encrypted=False)

    assert error is not None and error.input_name == "upload-artifact"
    assert error.message.startswith("Input 'upload-artifact': this repository is public")
    for way_out in ("encrypt-to", "upload-artifact: false", "allow-public-repository: true"):
        assert way_out in error.message


def test_uploading_with_unknown_visibility_is_refused_and_says_why() -> None:
    error = upload_refusal("unknown", allow_public_repository=False, encrypted=False)

    assert error is not None
    assert "visibility is unknown" in error.message
    assert "so it counts as public" in error.message


@pytest.mark.parametrize("visibility", ["public", "unknown"])
def test_encrypted_archives_may_be_uploaded_anywhere(visibility: Visibility) -> None:
    assert upload_refusal(visibility, allow_public_repository=False, encrypted=True) is None


@pytest.mark.parametrize("visibility", ["public", "unknown"])
def test_allow_public_repository_lifts_the_guard(visibility: Visibility) -> None:
    assert upload_refusal(visibility, allow_public_repository=True, encrypted=False) is None


@pytest.mark.parametrize("visibility", ["private", "internal"])
def test_private_and_internal_repositories_may_upload(visibility: Visibility) -> None:
    assert upload_refusal(visibility, allow_public_repository=False, encrypted=False) is None
