"""The action's inputs and the environment it reads: one table, one place.

Inputs come from CLI flags, else from the runner's ``INPUT_<NAME>`` variables (hyphens
kept, ``_`` accepted), else their default. Every value is checked here, before any
network call; a bad one raises :class:`InputError` naming the input and the fix.
Nothing else in the package reads the process environment.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import templates
from .errors import InputError
from .templates import Template

DEFAULT_API_URL = "https://playcanvas.com/api"


@dataclass(frozen=True)
class Input:
    """One input of ``action.yml``: its name, default (as text) and meaning."""

    name: str
    default: str | None
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


INPUTS: tuple[Input, ...] = (
    Input("access-token", None, "PlayCanvas API token (or set PLAYCANVAS_ACCESS_TOKEN)."),
    Input(
        "project-id",
        None,
        "One or more numeric project ids, separated by commas, spaces or newlines.",
    ),
    Input("branch", "", "A branch id (UUID) or name; empty exports the main branch."),
    Input("all-branches", "false", "Export every open branch of each project."),
    Input(
        "path",
        "playcanvas-backups",
        "Directory for the archives (relative to the workspace, or absolute); created if missing.",
    ),
    Input(
        "filename",
        "{project_id}-{branch}-{timestamp}.zip",
        "File name template; fields: "
        "{project_id} {branch} {branch_id} {job_id} {timestamp} {date}.",
    ),
    Input(
        "timeout",
        "3600",
        "Seconds each archive may take, from the start of its export through the wait, "
        "the download, the check and the upload.",
    ),
    Input(
        "poll-interval", "2", "First wait between job polls, seconds; it grows with the job's age."
    ),
    Input("max-poll-interval", "30", "Upper bound of the wait between polls, seconds."),
    Input("verify", "true", "Check every zip member's CRC before the archive counts."),
    Input(
        "upload-artifact",
        None,
        "Upload each archive as a workflow artifact (default: true "
        "in GitHub Actions, false elsewhere).",
    ),
    Input(
        "artifact-name",
        "playcanvas-{project_id}-{branch}",
        "Artifact name template, same fields as filename.",
    ),
    Input(
        "retention-days", "", "Artifact retention in days, 1-90; empty = the repository's setting."
    ),
    Input("overwrite", "false", "Replace an artifact of the same name in this run."),
    Input("allow-public-repository", "false", "Upload even when the repository is public."),
    Input(
        "api-url",
        DEFAULT_API_URL,
        "PlayCanvas API base URL (https; plain http only for loopback hosts).",
    ),
)


@dataclass(frozen=True)
class ArtifactRuntime:
    """What the runner gives a container action for the artifact service."""

    runtime_token: str
    results_url: str
    retention_cap_days: int | None
    server_url: str
    repository: str
    run_id: str


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, validated."""

    access_token: str
    project_ids: tuple[int, ...]
    branch: str | None
    all_branches: bool
    workspace: Path
    output_dir: Path
    filename: Template
    artifact_name: Template
    timeout: float
    poll_interval: float
    max_poll_interval: float
    verify: bool
    retention_days: int | None
    overwrite: bool
    api_url: str
    in_github_actions: bool
    #: Set when the archives are to be uploaded as artifacts.
    artifact_runtime: ArtifactRuntime | None

    @property
    def upload_artifact(self) -> bool:
        return self.artifact_runtime is not None


def raw_inputs(env: Mapping[str, str], flags: Mapping[str, str | None]) -> dict[str, str]:
    """The given (non-empty) value of each input: flag first, then the runner's variable.

    ``flags`` maps an input name to its command-line value (``None`` when not given).
    An empty value counts as not given, so the default applies.
    """
    given: dict[str, str] = {}
    for spec in INPUTS:
        candidates = [
            flags.get(spec.name),
            env.get(f"INPUT_{spec.name.upper()}"),
            env.get(f"INPUT_{spec.dest.upper()}"),
        ]
        if spec.name == "access-token":
            candidates.append(env.get("PLAYCANVAS_ACCESS_TOKEN"))
        value = next((c.strip() for c in candidates if c and c.strip()), None)
        if value is not None:
            given[spec.name] = value
    return given


