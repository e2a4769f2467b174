"""The action's inputs and the environment it reads: one table, one place.

Inputs come from CLI flags, else from the runner's ``INPUT_<NAME>`` variables (hyphens
kept, ``_`` accepted), else their default. Every value is checked here, before any
network call; a bad one raises :class:`InputError` naming the input and the fix.
Nothing else in the package reads the process environment.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import s3uri, templates, visibility
from .download.urls import is_loopback
from .errors import InputError
from .http import Network
from .inputs import (
    MAX_ID_DIGITS,
    parse_boolean,
    parse_retention_cap,
    parse_retention_days,
    parse_user_id,
)
from .s3uri import S3Uri
from .templates import Template

if TYPE_CHECKING:
    from .encrypt import Recipient
    from .projects import Exclusions

DEFAULT_API_URL = "https://playcanvas.com/api"
#: The longest ``timeout`` accepted: a week.
MAX_TIMEOUT = 7 * 24 * 3600
#: The longest poll interval accepted: an hour.
MAX_POLL_INTERVAL = 3600
#: The longest token accepted (PlayCanvas's are 32 characters).
_MAX_TOKEN = 4096


@dataclass(frozen=True)
class Input:
    """One input of ``action.yml``: its name, default (as text) and meaning; a ``boolean``
    input's flag may stand alone (``--verify``) or take a value (``--verify false``)."""

    name: str
    default: str | None
    help: str
    boolean: bool = False

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
        "",
        "One or more numeric project ids, separated by commas, spaces or newlines "
        "(this, user-id, or both).",
    ),
    Input(
        "user-id",
        "",
        "A PlayCanvas user or organization account id: every project it lists is backed "
        "up too (a project's owner_id, printed for each project backed up).",
    ),
    Input(
        "exclude",
        "",
        "Project ids or name patterns (fnmatch, case-insensitive), separated by newlines "
        "or commas, to leave out.",
    ),
    Input("branch", "", "A branch id (UUID) or name; empty exports the main branch."),
    Input("all-branches", "false", "Export every open branch of each project.", boolean=True),
    Input(
        "path",
        "playcanvas-backups",
        "Directory for the archives (relative to the workspace, or absolute); created if missing.",
    ),
    Input(
        "filename",
        "{project_id}-{branch}-{timestamp}.zip",
        "File name template; fields: {project_id} {project_name} {branch} {branch_id} "
        "{job_id} {timestamp} {date}.",
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
    Input(
        "verify", "true", "Check every zip member's CRC before the archive counts.", boolean=True
    ),
    Input(
        "upload-artifact",
        None,
        "Upload each archive as a workflow artifact (default: true "
        "in GitHub Actions, false elsewhere).",
        boolean=True,
    ),
    Input(
        "artifact-name",
        "playcanvas-{project_id}-{branch}",
        "Artifact name template, same fields as filename.",
    ),
    Input(
        "retention-days",
        "",
        "Artifact retention in days, 1-400 (90 in public repositories), capped by the "
        "repository's setting; empty = the repository's setting.",
    ),
    Input("overwrite", "false", "Replace an artifact of the same name in this run.", boolean=True),
    Input(
        "allow-public-repository",
        "false",
        "Upload even when the repository is public or its visibility is unknown "
        "(not needed with encrypt-to).",
        boolean=True,
    ),
    Input(
        "encrypt-to",
        "",
        "age recipients (age1..., ssh-ed25519 ..., ssh-rsa ...), one per line: each "
        "verified archive is kept and uploaded only as <name>.age, encrypted to all of them.",
    ),
    Input(
        "dry-run",
        "false",
        "Plan everything (projects, branches, names, checks) and set the outputs, "
        "without exporting anything.",
        boolean=True,
    ),
    Input(
        "s3-uri",
        "",
        "Also store each archive (or its .age) in an S3-compatible bucket: "
        "s3://bucket/prefix/..., with the filename fields plus {file} (the archive's file "
        "name). Credentials from the standard AWS_* environment.",
    ),
    Input(
        "s3-endpoint-url",
        "",
        "Endpoint of an S3-compatible store (R2, B2, MinIO, ...); empty = AWS. https; plain "
        "http only for loopback hosts.",
    ),
    Input("s3-region", "", "The bucket's region, when the store needs one."),
    Input(
        "github-token",
        "",
        "GitHub token, used only to ask GitHub's REST API (GITHUB_API_URL) whether the "
        "repository is public when the event payload does not say (default in action.yml: "
        "the job's token).",
    ),
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
    #: The account whose every project is backed up too (``user-id``).
    user_id: int | None
    exclusions: Exclusions
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
    #: Every connection's network settings from the environment: ``HTTPS_PROXY``/
    #: ``NO_PROXY`` and a CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``), nothing
    #: else (:func:`http.session` makes every session from them).
    network: Network
    #: age recipients (``encrypt-to``); empty = archives are kept as they are.
    recipients: tuple[Recipient, ...]
    dry_run: bool
    #: Set when the archives are to be uploaded as artifacts.
    artifact_runtime: ArtifactRuntime | None
    #: Where each archive is stored in S3 too (``s3-uri``), and how to reach the store.
    s3_uri: S3Uri | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    #: The store's credentials from the environment (``AWS_*``); never printed.
    s3_env: Mapping[str, str] = field(default_factory=dict, repr=False)

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


def unknown_inputs(env: Mapping[str, str]) -> list[str]:
    """A warning for each ``INPUT_*`` variable that names no input, with the nearest one.

    Under ``uses: docker://...`` the runner reads no action.yml: it passes every ``with:``
    key through as ``INPUT_<KEY>`` (upper-cased, blanks as ``_``) and applies no default,
    so a misspelt key would otherwise be ignored without a word. Both spellings of an
    input (``INPUT_PROJECT-ID``, ``INPUT_PROJECT_ID``) are known.
    """
    known = {f"INPUT_{n.upper()}" for s in INPUTS for n in (s.name, s.dest)}
    names = [spec.name for spec in INPUTS]
    warnings = []
    for variable in sorted(env):
        if not variable.startswith("INPUT_") or variable in known:
            continue
        key = variable.removeprefix("INPUT_").lower()
        nearest = difflib.get_close_matches(key.replace("_", "-"), names, n=1, cutoff=0.6)
        hint = f"; did you mean `{nearest[0]}`?" if nearest else "."
        warnings.append(f"`{key}` is not an input{hint} It is ignored.")
    return warnings


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
    all_branches = parse_boolean("all-branches", text("all-branches"), default=False)
    if branch and all_branches:
        raise InputError("branch", "set either 'branch' or 'all-branches: true', not both.")

    access_token = _token(text("access-token"))
    project_ids = _project_ids(text("project-id"))
    user_id = parse_user_id(text("user-id"))
    if not project_ids and user_id is None:
        raise InputError("project-id", _MISSING["project-id"])
    exclusions = _exclusions(text("exclude"), project_ids)
    several_projects = len(project_ids) > 1 or user_id is not None
    filename = templates.parse("filename", text("filename"))
    artifact_name = templates.parse("artifact-name", text("artifact-name"))
    for name, template in (("filename", filename), ("artifact-name", artifact_name)):
        _check_distinct(
            name, template, several_projects=several_projects, several_branches=all_branches
        )

    poll_interval = _seconds("poll-interval", text("poll-interval"), MAX_POLL_INTERVAL)
    max_poll_interval = _seconds("max-poll-interval", text("max-poll-interval"), MAX_POLL_INTERVAL)
    if poll_interval > max_poll_interval:
        raise InputError(
            "poll-interval",
            f"{poll_interval:g} s is more than max-poll-interval ({max_poll_interval:g} s); "
            "make poll-interval the smaller one.",
        )

    recipients = _recipients(text("encrypt-to"))
    runtime = _artifact_runtime(env)
    upload = parse_boolean("upload-artifact", given.get("upload-artifact", ""), default=in_actions)
    if upload and runtime is None:
        raise InputError(
            "upload-artifact",
            "an artifact upload needs the runner's ACTIONS_RUNTIME_TOKEN and "
            "ACTIONS_RESULTS_URL, which GitHub sets only inside an Actions job (and only "
            "where the artifact service v4 exists). Set upload-artifact: false, and keep the "
            "archive another way.",
        )
    allow_public = parse_boolean(
        "allow-public-repository", text("allow-public-repository"), default=False
    )
    if upload and not recipients and not allow_public:
        _check_not_public(env, github_token=text("github-token"))

    return Settings(
        access_token=access_token,
        project_ids=project_ids,
        user_id=user_id,
        exclusions=exclusions,
        branch=branch,
        all_branches=all_branches,
        workspace=workspace,
        output_dir=output_dir,
        filename=filename,
        artifact_name=artifact_name,
        timeout=_seconds("timeout", text("timeout"), MAX_TIMEOUT),
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        verify=parse_boolean("verify", text("verify"), default=False),
        retention_days=parse_retention_days(text("retention-days")),
        overwrite=parse_boolean("overwrite", text("overwrite"), default=False),
        api_url=_api_url(text("api-url")),
        in_github_actions=in_actions,
        network=Network.from_env(env),
        recipients=recipients,
        dry_run=parse_boolean("dry-run", text("dry-run"), default=False),
        artifact_runtime=runtime if upload else None,
        **_s3(text, env),
    )


def _check_not_public(env: Mapping[str, str], *, github_token: str) -> None:
    """Refuse an unencrypted upload where the repository is (or may be) public: the
    event payload says, else GitHub's API (``GITHUB_API_URL``, with ``github-token``)."""
    answer = visibility.find_visibility(
        event_path=env.get("GITHUB_EVENT_PATH"),
        api_url=_github_api_url(env.get("GITHUB_API_URL") or visibility.DEFAULT_GITHUB_API_URL),
        repository=env.get("GITHUB_REPOSITORY", ""),
        token=github_token,
    )
    refusal = visibility.upload_refusal(
        answer.visibility,
        allow_public_repository=False,
        encrypted=False,
        why_unknown=answer.why_unknown,
    )
    if refusal is not None:
        raise refusal


def _github_api_url(value: str) -> str | None:
    """GitHub's REST API base URL, where ``github-token`` may be sent: https (plain http
    only to a loopback host), no credentials or query; else None."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    usable = (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))) and not (
        parts.username or parts.password or parts.query or parts.fragment
    )
    return value if host and usable else None


_MISSING = {
    "access-token": "is required: pass a PlayCanvas API token (in a workflow, "
    "access-token: ${{ secrets.PLAYCANVAS_ACCESS_TOKEN }}; locally --access-token or "
    "PLAYCANVAS_ACCESS_TOKEN). Tokens are made on your PlayCanvas account page.",
    "project-id": "is required unless user-id is given: give one or more numeric project "
    "ids (the number in https://playcanvas.com/project/<id>/...), separated by commas, "
    "spaces or newlines, or user-id to back up every project of an account.",
}


def _token(value: str) -> str:
    """The token as sent in an HTTP header: visible ASCII, no blanks. Never echoed."""
    if not re.fullmatch(r"[!-~]+", value) or len(value) > _MAX_TOKEN:
        raise InputError(
            "access-token",
            "is not a PlayCanvas API token: a token is visible ASCII characters without "
            "spaces or line breaks (the value is not shown here). Copy it again from the "
            "PlayCanvas account page into the secret.",
        )
    return value


def _seconds(name: str, value: str, maximum: float) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(name, f"'{value}' is not a positive number of seconds (e.g. 30 or 2.5).")
    if seconds > maximum:
        raise InputError(name, f"{seconds:g} s is more than the most allowed, {maximum:g} s.")
    return seconds


def _project_ids(value: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in re.split(r"[,\s]+", value.strip()) if value.strip() else ():
        if not re.fullmatch(rf"[0-9]{{1,{MAX_ID_DIGITS}}}", part) or int(part) == 0:
            raise InputError(
                "project-id",
                f"'{part}' is not a project id; ids are positive numbers of at most "
                f"{MAX_ID_DIGITS} digits (the number in "
                "https://playcanvas.com/project/<id>/...), separated by commas, spaces or "
                "newlines.",
            )
        if int(part) not in ids:
            ids.append(int(part))
    return tuple(ids)


def _exclusions(value: str, project_ids: tuple[int, ...]) -> Exclusions:
    from .projects import Exclusions, exclude_conflict, parse_exclude  # noqa: PLC0415

    if not value:
        return Exclusions()
    exclusions = parse_exclude(value)
    conflict = exclude_conflict(project_ids, exclusions)
    if conflict is not None:
        raise conflict
    return exclusions


def _recipients(value: str) -> tuple[Recipient, ...]:
    if not value:
        return ()
    # Imported only when asked for: pyrage is a compiled extension.
    from .encrypt import parse_recipients  # noqa: PLC0415

    return parse_recipients(value)


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


def _api_url(value: str) -> str:
    return check_endpoint_url("api-url", value, DEFAULT_API_URL)


def check_endpoint_url(name: str, value: str, default: str) -> str:
    """An http(s) base URL: https, or plain http for a loopback host; no credentials."""
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
        raise InputError(name, f"'{value}' {problem}; the default is {default}.")
    return value.rstrip("/")


def _s3(text: Callable[[str], str], env: Mapping[str, str]) -> dict[str, Any]:
    """The S3 destination's settings (empty when ``s3-uri`` is not set)."""
    endpoint, region = text("s3-endpoint-url") or None, text("s3-region") or None
    if not text("s3-uri"):
        for name, value in (("s3-endpoint-url", endpoint), ("s3-region", region)):
            if value:
                raise InputError(name, "is set but s3-uri is not; set s3-uri too, or neither.")
        return {}
    if endpoint is not None:
        endpoint = check_endpoint_url("s3-endpoint-url", endpoint, "empty (AWS)")
    if region is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", region):
        raise InputError("s3-region", f"'{region}' is not a region name (e.g. eu-west-1, auto).")
    return {
        "s3_uri": s3uri.parse(text("s3-uri")),
        "s3_endpoint_url": endpoint,
        "s3_region": region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        "s3_env": {k: v for k, v in env.items() if k in s3uri.CREDENTIAL_ENV and v},
    }


def _artifact_runtime(env: Mapping[str, str]) -> ArtifactRuntime | None:
    token, results_url = env.get("ACTIONS_RUNTIME_TOKEN"), env.get("ACTIONS_RESULTS_URL")
    if not token or not results_url:
        return None
    return ArtifactRuntime(
        runtime_token=token,
        results_url=results_url,
        retention_cap_days=parse_retention_cap(env.get("GITHUB_RETENTION_DAYS")),
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        repository=env.get("GITHUB_REPOSITORY", ""),
        run_id=env.get("GITHUB_RUN_ID", ""),
    )
