"""The emulator's default answers as PlayCanvas does: one test per row of "What PlayCanvas
actually answers" (design notes, playcanvas-api.md), and the documented-behaviour switch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT
from tests.emulator import Emulator
from tests.emulator.server import FREE_PLAN, MISSING_SCOPE

ORG = 4242


@pytest.fixture
def pc() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.add_organization(ORG, {101: "Space Game"})
        emulator.add_project(7, branches=("main", "zeta", "Alpha", "beta"))
        emulator.add_project(8, public=True)
        yield emulator


def call(pc: Emulator, method: str, path: str, *, token: str | None = "", **kw: Any) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token or pc.token}"}
    return requests.request(method, pc.api_url + path, headers=headers, timeout=10, **kw)


# -- GET /projects/:id ----------------------------------------------------------------------------


@pytest.mark.parametrize("project_id", [101, 8, 31337])
def test_project_details_refuse_every_api_token_with_the_scope_401(
    pc: Emulator, project_id: int
) -> None:
    answer = call(pc, "GET", f"/projects/{project_id}")

    assert answer.status_code == 401 and answer.json() == MISSING_SCOPE


def test_project_details_answer_without_a_token_for_a_public_project_only(pc: Emulator) -> None:
    public, private = (
        call(pc, "GET", "/projects/8", token=None),
        call(pc, "GET", "/projects/101", token=None),
    )

    assert public.status_code == 200 and public.json()["id"] == 8
    assert private.status_code == 401


def test_the_documented_switch_answers_project_details_to_the_token(pc: Emulator) -> None:
    pc.faults.documented = True

    answer = call(pc, "GET", "/projects/101")

    assert answer.status_code == 200 and answer.json()["owner_id"] == ORG


def test_the_documented_switch_can_be_given_to_the_emulator() -> None:
    with Emulator(documented=True) as emulator:
        emulator.add_project(5)
        assert call(emulator, "GET", "/projects/5").status_code == 200


# -- GET /users/:id/projects -----------------------------------------------------------------------


def test_the_account_listing_answers_an_api_token_with_integer_ids(pc: Emulator) -> None:
    answer = call(pc, "GET", f"/users/{ORG}/projects")

    assert answer.status_code == 200
    assert [p["id"] for p in answer.json()["result"]] == [101]
    assert "pagination" not in answer.json()


# -- POST /projects/:id/export ---------------------------------------------------------------------


def test_an_export_answers_201(pc: Emulator) -> None:
    assert call(pc, "POST", "/projects/7/export").status_code == 201


def test_an_export_answers_200_with_the_switch(pc: Emulator) -> None:
    pc.faults.export_ok_status = 200

    assert call(pc, "POST", "/projects/7/export").status_code == 200


# -- GET /jobs/:id ---------------------------------------------------------------------------------


def test_a_job_has_an_integer_id_a_scope_and_no_messages_unless_it_failed(pc: Emulator) -> None:
    started = call(pc, "POST", "/projects/7/export").json()
    job = call(pc, "GET", f"/jobs/{started['id']}").json()

    assert type(job["id"]) is int
    assert job["scope"] == {"id": 7, "type": "project"}
    assert "messages" not in started and "messages" not in job
    assert job["status"] == "complete" and job["data"]["url"]


def test_a_failed_job_carries_its_messages(pc: Emulator) -> None:
    pc.faults.job_error = "Archive too large"
    started = call(pc, "POST", "/projects/7/export").json()
    job = call(pc, "GET", f"/jobs/{started['id']}").json()

    assert job["status"] == "error" and job["messages"] == ["Archive too large"]


def test_the_documented_switch_puts_messages_in_every_job(pc: Emulator) -> None:
    pc.faults.documented = True

    assert call(pc, "POST", "/projects/7/export").json()["messages"] == []


# -- GET /projects/:id/branches --------------------------------------------------------------------


def test_branches_come_in_alphabetical_order(pc: Emulator) -> None:
    answer = call(pc, "GET", "/projects/7/branches").json()

    assert [b["name"] for b in answer["result"]] == ["Alpha", "beta", "main", "zeta"]


def test_closed_branches_are_listed_only_with_closed_true(pc: Emulator) -> None:
    pc.close_branch(7, "beta")

    open_ = call(pc, "GET", "/projects/7/branches").json()["result"]
    closed = call(pc, "GET", "/projects/7/branches", params={"closed": "true"}).json()["result"]

    assert [b["name"] for b in open_] == ["Alpha", "main", "zeta"]
    assert [(b["name"], b["closed"]) for b in closed] == [("beta", True)]


def test_branches_page_by_limit_has_more_and_skip(pc: Emulator) -> None:
    first = call(pc, "GET", "/projects/7/branches", params={"limit": "3"}).json()
    last_id = first["result"][-1]["id"]
    second = call(pc, "GET", "/projects/7/branches", params={"limit": "3", "skip": last_id}).json()

    assert len(first["result"]) == 3 and first["pagination"] == {"hasMore": True}
    assert [b["name"] for b in second["result"]] == ["zeta"]
    assert second["pagination"] == {"hasMore": False}


# -- rate limits -----------------------------------------------------------------------------------


def test_the_free_plan_allows_5_exports_and_120_other_requests_a_minute() -> None:
    with Emulator(clock=lambda: 1_800_000_001.0) as pc:  # time stands still: one window
        pc.add_project(7)
        export = call(pc, "POST", "/projects/7/export")
        branches = call(pc, "GET", "/projects/7/branches")
        statuses = [call(pc, "POST", "/projects/7/export").status_code for _ in range(5)]

    assert export.headers["X-RateLimit-Limit"] == str(FREE_PLAN["strict"]) == "5"
    assert branches.headers["X-RateLimit-Limit"] == str(FREE_PLAN["normal"]) == "120"
    assert statuses == [201, 201, 201, 201, 429]


def test_a_429_carries_the_reset_but_no_retry_after(pc: Emulator) -> None:
    pc.faults.rate_limited = 1

    answer = call(pc, "GET", "/projects/7/branches")

    assert answer.status_code == 429
    assert "X-RateLimit-Reset" in answer.headers and "Retry-After" not in answer.headers


def test_a_429_carries_retry_after_with_the_switch(pc: Emulator) -> None:
    pc.faults.rate_limited, pc.faults.retry_after = 1, True

    assert "Retry-After" in call(pc, "GET", "/projects/7/branches").headers


def test_the_ratelimits_route_reports_the_plan(pc: Emulator) -> None:
    answer = call(pc, "GET", "/ratelimits")

    assert answer.json() == {"limits": {"strict": 5, "normal": 120}}


# -- data.url --------------------------------------------------------------------------------------


def test_the_download_link_is_absolute_on_another_host_and_needs_no_token(pc: Emulator) -> None:
    started = call(pc, "POST", "/projects/7/export").json()
    url = call(pc, "GET", f"/jobs/{started['id']}").json()["data"]["url"]

    assert urlsplit(url).hostname != urlsplit(pc.api_url).hostname
    assert requests.get(url, timeout=10).status_code == 200


# -- started by hand, to try the command line ----------------------------------------------------


def test_started_by_hand_it_prints_its_api_url_and_a_backup_against_it_works(
    tmp_path: Path,
) -> None:
    emulator = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None and emulator.stderr is not None
        api_url = emulator.stdout.readline().strip()
        hint = emulator.stderr.readline() + emulator.stderr.readline()
        token = hint.split("export PLAYCANVAS_ACCESS_TOKEN=")[1].split()[0]
        backup = subprocess.run(
            [sys.executable, str(ROOT / "entrypoint.py"), "--api-url", api_url,
             "--project-id", "123456", "--all-branches"],
            cwd=tmp_path, env={"PATH": os.environ["PATH"], "PLAYCANVAS_ACCESS_TOKEN": token},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        emulator.send_signal(signal.SIGINT)
        stopped = emulator.wait(timeout=30)

    assert urlsplit(api_url).hostname == "127.0.0.1"
    assert backup.returncode == 0, backup.stderr
    assert "2 of 2 archives saved and verified." in backup.stderr
    assert len(list((tmp_path / "playcanvas-backups").glob("123456-*.zip"))) == 2
    assert stopped == 0