def load(given: Mapping[str, str], env: Mapping[str, str], *, cwd: Path) -> Settings:
    """Validate the inputs in ``given`` (see :func:`raw_inputs`) against the environment."""
    defaults = {spec.name: spec.default for spec in INPUTS}

    def text(name: str) -> str:
        value = given.get(name) or defaults[name]
        if value is None:
            raise InputError(name, _MISSING[name])
        return value

    in_actions = env.get("GITHUB_ACTIONS") == "true"
    workspace = Path(env.get("GITHUB_WORKSPACE") or cwd)
    output_dir = Path(text("path")).expanduser()
    if not output_dir.is_absolute():
        output_dir = workspace / output_dir

    branch = text("branch") or None
    all_branches = _boolean("all-branches", text("all-branches"))
    if branch and all_branches:
        raise InputError("branch", "set either 'branch' or 'all-branches: true', not both.")

    project_ids = _project_ids(text("project-id"))
    filename = templates.parse("filename", text("filename"))
    artifact_name = templates.parse("artifact-name", text("artifact-name"))
    for name, template in (("filename", filename), ("artifact-name", artifact_name)):
        _check_distinct(
            name, template, several_projects=len(project_ids) > 1, several_branches=all_branches
        )

    poll_interval = _seconds("poll-interval", text("poll-interval"))
    max_poll_interval = _seconds("max-poll-interval", text("max-poll-interval"))
    if poll_interval > max_poll_interval:
        raise InputError(
            "poll-interval",
            f"{poll_interval:g} s is more than max-poll-interval ({max_poll_interval:g} s); "
            "make poll-interval the smaller one.",
        )

    runtime = _artifact_runtime(env)
    upload_given = given.get("upload-artifact")
    upload = _boolean("upload-artifact", upload_given) if upload_given else in_actions
    if upload and runtime is None:
        raise InputError(
            "upload-artifact",
            "an artifact upload needs the runner's ACTIONS_RUNTIME_TOKEN and "
            "ACTIONS_RESULTS_URL, which GitHub sets only inside an Actions job (and only "
            "where the artifact service v4 exists). Set upload-artifact: false, and keep the "
            "archive another way.",
        )
    allow_public = _boolean("allow-public-repository", text("allow-public-repository"))
    if upload and not allow_public and _repository_is_public(env):
        raise InputError(
            "upload-artifact",
            "this repository is public, and anyone signed in to GitHub can download a public "
            "repository's artifacts, so the project archive would be public too. Set "
            "upload-artifact: false (and keep the archive another way), or "
            "allow-public-repository: true if that is intended.",
        )

    return Settings(
        access_token=text("access-token"),
        project_ids=project_ids,
        branch=branch,
        all_branches=all_branches,
        workspace=workspace,
        output_dir=output_dir,
        filename=filename,
        artifact_name=artifact_name,
        timeout=_seconds("timeout", text("timeout")),
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        verify=_boolean("verify", text("verify")),
        retention_days=_retention(text("retention-days")),
        overwrite=_boolean("overwrite", text("overwrite")),
        api_url=_api_url(text("api-url")),
        in_github_actions=in_actions,
        artifact_runtime=runtime if upload else None,
    )


_MISSING = {
    "access-token": "is required: pass a PlayCanvas API token (in a workflow, "
    "access-token: ${{ secrets.PLAYCANVAS_ACCESS_TOKEN }}; locally --access-token or "
    "PLAYCANVAS_ACCESS_TOKEN). Tokens are made on your PlayCanvas account page.",
    "project-id": "is required: give one or more numeric project ids (the number in "
    "https://playcanvas.com/project/<id>/...), separated by commas, spaces or newlines.",
}


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    raise InputError(name, f"'{value}' is not a boolean; use true or false.")


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(name, f"'{value}' is not a positive number of seconds (e.g. 30 or 2.5).")
    return seconds


def _retention(value: str) -> int | None:
    if not value:
        return None
    if not re.fullmatch(r"\d+", value) or not 1 <= int(value) <= 90:
        raise InputError(
            "retention-days",
            f"'{value}' is not a whole number of days from 1 to 90; leave it empty for the "
            "repository's setting.",
        )
    return int(value)


def _project_ids(value: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in re.split(r"[,\s]+", value.strip()):
        if not re.fullmatch(r"[0-9]+", part) or int(part) == 0:
            raise InputError(
                "project-id",
                f"'{part}' is not a project id; ids are positive numbers (the number in "
                "https://playcanvas.com/project/<id>/...), separated by commas, spaces or "
                "newlines.",
            )
        if int(part) not in ids:
            ids.append(int(part))
    return tuple(ids)


def _check_distinct(
    name: str, template: Template, *, several_projects: bool, several_branches: bool
) -> None:
    """Refuse a template that would give two archives of this run the same name."""
    if several_projects and not template.fields & {"project_id", "job_id"}:
        raise InputError(
            name, f"'{template.text}' gives every project the same name; add {{project_id}}."
        )
    if several_branches and not template.fields & {"branch", "branch_id", "job_id"}:
        raise InputError(
            name, f"'{template.text}' gives every branch the same name; add {{branch}}."
        )


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    host = parts.hostname or ""
    problem = None
    if parts.scheme not in {"https", "http"} or not host:
        problem = "is not an http(s) URL"
    elif parts.scheme == "http" and not is_loopback(host):
        problem = "must use https (plain http is only allowed for localhost, 127.0.0.0/8, ::1)"
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = "must not carry credentials, a query or a fragment"
    if problem:
        raise InputError("api-url", f"'{value}' {problem}; the default is {DEFAULT_API_URL}.")
    return value.rstrip("/")


def _artifact_runtime(env: Mapping[str, str]) -> ArtifactRuntime | None:
    token, results_url = env.get("ACTIONS_RUNTIME_TOKEN"), env.get("ACTIONS_RESULTS_URL")
    if not token or not results_url:
        return None
    cap = env.get("GITHUB_RETENTION_DAYS", "")
    return ArtifactRuntime(
        runtime_token=token,
        results_url=results_url,
        retention_cap_days=int(cap) if cap.isdigit() else None,
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        repository=env.get("GITHUB_REPOSITORY", ""),
        run_id=env.get("GITHUB_RUN_ID", ""),
    )


def _repository_is_public(env: Mapping[str, str]) -> bool:
    """From the event payload: ``repository.private`` false or ``visibility`` public."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if not event_path:
        return False
    try:
        payload: Any = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    repository = payload.get("repository") if isinstance(payload, dict) else None
    if not isinstance(repository, dict):
        return False
    return repository.get("private") is False or repository.get("visibility") == "public"
