"""Listing an account's projects and reading one project, against the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from playcanvas_backup.deadline import Deadline
from playcanvas_backup.errors import ApiError, TimedOut
from playcanvas_backup.playcanvas import MAX_PROJECT_PAGES, LookupRefused, PlayCanvasApi, Project
from tests.emulator import Emulator
from tests.emulator.server import DEFAULT_OWNER

STUDIO = 4242
STUDIO_PROJECTS = {
    101: "Space Game",
    102: "Тестовый проект",
    103: "ゲーム デモ",
    104: "sandbox (old)",
}


@pytest.fixture
def pc() -> Iterator[Emulator]:
    with Emulator(rate_window=1.0) as emulator:
        emulator.add_organization(STUDIO, STUDIO_PROJECTS)
        yield emulator


def client(pc: Emulator, token: str | None = None) -> PlayCanvasApi:
    return PlayCanvasApi(pc.api_url, token or pc.token, sleep=lambda _: None)


def later() -> Deadline:
    return Deadline.after(60, clock=time.time)


def test_lists_every_project_of_an_organization_with_names_and_owner(pc: Emulator) -> None:
    projects = client(pc).list_projects(STUDIO, deadline=later())

    assert projects == [
        Project(project_id, name, STUDIO) for project_id, name in STUDIO_PROJECTS.items()
    ]


def test_names_with_unicode_and_spaces_arrive_unchanged(pc: Emulator) -> None:
    projects = client(pc).list_projects(STUDIO, deadline=later())

    assert {p.name for p in projects} >= {"Тестовый проект", "ゲーム デモ"}


def test_the_listing_is_one_normal_request_to_the_users_route(pc: Emulator) -> None:
    client(pc).list_projects(STUDIO, deadline=later())

    (request,) = pc.api_requests("GET")
    assert request.path == f"/api/users/{STUDIO}/projects"
    assert request.query == {}


def test_follows_pages_when_playcanvas_sends_them(pc: Emulator) -> None:
    pc.faults.project_page_size = 3

    projects = client(pc).list_projects(STUDIO, deadline=later())

    assert [p.id for p in projects] == list(STUDIO_PROJECTS)
    assert [r.query.get("skip") for r in pc.api_requests("GET")] == [None, ["103"]]


def test_lists_projects_shared_with_an_account_after_its_own(pc: Emulator) -> None:
    pc.add_project(777)
    pc.share_project(STUDIO, 777)

    projects = client(pc).list_projects(STUDIO, deadline=later())

    assert projects[-1] == Project(777, "Project 777", DEFAULT_OWNER)
    assert len(projects) == len(STUDIO_PROJECTS) + 1


def test_an_unknown_account_is_a_404_that_says_to_check_user_id(pc: Emulator) -> None:
    with pytest.raises(ApiError) as raised:
        client(pc).list_projects(999, deadline=later())

    assert raised.value.status == 404
    assert '"User not found"' in raised.value.message
    assert "check that user-id 999 is the numeric id" in raised.value.message


def test_a_forbidden_listing_is_a_403_with_playcanvas_s_message(pc: Emulator) -> None:
    pc.faults.listing_forbidden = True

    with pytest.raises(ApiError) as raised:
        client(pc).list_projects(STUDIO, deadline=later())

    assert raised.value.status == 403 and '"Forbidden"' in raised.value.message


def test_a_bad_token_on_the_listing_is_that_lookup_s_refusal(pc: Emulator) -> None:
    with pytest.raises(LookupRefused) as raised:
        client(pc, token="wrong").list_projects(STUDIO, deadline=later())

    assert raised.value.status == 401 and raised.value.answer == '401 "Unauthorized"'


def test_a_listing_refused_for_lack_of_scope_quotes_playcanvas(pc: Emulator) -> None:
    pc.faults.listing_unauthorized = True

    with pytest.raises(LookupRefused) as raised:
        client(pc).list_projects(STUDIO, deadline=later())

    assert raised.value.answer == '401 "Token does not have required scope"'


def test_project_details_refuse_an_api_token_as_playcanvas_does(pc: Emulator) -> None:
    with pytest.raises(LookupRefused) as raised:
        client(pc).get_project(102, deadline=later())

    assert raised.value.answer == '401 "Token does not have required scope"'
    assert len(pc.api_requests("GET")) == 1  # final: not retried


def test_project_details_refuse_an_api_token_for_a_project_that_does_not_exist(
    pc: Emulator,
) -> None:
    with pytest.raises(LookupRefused) as raised:
        client(pc).get_project(31337, deadline=later())

    assert raised.value.status == 401


def test_a_listing_with_an_item_that_is_not_a_project_is_refused(pc: Emulator) -> None:
    pc.faults.listing_body = {"result": [{"id": 1, "name": "a"}, {"name": "no id"}]}

    with pytest.raises(ApiError, match="unexpected shape"):
        client(pc).list_projects(STUDIO, deadline=later())


def test_a_listing_that_ends_short_of_its_announced_total_is_refused(pc: Emulator) -> None:
    pc.faults.listing_body = {
        "result": [{"id": 1, "name": "a"}],
        "pagination": {"hasMore": False, "total": 5},
    }

    with pytest.raises(ApiError, match="listed 1 of the 5 projects"):
        client(pc).list_projects(STUDIO, deadline=later())


def test_a_listing_that_never_ends_stops_at_the_page_cap(pc: Emulator) -> None:
    pc.add_organization(5, {1000 + n: f"p{n}" for n in range(MAX_PROJECT_PAGES + 1)})
    pc.faults.project_page_size = 1

    with pytest.raises(ApiError, match=f"more than {MAX_PROJECT_PAGES} pages"):
        client(pc).list_projects(5, deadline=later())
    assert len(pc.api_requests("GET")) == MAX_PROJECT_PAGES


def test_gets_one_project_with_its_owner(pc: Emulator) -> None:
    pc.faults.documented = True
    project = client(pc).get_project(102, deadline=later())

    assert project == Project(102, "Тестовый проект", STUDIO)
    assert pc.api_requests("GET")[0].path == "/api/projects/102"


def test_a_project_added_without_an_organization_has_the_default_owner(pc: Emulator) -> None:
    pc.add_project(555)
    pc.faults.documented = True

    assert client(pc).get_project(555, deadline=later()).owner_id == DEFAULT_OWNER


def test_an_unknown_project_is_a_404_that_says_to_check_project_id(pc: Emulator) -> None:
    pc.faults.documented = True
    with pytest.raises(ApiError) as raised:
        client(pc).get_project(31337, deadline=later())

    assert raised.value.status == 404
    assert "check that project-id 31337 is right" in raised.value.message


def test_a_project_item_without_a_numeric_id_is_not_a_project() -> None:
    assert Project.from_json({"id": True, "name": "x"}) is None
    assert Project.from_json({"id": "12", "name": "x"}) is None


def test_a_project_item_with_odd_fields_keeps_what_is_usable() -> None:
    assert Project.from_json({"id": 5, "name": None, "owner_id": "7"}) == Project(5, "", None)


def test_a_listing_that_repeats_its_page_is_an_error_not_a_silent_end(pc: Emulator) -> None:
    pc.faults.listing_body = {"result": [{"id": 1, "name": "a"}], "pagination": {"hasMore": True}}

    with pytest.raises(ApiError, match="kept listing the projects of account 4242"):
        client(pc).list_projects(STUDIO, deadline=later())
    assert len(pc.api_requests("GET")) == 2


def test_the_project_listing_stops_at_the_deadline_between_pages(pc: Emulator) -> None:
    pc.add_organization(5, {1000 + n: f"p{n}" for n in range(50)})
    pc.faults.project_page_size = 1
    start = time.time()

    def clock() -> float:  # every page takes five seconds
        return start + 5 * len(pc.api_requests())

    with pytest.raises(TimedOut, match="Listing the projects of account 5"):
        client(pc).list_projects(5, deadline=Deadline(start + 30, clock, 30))
    assert len(pc.api_requests("GET")) == 6
