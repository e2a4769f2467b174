"""The action's inputs and the environment it reads: one table, one place.

:data:`INPUTS` holds every input once: its name, default, help, its parser (text in,
value out) and its line in the settings echo; ``action.yml``, ``--help`` and the echo
are checked against it. Rules between inputs (``branch`` or ``all-branches``, names
distinct across archives, ...) follow the parsers, in :func:`load`.

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
from urllib.parse import urlsplit, urlunsplit

from . import s3uri, templates, visibility
from .download.urls import is_loopback
from .errors import InputError
from .network import Network
from .s3uri import S3Uri
from .templates import Template
from .untrusted import quoted as _shown

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
#: The shortest secret accepted: the runner's masks (and :mod:`untrusted`'s redaction)
#: leave shorter values alone, so a shorter one could not be kept out of the log.
MIN_SECRET = 8
#: Days an artifact can be kept: GitHub allows up to 400 in private and internal
#: repositories (90 in public ones); the repository's own setting caps it.
MAX_RETENTION_DAYS = 400
#: Digits in an account id (PlayCanvas ids are JSON numbers; 18 digits stay below 2**63).
MAX_ID_DIGITS = 18


# -- each input's parser (its text in, its value out, or InputError naming it) ---------


def parse_user_id(value: str) -> int | None:
    """``user-id``: a PlayCanvas user or organization account id, or None when empty."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(rf"[0-9]{{1,{MAX_ID_DIGITS}}}", value) or int(value) == 0:
        raise InputError(
            "user-id",
            f"{_shown(value)} is not an account id; give the numeric id of a PlayCanvas "
            "user or organization account (a project's owner_id, which the action prints "
            "for each project it backs up).",
        )
    return int(value)


def parse_boolean(name: str, value: str, *, default: bool) -> bool:
    """A boolean input: ``true``/``false`` in any case (YAML 1.2 core schema); empty = default."""
    lowered = value.strip().lower()
    if not lowered:
        return default
    if lowered in {"true", "false"}:
        return lowered == "true"
    raise InputError(name, f"{_shown(value)} is not a boolean; use true or false.")


def parse_retention_days(value: str) -> int | None:
    """``retention-days``: 1-400, or None when empty (the repository's setting applies)."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_RETENTION_DAYS:
        raise InputError(
            "retention-days",
            f"{_shown(value)} is not a whole number of days from 1 to {MAX_RETENTION_DAYS} "
            "(GitHub keeps artifacts up to 90 days in public repositories, 400 in private "
            "and internal ones); leave it empty for the repository's setting.",
        )
    return int(value)


def parse_retention_cap(value: str | None) -> int | None:
    """``GITHUB_RETENTION_DAYS``, the repository's cap: None when unset, empty, 0 or not
    a number (no known cap)."""
    value = (value or "").strip()
    if not re.fullmatch(r"[0-9]{1,4}", value) or int(value) == 0:
        return None
    return int(value)


def _boolean(name: str, *, default: bool | None = False) -> Callable[[str], Any]:
    """The parser of a boolean input; an empty value is ``default`` (None: decided later)."""

    def parse(value: str) -> bool | None:
        if not value.strip():
            return default
        return parse_boolean(name, value, default=False)

    return parse


def _bool(value: bool) -> str:
    return str(value).lower()


def _github_token(value: str) -> str:
    _long_enough("github-token", value, "GitHub's tokens are 40 characters or more")
    return value


def _s3_endpoint_url(value: str) -> str | None:
    return check_endpoint_url("s3-endpoint-url", value, "empty (AWS)") if value else None


def _s3_region(value: str) -> str | None:
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise InputError("s3-region", f"'{value}' is not a region name (e.g. eu-west-1, auto).")
    return value or None


def _token(value: str) -> str:
    """The token as sent in an HTTP header: visible ASCII, no blanks, at least
    ``MIN_SECRET`` characters (a shorter one could not be masked). Never echoed."""
    if not re.fullmatch(r"[!-~]+", value) or len(value) > _MAX_TOKEN:
        raise InputError(
            "access-token",
            "is not a PlayCanvas API token: a token is visible ASCII characters without "
            "spaces or line breaks (the value is not shown here). Copy it again from the "
            "PlayCanvas account page into the secret.",
        )
    _long_enough("access-token", value, "PlayCanvas API tokens are 32 characters")
    return value


def _long_enough(name: str, value: str, usual: str) -> None:
    """Refuse a secret shorter than ``MIN_SECRET`` characters: the log could not hide it
    (masks ignore shorter values so that they never garble the log)."""
    if value and len(value) < MIN_SECRET:
        raise InputError(
            name,
            f"is {len(value)} characters long, too short to be a real secret: {usual}; "
            "check the secret (a value this short could not be hidden in the log).",
        )


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


def _exclusions(value: str) -> Exclusions:
    from .projects import Exclusions, parse_exclude  # noqa: PLC0415

    return parse_exclude(value) if value else Exclusions()


def _recipients(value: str) -> tuple[Recipient, ...]:
    if not value:
        return ()
    # Imported only when asked for: pyrage is a compiled extension.
    from .encrypt import parse_recipients  # noqa: PLC0415

    return parse_recipients(value)


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
        raise InputError(
            name, f"'{_without_credentials(value)}' {problem}; the default is {default}."
        )
    return value.rstrip("/")


def _without_credentials(url: str) -> str:
    """``url`` as an error may show it: a user name, password or query replaced by ``***``.

    >>> _without_credentials("https://key:secret@minio.example/?x=1")
    'https://***@minio.example/?***'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and "***"))


