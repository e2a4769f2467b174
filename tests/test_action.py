"""The action end to end: entrypoint.py in a subprocess, the runner's environment,
the PlayCanvas emulator on loopback."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyrage import x25519

from tests.conftest import ENTRYPOINT, OTHER_PROJECT, PROJECT, Action, parse_output_file
from tests.emulator import Emulator


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served_archive(emulator: Emulator, project_id: int = PROJECT, branch: int = 0) -> bytes:
    branch_id = emulator._projects[project_id].branches[branch]["id"]
    return emulator.archive_path(project_id, branch_id).read_bytes()


def signed_urls(emulator: Emulator) -> list[str]:
    return [
        f"{r.path}?X-Amz-Signature={r.query['X-Amz-Signature'][0]}" for r in emulator.downloads()
    ]


# -- the main path ---------------------------------------------------------------------------


def test_backs_up_the_main_branch_and_sets_every_output(action: Action, emulator: Emulator) -> None:
    run = action(process=True)  # entrypoint.py in a process of its own, as the runner runs it

    assert run.exit_code == 0, run.log
    path = run.outputs["path"]
    assert path.startswith("playcanvas-backups/111111-main-") and path.endswith("Z.zip")
    saved = (run.workspace / path).read_bytes()
    assert saved == served_archive(emulator)
    assert run.outputs["sha256"] == sha256(saved)
    assert run.outputs["size"] == str(len(saved))
    job_id = int(run.outputs["job-id"])
    assert run.archives == [
        {
            "project_id": PROJECT,
            "project_name": None,  # not needed, so not looked up
            "branch": "main",
            "branch_id": None,
            "job_id": job_id,
            "path": path,
            "sha256": sha256(saved),
            "size": len(saved),
            "encrypted_sha256": None,
            "encrypted_size": None,
            "artifact_id": None,
            "artifact_url": None,
            "s3_uri": None,
            "s3_version_id": None,
            "error": None,
        }
    ]
    assert "artifact-id" not in run.outputs
    # A backup by id depends on the export and job routes only.
    routes = {(r.method, r.path.rsplit("/", 1)[0]) for r in emulator.api_requests()}
    assert routes == {("POST", f"/api/projects/{PROJECT}"), ("GET", "/api/jobs")}


def test_masks_the_token_on_the_first_line_and_never_prints_it(action: Action) -> None:
    run = action()

    assert run.stdout.splitlines()[0] == f"::add-mask::{action.emulator.token}"
    rest = run.log.replace(f"::add-mask::{action.emulator.token}", "")
    assert action.emulator.token not in rest
    assert action.emulator.token not in run.summary
    assert all(action.emulator.token not in v for v in run.outputs.values())


def test_masks_the_signed_download_url_and_never_prints_it(action: Action) -> None:
    action.emulator.faults.drops = 1  # a retry message must not leak it either
    run = action()

    assert run.exit_code == 0, run.log
    signatures = {r.query["X-Amz-Signature"][0] for r in action.emulator.downloads()}
    assert signatures
    masked = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
    for signature in signatures:
        assert any(signature in line for line in masked)
        unmasked = "\n".join(line for line in run.log.splitlines() if line not in masked)
        assert signature not in unmasked
        assert signature not in run.summary + json.dumps(run.outputs)


def test_sends_the_token_to_the_api_only(action: Action, emulator: Emulator) -> None:
    action()

    assert emulator.api_requests()
    assert all(
        r.headers["Authorization"] == f"Bearer {emulator.token}" for r in emulator.api_requests()
    )
    assert emulator.downloads()
    for download in emulator.downloads():
        assert "Authorization" not in download.headers
        assert emulator.token not in json.dumps(download.headers)


def test_exports_the_main_branch_without_a_body(action: Action, emulator: Emulator) -> None:
    action()

    (export,) = emulator.api_requests("POST", "/export")
    assert export.path == f"/api/projects/{PROJECT}/export"
    assert export.body in (b"", b"{}")


def test_writes_a_step_summary_row_per_archive(action: Action) -> None:
    run = action()

    assert "| Project | Branch | Archive | Size | SHA-256 | Time | Artifact |" in run.summary
    (row,) = [line for line in run.summary.splitlines() if line.startswith(f"| {PROJECT} ")]
    assert run.outputs["path"] in row and run.outputs["sha256"] in row and "KiB" in row


def test_groups_the_log_per_archive(action: Action) -> None:
    run = action()

    assert f"::group::project {PROJECT} (main): download and verify" in run.stdout
    assert "::endgroup::" in run.stdout


def test_leaves_no_temporary_files_beside_the_archive(action: Action) -> None:
    run = action()

    assert run.files() == [run.outputs["path"].split("/")[-1]]


def test_fills_the_filename_template(action: Action) -> None:
    run = action(filename="backup_{project_id}_{branch}_{job_id}_{date}.zip", path="out/dir")

    assert run.exit_code == 0, run.log
    job = run.outputs["job-id"]
    name = run.outputs["path"]
    assert name.startswith(f"out/dir/backup_{PROJECT}_main_{job}_20")
    assert (run.workspace / name).is_file()


def test_writes_to_an_absolute_path_and_reports_it_absolute(action: Action) -> None:
    target = action.tmp_path / "elsewhere"
    run = action(path=str(target))

    assert run.exit_code == 0, run.log
    assert run.outputs["path"].startswith(str(target))
    assert "outside the workspace" in run.stdout


def test_runs_locally_with_logs_on_stderr_and_the_outputs_as_json_on_stdout(
    action: Action,
) -> None:
    run = action(github=False, process=True)

    assert run.exit_code == 0, run.log
    assert "::add-mask::" not in run.log
    assert action.emulator.token not in run.log
    outputs = json.loads(run.stdout)  # stdout is the one JSON object, nothing else
    assert {"path", "sha256", "size", "job-id", "projects", "archives"} <= set(outputs)
    assert (run.workspace / outputs["path"]).is_file()
    assert outputs["projects"] == [PROJECT]
    assert outputs["archives"][0]["sha256"] == outputs["sha256"]
    assert "export job" in run.stderr


def test_flags_win_over_the_environment(action: Action, emulator: Emulator) -> None:
    run = action("--project-id", str(OTHER_PROJECT), "--verify", "false")

    assert run.exit_code == 0, run.log
    assert run.archives[0]["project_id"] == OTHER_PROJECT


def test_takes_the_token_from_playcanvas_access_token(action: Action) -> None:
    run = action(
        github=False, access_token="", env={"PLAYCANVAS_ACCESS_TOKEN": action.emulator.token}
    )

    assert run.exit_code == 0, run.log


def test_accepts_underscore_input_names(action: Action, emulator: Emulator) -> None:
    env = action.env({})
    env["INPUT_PROJECT_ID"] = env.pop("INPUT_PROJECT-ID")
    run = action(env=env)

    assert run.exit_code == 0, run.log


def test_help_documents_every_input(action: Action) -> None:
    run = action("--help", github=False)

    assert run.exit_code == 0
    for flag in (
        "--access-token",
        "--project-id",
        "--branch",
        "--all-branches",
        "--path",
        "--filename",
        "--timeout",
        "--poll-interval",
        "--max-poll-interval",
        "--verify",
        "--upload-artifact",
        "--artifact-name",
        "--retention-days",
        "--overwrite",
        "--allow-public-repository",
        "--api-url",
    ):
        assert flag in run.stdout
    assert "PLAYCANVAS_ACCESS_TOKEN" in run.stdout
    assert not action.emulator.requests


def test_prints_debug_detail_with_runner_debug(action: Action) -> None:
    run = action(env={"RUNNER_DEBUG": "1"})

    assert "::debug::" in run.stdout
    assert "PlayCanvas API requests" in run.stdout


# -- several archives ----------------------------------------------------------------------


def test_backs_up_several_projects(action: Action, emulator: Emulator) -> None:
    run = action(project_id=f"{PROJECT}, {OTHER_PROJECT}")

    assert run.exit_code == 0, run.log
    assert [a["project_id"] for a in run.archives] == [PROJECT, OTHER_PROJECT]
    assert len(run.files()) == 2


def test_one_failure_does_not_stop_the_others(action: Action, emulator: Emulator) -> None:
    run = action(project_id=f"999 {PROJECT}")

    assert run.exit_code == 1
    failed, saved = run.archives
    assert failed["project_id"] == 999 and failed["path"] is None
    assert "Project not found" in str(failed["error"])
    assert saved["error"] is None and saved["path"] == run.outputs["path"]
    assert "::error title=Backup of project 999 (main) failed::" in run.stdout
    assert "❌" in run.summary and "Project not found" in run.summary


def test_exports_a_branch_by_name(action: Action, emulator: Emulator) -> None:
    run = action(branch="feature/physics")

    assert run.exit_code == 0, run.log
    branch = emulator._projects[PROJECT].branches[2]
    (export,) = emulator.api_requests("POST", "/export")
    assert json.loads(export.body) == {"branch_id": branch["id"]}
    assert run.archives[0]["branch"] == "feature/physics"
    assert run.archives[0]["branch_id"] == branch["id"]
    assert "111111-feature-physics-" in run.outputs["path"]
    assert (run.workspace / run.outputs["path"]).read_bytes() == served_archive(emulator, branch=2)


def test_exports_a_branch_by_id(action: Action, emulator: Emulator) -> None:
    branch = emulator._projects[PROJECT].branches[1]
    run = action(branch=branch["id"])

    assert run.exit_code == 0, run.log
    assert run.archives[0]["branch"] == "dev"


def test_an_unknown_branch_fails_and_lists_the_names(action: Action, emulator: Emulator) -> None:
    run = action(branch="nope")

    assert run.exit_code == 1
    assert "no open branch named or with the id 'nope'" in run.log
    assert "dev, feature/physics, main" in run.log
    assert not emulator.api_requests("POST")


def test_exports_every_open_branch_across_pages(action: Action, emulator: Emulator) -> None:
    emulator.add_project(333, branches=tuple(f"b{i}" for i in range(7)))
    emulator.close_branch(333, "b3")
    emulator.faults.branch_page_size = 2
    run = action(project_id="333", all_branches="true")

    assert run.exit_code == 0, run.log
    assert [a["branch"] for a in run.archives] == ["b0", "b1", "b2", "b4", "b5", "b6"]
    pages = emulator.api_requests("GET", "/branches")
    assert len(pages) == 3
    assert "skip" not in pages[0].query and pages[1].query["skip"] == [
        emulator._projects[333].branches[1]["id"]
    ]
    assert len(run.files()) == 6


def test_a_token_refused_while_planning_still_reports_every_project(
    action: Action, emulator: Emulator
) -> None:
    run = action(
        access_token="wrong-token", project_id=f"{PROJECT} {OTHER_PROJECT}", all_branches="true"
    )

    assert run.exit_code == 1
    assert len(emulator.api_requests()) == 1
    assert [a["project_id"] for a in run.archives] == [PROJECT, OTHER_PROJECT]
    assert all("refused the token" in str(a["error"]) for a in run.archives)


def test_unicode_and_lookalike_branch_names_all_get_saved(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_project(333, branches=("テスト", "修正中", "feature/x", "feature-x", "level 1"))
    run = action(project_id="333", all_branches="true")

    assert run.exit_code == 0, run.log
    files = run.files()
    assert len(files) == 5
    assert any(name.startswith("333-テスト-") for name in files)
    assert any(name.startswith("333-level 1-") for name in files)
    assert "added" in run.stdout and "from its branch id" in run.stdout


def test_a_300_character_branch_name_is_shortened_not_a_disk_error(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_project(333, branches=("main", "ü" * 300))
    run = action(project_id="333", all_branches="true")

    assert run.exit_code == 0, run.log
    assert all(len(name.encode()) <= 255 for name in run.files())
    assert "shortened its branch" in run.stdout


def test_closed_branches_are_not_exported(action: Action, emulator: Emulator) -> None:
    emulator.add_project(333, branches=("main", "old", "new"))
    emulator.close_branch(333, "old")
    run = action(project_id="333", all_branches="true")

    assert run.exit_code == 0, run.log
    assert [a["branch"] for a in run.archives] == ["main", "new"]
    # PlayCanvas lists closed branches only when asked; all-branches does not ask.
    assert [r.query.get("closed") for r in emulator.api_requests("GET", "/branches")] == [None]


def test_a_closed_branch_asked_for_by_name_says_it_is_closed(
    action: Action, emulator: Emulator
) -> None:
    emulator.close_branch(PROJECT, "dev")
    run = action(branch="dev")

    assert run.exit_code == 1
    assert "branch 'dev' exists but is closed" in run.log
    assert not emulator.api_requests("POST")


def test_the_summary_does_not_say_verified_when_verify_is_off(action: Action) -> None:
    run = action(verify="false")

    assert run.exit_code == 0, run.log
    assert "1 of 1 archive saved." in run.summary
    assert "verified" not in run.summary


def test_a_local_run_says_each_failure_and_each_saved_archive_once(
    action: Action, emulator: Emulator
) -> None:
    run = action(github=False, project_id=f"999 {PROJECT}")

    assert run.exit_code == 1
    lines = run.stderr.splitlines()
    failures = [line for line in lines if "Project not found" in line]
    assert len(failures) == 1, run.stderr
    assert failures[0].startswith("error: Backup of project 999 (main) failed: ")
    path = json.loads(run.stdout)["path"]
    assert len([line for line in lines if path in line]) == 1, run.stderr
    assert lines[-1] == "1 of 2 archives saved and verified."


def test_settings_are_echoed_in_a_group_without_the_token(action: Action) -> None:
    run = action()

    assert "::group::Settings" in run.stdout
    assert f"project-id: {PROJECT}" in run.stdout
    assert "access-token" not in run.stdout.split("::group::Settings")[1].split("::endgroup::")[0]


def test_settings_echo_user_id_exclude_encrypt_to_and_dry_run(
    action: Action, emulator: Emulator
) -> None:
    emulator.add_organization(7001, {7002: "Café Lobby", 7003: "Scratch"})
    recipient = str(x25519.Identity.generate().to_public())

    run = action(
        project_id="", user_id="7001", exclude="scratch*", encrypt_to=recipient, dry_run="true"
    )

    settings = run.stdout.split("::group::Settings")[1].split("::endgroup::")[0]
    assert run.exit_code == 0, run.log
    assert "user-id: 7001\n" in settings
    assert "exclude: scratch*\n" in settings
    assert f"encrypt-to: {recipient[:12]}...{recipient[-6:]}\n" in settings
    assert "dry-run: true\n" in settings


# -- API errors and faults -----------------------------------------------------------------


def test_an_unauthorized_token_fails_once_with_advice(action: Action, emulator: Emulator) -> None:
    run = action(access_token="wrong-token")

    assert run.exit_code == 1
    assert "401" in run.log and "Unauthorized" in run.log and "access-token" in run.log
    assert len(emulator.api_requests()) == 1
    assert "wrong-token" not in run.log.replace("::add-mask::wrong-token", "")


def test_a_refused_token_stops_the_run_with_one_message(action: Action, emulator: Emulator) -> None:
    emulator.add_project(333)
    run = action(access_token="wrong-token", project_id=f"{PROJECT} {OTHER_PROJECT} 333")

    assert run.exit_code == 1
    assert len(emulator.api_requests()) == 1
    assert len([line for line in run.stdout.splitlines() if line.startswith("::error")]) == 1
    assert [a["error"] is not None for a in run.archives] == [True, True, True]
    assert "refused the token" in str(run.archives[2]["error"])


def test_a_token_without_scope_quotes_playcanvas(action: Action, emulator: Emulator) -> None:
    emulator.faults.missing_scope = True
    run = action()

    assert run.exit_code == 1
    assert '"Token does not have required scope"' in run.log


def test_an_invalid_plan_is_final_and_explained(action: Action, emulator: Emulator) -> None:
    emulator.faults.export_status = 403
    run = action()

    assert run.exit_code == 1
    assert '403 "Invalid plan"' in run.log and "plan allows project exports" in run.log
    assert len(emulator.api_requests("POST")) == 1


def test_a_missing_project_is_final_and_explained(action: Action, emulator: Emulator) -> None:
    run = action(project_id="999")

    assert run.exit_code == 1
    assert '404 "Project not found"' in run.log and "project-id 999" in run.log
    # The export found it missing: project details were not asked for.
    assert len(emulator.api_requests("POST", "/projects/999/export")) == 1
    assert emulator.api_requests("GET") == []


def test_retries_a_burst_of_server_errors(action: Action, emulator: Emulator) -> None:
    emulator.faults.server_errors = 2
    run = action()

    assert run.exit_code == 0, run.log
    assert "503" in run.stdout


def test_a_job_in_error_fails_with_its_messages(action: Action, emulator: Emulator) -> None:
    emulator.faults.job_error = "Archive too large"
    run = action()

    assert run.exit_code == 1
    assert "ended in error: Archive too large" in run.log
    assert run.archives[0]["error"] and run.archives[0]["path"] is None
    assert "path" not in run.outputs


def test_a_complete_at_once_export_starts_its_download_within_a_third_of_a_second(
    action: Action, emulator: Emulator
) -> None:
    emulator.faults.job_polls = 0  # the export's own answer says complete, with the link
    run = action(poll_interval="5", max_poll_interval="10")

    assert run.exit_code == 0, run.log
    (export,) = emulator.api_requests("POST", "/export")
    (first_download,) = emulator.downloads()
    assert emulator.api_requests("GET", "/jobs/") == []
    # Well before the first poll would have been due; the figure itself (under 0.3 s on
    # this machine) is measured by bench/, not asserted by a timed test.
    assert first_download.at - export.at < 2.5


def test_a_complete_job_without_a_link_fails_clearly(action: Action, emulator: Emulator) -> None:
    emulator.faults.job_without_url = True
    run = action()

    assert run.exit_code == 1
    assert "gave no download link" in run.log


# -- download faults -----------------------------------------------------------------------


def test_resumes_a_dropped_download_with_range(action: Action, emulator: Emulator) -> None:
    emulator.faults.drops = 2
    emulator.faults.drop_after = 10_000
    run = action()

    assert run.exit_code == 0, run.log
    first, second, third = emulator.downloads()
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=10000-"
    assert third.headers["Range"] == "bytes=20000-"
    assert (run.workspace / run.outputs["path"]).read_bytes() == served_archive(emulator)


def test_starts_over_where_the_host_ignores_range(action: Action, emulator: Emulator) -> None:
    emulator.faults.drops = 1
    emulator.faults.no_range = True
    run = action()

    assert run.exit_code == 0, run.log
    assert "does not resume" in run.stdout
    saved = (run.workspace / run.outputs["path"]).read_bytes()
    assert saved == served_archive(emulator)
    assert run.outputs["sha256"] == sha256(saved)


def test_fetches_a_fresh_link_when_the_signed_url_expires(
    action: Action, emulator: Emulator
) -> None:
    emulator.faults.url_uses = 1
    emulator.faults.drops = 1
    run = action()

    assert run.exit_code == 0, run.log
    assert len({r.query["X-Amz-Signature"][0] for r in emulator.downloads()}) == 2
    assert "fresh one" in run.stdout
    assert (run.workspace / run.outputs["path"]).read_bytes() == served_archive(emulator)


def test_retries_a_download_host_error(action: Action, emulator: Emulator) -> None:
    emulator.faults.download_errors = 1
    run = action()

    assert run.exit_code == 0, run.log
    assert len(emulator.downloads()) == 2


def test_rejects_a_corrupt_archive_and_keeps_nothing(action: Action, emulator: Emulator) -> None:
    emulator.faults.corrupt_zip = True
    run = action()

    assert run.exit_code == 1
    assert "fails its CRC check" in run.log
    assert run.files() == []
    assert "path" not in run.outputs


def test_keeps_an_unverified_archive_when_verify_is_off(action: Action, emulator: Emulator) -> None:
    emulator.faults.corrupt_zip = True
    run = action(verify="false")

    assert run.exit_code == 0, run.log
    assert len(run.files()) == 1


# -- inputs: rejected before any request ---------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"timeout": "soon"}, "::error title=Invalid input::Input 'timeout'"),
        ({"access_token": ""}, "Input 'access-token': is required"),
        ({"project_id": ""}, "Input 'project-id': is required"),
        ({"api_url": "http://playcanvas.example/api"}, "must use https"),
        ({"upload_artifact": "true"}, "ACTIONS_RUNTIME_TOKEN"),
        ({"filename": "../escape.zip"}, "Input 'filename'"),
        ({"branch": "dev", "all_branches": "true"}, "not both"),
    ],
)
def test_an_invalid_input_exits_2_before_any_request(
    action: Action, emulator: Emulator, inputs: dict[str, str], message: str
) -> None:
    run = action(inputs=inputs)

    assert run.exit_code == 2
    assert message in run.stdout
    assert emulator.requests == []


def test_the_token_is_masked_even_when_inputs_are_invalid(action: Action) -> None:
    run = action(timeout="-1")

    assert run.stdout.splitlines()[0] == f"::add-mask::{action.emulator.token}"


def start_slow_run(action: Action) -> tuple[subprocess.Popen[str], Path]:
    """A run of two archives, once the first is saved and the second (~16 s to download)
    is on its way."""
    action.emulator.add_project(333, archive_size=4 << 20)
    action.emulator.faults.download_rate = 256 << 10
    env = action.env({"project-id": f"{PROJECT} 333"})
    action.emulator._projects[PROJECT].archive_size = 16 << 10
    process = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT)],
        cwd=action.workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = action.workspace / "playcanvas-backups"
    deadline = time.monotonic() + 30
    # The small archive saved, the big one on its way.
    while not (
        folder.exists()
        and any(p.name.endswith(".zip") for p in folder.iterdir())
        and any(p.name.endswith(".part") for p in folder.iterdir())
    ):
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)
    return process, folder


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_cancelled_run_reports_what_it_saved_and_exits_quietly(
    action: Action, signum: int, status: int
) -> None:
    process, folder = start_slow_run(action)

    process.send_signal(signum)  # SIGTERM: what the runner sends when a job is cancelled
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == status
    assert "Traceback" not in stderr
    assert [p.name for p in folder.iterdir() if p.name.endswith(".part")] == []
    outputs = parse_output_file((action.file_commands / "set_output").read_text())
    saved, stopped = json.loads(outputs["archives"])
    assert saved["error"] is None and (action.workspace / saved["path"]).is_file()
    assert "Not finished" in stopped["error"]
    assert stopped["job_id"] is not None  # recorded by the loop before its download began
    assert "1 of 2 archives saved" in (action.file_commands / "step_summary").read_text()


def test_an_unusable_path_exits_2_before_any_request(action: Action, emulator: Emulator) -> None:
    (action.workspace / "notadir").write_text("a file, not a directory")
    run = action(path="notadir/backups")

    assert run.exit_code == 2
    assert "Input 'path'" in run.stdout and "cannot be created" in run.stdout
    assert emulator.requests == []


def test_a_day_long_export_limit_ends_the_run_within_its_timeout_with_outputs(
    action: Action, emulator: Emulator
) -> None:
    emulator.faults.export_reset_in = 86_340
    started = time.monotonic()

    run = action(project_id=f"{PROJECT}, {OTHER_PROJECT}", timeout="5")

    assert time.monotonic() - started < 5 + 3
    assert run.exit_code == 1
    saved, failed = run.archives
    assert saved["error"] is None and (run.workspace / str(saved["path"])).is_file()
    assert str(failed["error"]).startswith(
        "PlayCanvas asked us to wait 23 h 59 min for the export limit; longer than 'timeout'"
    )
    assert "1 of 2 archives saved" in run.summary


def test_a_slow_account_listing_ends_within_the_timeout(action: Action, emulator: Emulator) -> None:
    emulator.add_organization(4242, {5000 + n: f"p{n}" for n in range(40)})
    emulator.faults.project_page_size = 1
    emulator.faults.listing_page_seconds = 0.5
    started = time.monotonic()

    run = action(project_id="", user_id="4242", timeout="3")

    assert time.monotonic() - started < 3 + 3
    assert run.exit_code == 1
    assert "Listing the projects of account 4242" in run.log
    assert "'timeout' (3 s)" in run.log
    assert len(emulator.api_requests("GET", "/users/")) < 10


def test_sigterm_ends_a_download_in_flight_within_seconds(action: Action) -> None:
    process, _ = start_slow_run(action)
    time.sleep(0.5)

    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 143
    assert time.monotonic() - stopped < 3


def test_a_with_key_that_is_no_input_is_warned_about_and_the_run_goes_on(
    action: Action,
) -> None:
    run = action(env={"INPUT_ALL-BRANCH": "true"})

    assert run.exit_code == 0, run.log
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert warnings == [
        "::warning title=Unknown input::`all-branch` is not an input; "
        "did you mean `all-branches`? It is ignored."
    ]