@dataclass(frozen=True)
class Input:
    """One input of ``action.yml``: its name, default (as text) and meaning; a ``boolean``
    input's flag may stand alone (``--verify``) or take a value (``--verify false``).

    ``parse`` turns the input's text (its default when not given; empty = none) into its
    value or raises :class:`InputError` naming it; ``shown`` is the line the settings
    echo prints for it (None: not echoed, a secret or implied by the others).
    """

    name: str
    default: str | None
    help: str
    boolean: bool = False
    parse: Callable[[str], Any] = str
    shown: Callable[[Settings], str] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


INPUTS: tuple[Input, ...] = (
    Input(
        "access-token",
        None,
        "PlayCanvas API token (or set PLAYCANVAS_ACCESS_TOKEN).",
        parse=_token,
    ),
    Input(
        "project-id",
        "",
        "One or more numeric project ids, separated by commas, spaces or newlines "
        "(this, user-id, or both).",
        parse=_project_ids,
        shown=lambda s: " ".join(str(p) for p in s.project_ids) or "(none)",
    ),
    Input(
        "user-id",
        "",
        "A PlayCanvas user or organization account id: every project it lists is backed "
        "up too (a project's owner_id, printed for each project the account lists).",
        parse=parse_user_id,
        shown=lambda s: str(s.user_id or "(none)"),
    ),
    Input(
        "exclude",
        "",
        "Project ids or name patterns (fnmatch, case-insensitive), separated by newlines "
        "or commas, to leave out.",
        parse=_exclusions,
        shown=lambda s: (
            ", ".join([*map(str, sorted(s.exclusions.ids)), *s.exclusions.patterns]) or "(none)"
        ),
    ),
    Input(
        "branch",
        "",
        "A branch id (UUID) or name; empty exports the main branch.",
        parse=lambda value: value or None,
        shown=lambda s: s.branch or "(main branch)",
    ),
    Input(
        "all-branches",
        "false",
        "Export every open branch of each project.",
        boolean=True,
        parse=_boolean("all-branches"),
        shown=lambda s: _bool(s.all_branches),
    ),
    Input(
        "path",
        "playcanvas-backups",
        "Directory for the archives (relative to the workspace, the current directory "
        "outside Actions, or absolute); created if missing.",
        parse=lambda value: Path(value).expanduser(),
        shown=lambda s: str(s.output_dir),
    ),
    Input(
        "filename",
        "{project_id}-{branch}-{timestamp}.zip",
        "File name template; fields: {project_id} {project_name} {branch} {branch_id} "
        "{job_id} {timestamp} {date}.",
        parse=lambda value: templates.parse("filename", value),
        shown=lambda s: s.filename.text,
    ),
    Input(
        "timeout",
        "3600",
        "Seconds each archive may take, from the start of its export through the wait, "
        "the download, the check, the encryption and the uploads (at most a week).",
        parse=lambda value: _seconds("timeout", value, MAX_TIMEOUT),
        shown=lambda s: f"{s.timeout:g} s per archive",
    ),
    Input(
        "poll-interval",
        "2",
        "First wait between job polls, seconds; it grows with the job's age.",
        parse=lambda value: _seconds("poll-interval", value, MAX_POLL_INTERVAL),
        shown=lambda s: f"{s.poll_interval:g} s",
    ),
    Input(
        "max-poll-interval",
        "30",
        "Upper bound of the wait between polls, seconds.",
        parse=lambda value: _seconds("max-poll-interval", value, MAX_POLL_INTERVAL),
        shown=lambda s: f"{s.max_poll_interval:g} s",
    ),
    Input(
        "verify",
        "true",
        "Check every zip member's CRC before the archive counts.",
        boolean=True,
        parse=_boolean("verify"),
        shown=lambda s: _bool(s.verify),
    ),
    Input(
        "upload-artifact",
        None,
        "Upload each archive as a workflow artifact (default: true "
        "in GitHub Actions, false elsewhere).",
        boolean=True,
        parse=_boolean("upload-artifact", default=None),
        shown=lambda s: _bool(s.upload_artifact),
    ),
    Input(
        "artifact-name",
        "playcanvas-{project_id}-{branch}",
        "Artifact name template, same fields as filename.",
        parse=lambda value: templates.parse("artifact-name", value),
        shown=lambda s: s.artifact_name.text,
    ),
    Input(
        "retention-days",
        "",
        "Artifact retention in days, 1-400 (90 in public repositories), capped by the "
        "repository's setting; empty = the repository's setting.",
        parse=parse_retention_days,
        shown=lambda s: str(s.retention_days or "(repository default)"),
    ),
    Input(
        "overwrite",
        "false",
        "Replace an artifact of the same name in this run.",
        boolean=True,
        parse=_boolean("overwrite"),
        shown=lambda s: _bool(s.overwrite),
    ),
    Input(
        "allow-public-repository",
        "false",
        "Upload even when the repository is public or its visibility is unknown "
        "(not needed with encrypt-to).",
        boolean=True,
        parse=_boolean("allow-public-repository"),
    ),
    Input(
        "encrypt-to",
        "",
        "age recipients (age1..., ssh-ed25519 ..., ssh-rsa ...), one per line: each "
        "verified archive is kept and uploaded only as <name>.age, encrypted to all of them.",
        parse=_recipients,
        shown=lambda s: ", ".join(r.label for r in s.recipients) or "(not encrypted)",
    ),
    Input(
        "dry-run",
        "false",
        "Plan everything (projects, branches, names, checks) and set the outputs, "
        "without exporting anything.",
        boolean=True,
        parse=_boolean("dry-run"),
        shown=lambda s: _bool(s.dry_run),
    ),
    Input(
        "s3-uri",
        "",
        "Also store each archive (or its .age) in an S3-compatible bucket: "
        "s3://bucket/prefix/..., with the filename fields plus {file} (the archive's file "
        "name). Credentials from the standard AWS_* environment.",
        parse=lambda value: s3uri.parse(value) if value else None,
        shown=lambda s: s.s3_uri.text if s.s3_uri else "(not stored in S3)",
    ),
    Input(
        "s3-endpoint-url",
        "",
        "Endpoint of an S3-compatible store (R2, B2, MinIO, ...); empty = AWS. https; plain "
        "http only for loopback hosts.",
        parse=_s3_endpoint_url,
        shown=lambda s: s.s3_endpoint_url or "(AWS)",
    ),
    Input(
        "s3-region",
        "",
        "The bucket's region, when the store needs one (else AWS_REGION).",
        parse=_s3_region,
        shown=lambda s: s.s3_region or "(the store's default)",
    ),
    Input(
        "github-token",
        "",
        "GitHub token, used only to ask GitHub's REST API (GITHUB_API_URL) whether the "
        "repository is public when the event payload does not say (default in action.yml: "
        "the job's token).",
        parse=_github_token,
    ),
    Input(
        "api-url",
        DEFAULT_API_URL,
        "PlayCanvas API base URL (https; plain http only for loopback hosts).",
        parse=_api_url,
        shown=lambda s: s.api_url,
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


def parse_inputs(given: Mapping[str, str]) -> dict[str, Any]:
    """Each input's value, by its row's parser: the given text, else its default."""
    values: dict[str, Any] = {}
    for spec in INPUTS:
        text = given.get(spec.name) or spec.default or ""
        if not text and spec.name in _MISSING and spec.name != "project-id":
            raise InputError(spec.name, _MISSING[spec.name])
        values[spec.name] = spec.parse(text)
    return values


def load(given: Mapping[str, str], env: Mapping[str, str], *, cwd: Path) -> Settings:
    """Validate the inputs in ``given`` (see :func:`raw_inputs`) against the environment."""
    values = parse_inputs(given)
    _check_together(values)
    in_actions = env.get("GITHUB_ACTIONS") == "true"
    runtime = _artifact_runtime(env)
    upload = in_actions if values["upload-artifact"] is None else values["upload-artifact"]
    if upload and runtime is None:
        raise InputError(
            "upload-artifact",
            "an artifact upload needs the runner's ACTIONS_RUNTIME_TOKEN and "
            "ACTIONS_RESULTS_URL, which GitHub sets only inside an Actions job (and only "
            "where the artifact service v4 exists). Set upload-artifact: false, and keep the "
            "archive another way.",
        )
    s3 = _s3(values, env)
    # Last: the one check that may ask the network (GitHub's API), after every input's.
    if upload and not values["encrypt-to"] and not values["allow-public-repository"]:
        _check_not_public(env, github_token=values["github-token"])
    workspace = Path(env.get("GITHUB_WORKSPACE") or cwd)
    return Settings(
        access_token=values["access-token"],
        project_ids=values["project-id"],
        user_id=values["user-id"],
        exclusions=values["exclude"],
        branch=values["branch"],
        all_branches=values["all-branches"],
        workspace=workspace,
        output_dir=workspace / values["path"],  # an absolute path stays as it is
        filename=values["filename"],
        artifact_name=values["artifact-name"],
        timeout=values["timeout"],
        poll_interval=values["poll-interval"],
        max_poll_interval=values["max-poll-interval"],
        verify=values["verify"],
        retention_days=values["retention-days"],
        overwrite=values["overwrite"],
        api_url=values["api-url"],
        in_github_actions=in_actions,
        network=Network.from_env(env),
        recipients=values["encrypt-to"],
        dry_run=values["dry-run"],
        artifact_runtime=runtime if upload else None,
        **s3,
    )


def _check_together(values: Mapping[str, Any]) -> None:
    """The rules between inputs: what one allows of another."""
    if values["branch"] and values["all-branches"]:
        raise InputError("branch", "set either 'branch' or 'all-branches: true', not both.")
    project_ids, user_id = values["project-id"], values["user-id"]
    if not project_ids and user_id is None:
        raise InputError("project-id", _MISSING["project-id"])
    if values["exclude"]:
        from .projects import exclude_conflict  # noqa: PLC0415

        conflict = exclude_conflict(project_ids, values["exclude"])
        if conflict is not None:
            raise conflict
    several_projects = len(project_ids) > 1 or user_id is not None
    for name in ("filename", "artifact-name"):
        _check_distinct(
            name,
            values[name],
            several_projects=several_projects,
            several_branches=values["all-branches"],
        )
    poll_interval, max_poll_interval = values["poll-interval"], values["max-poll-interval"]
    if poll_interval > max_poll_interval:
        raise InputError(
            "poll-interval",
            f"{poll_interval:g} s is more than max-poll-interval ({max_poll_interval:g} s); "
            "make poll-interval the smaller one.",
        )


def _s3(values: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The S3 destination's settings (empty when ``s3-uri`` is not set)."""
    endpoint, region = values["s3-endpoint-url"], values["s3-region"]
    if values["s3-uri"] is None:
        for name, value in (("s3-endpoint-url", endpoint), ("s3-region", region)):
            if value:
                raise InputError(name, "is set but s3-uri is not; set s3-uri too, or neither.")
        return {}
    credentials = {k: v for k, v in env.items() if k in s3uri.CREDENTIAL_ENV and v}
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        _long_enough(name, credentials.get(name, ""), "AWS secrets are 40 characters or more")
    return {
        "s3_uri": values["s3-uri"],
        "s3_endpoint_url": endpoint,
        "s3_region": region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        "s3_env": credentials,
    }


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


def _check_not_public(env: Mapping[str, str], *, github_token: str) -> None:
    """Refuse an unencrypted upload where the repository is (or may be) public: the
    event payload says, else GitHub's API (``GITHUB_API_URL``, with ``github-token``)."""
    answer = visibility.find_visibility(
        event_path=env.get("GITHUB_EVENT_PATH"),
        api_url=_github_api_url(env.get("GITHUB_API_URL") or visibility.DEFAULT_GITHUB_API_URL),
        repository=env.get("GITHUB_REPOSITORY", ""),
        token=github_token,
        network=Network.from_env(env),
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


_MISSING = {
    "access-token": "is required: pass a PlayCanvas API token (in a workflow, "
    "access-token: ${{ secrets.PLAYCANVAS_ACCESS_TOKEN }}; locally --access-token or "
    "PLAYCANVAS_ACCESS_TOKEN). Tokens are made on your PlayCanvas account page.",
    "project-id": "is required unless user-id is given: give one or more numeric project "
    "ids (the number in https://playcanvas.com/project/<id>/...), separated by commas, "
    "spaces or newlines, or user-id to back up every project of an account.",
}
