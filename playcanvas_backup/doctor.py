"""``playcanvas-backup doctor``: what a token can do against the PlayCanvas API, for the
backup the inputs configure, in a report meant to be pasted into a bug report.

It asks the cheapest questions, normal-limit routes only: the branches of the projects
to back up (at most :data:`MAX_PROBED`), one project's details, the account's project
list (with ``user-id``) and ``/ratelimits``; an export (a strict-limit request that makes
PlayCanvas build an archive) and one look at its job only with ``--export``. Then it
says which routes accept the token, the plan's limits, and what the configured backup
can do: by id, with names, by discovery. Exit 0 when that backup can run, 1 when it
cannot, 2 for invalid inputs.

It takes the backup's own inputs (flags, ``INPUT_*`` variables, ``PLAYCANVAS_ACCESS_TOKEN``)
and is asked for as ``doctor`` first on the command line, or, where no command line can
be given (the action's container), with ``PLAYCANVAS_BACKUP_COMMAND=doctor`` in the
environment (:func:`wanted`). The report holds no secret: the token is masked, and every
text from PlayCanvas passes :func:`untrusted.clean` with the token redacted.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .config import INPUTS, Settings, load, raw_inputs
from .deadline import Deadline
from .errors import BackupError, InputError
from .workflow import Workflow

if TYPE_CHECKING:
    from .playcanvas import PlayCanvasApi

#: The environment variable that asks for a command where no arguments can be given.
COMMAND_ENV = "PLAYCANVAS_BACKUP_COMMAND"
#: Projects whose branches are asked for, at most (each is one normal-limit request).
MAX_PROBED = 5
#: Seconds the whole check may take (retries and rate-limit waits included).
DEADLINE = 120.0
#: Requests a minute (normal, strict) of PlayCanvas's plans.
PLANS = {(120, 5): "the free plan", (240, 10): "a paid plan"}
EXIT_CAN_RUN, EXIT_CANNOT_RUN, EXIT_INPUT = 0, 1, 2


def wanted(argv: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """The doctor's arguments when it is asked for, else None: ``doctor`` first on the
    command line, or ``PLAYCANVAS_BACKUP_COMMAND`` holding ``doctor`` and perhaps flags
    (``doctor --export``), which come before the command line's own.

    Raises :class:`InputError` for a ``PLAYCANVAS_BACKUP_COMMAND`` that is not a command.
    """
    if argv[:1] == ["doctor"]:
        return list(argv[1:])
    text = env.get(COMMAND_ENV, "").strip()
    if not text:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    if words[:1] != ["doctor"]:
        raise InputError(
            COMMAND_ENV,
            f"'{text[:60]}' is not a command; set it to 'doctor' (or 'doctor --export'), "
            "or leave it unset to run the backup.",
        )
    return words[1:] + list(argv)


def run_if_asked(
    argv: Sequence[str], env: Mapping[str, str], *, out: TextIO | None, err: TextIO | None
) -> int | None:
    """The doctor's exit status when it was asked for (see :func:`wanted`), else None."""
    try:
        args = wanted(argv, env)
    except InputError as exc:
        Workflow(env, out=out, err=err).error(str(exc), title=exc.title)
        return EXIT_INPUT
    return None if args is None else main(args, env, out=out, err=err)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playcanvas-backup doctor",
        description=(
            "Check what a PlayCanvas token can do for the backup these inputs configure, "
            "with the cheapest requests (normal rate limit only). Prints nothing secret: "
            "paste its report into a bug report."
        ),
        epilog="Exit status: 0 the backup can run, 1 it cannot, 2 invalid input.",
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="Also start one export of the first project's main branch (a strict-limit "
        "request: PlayCanvas builds an archive) and look at its job once.",
    )
    from .cli import _add_input  # noqa: PLC0415 - the action's own flags (bare booleans)

    for spec in INPUTS:
        _add_input(parser, spec)
    return parser


def main(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Check the token; print the report; return the exit status."""
    args = build_parser().parse_args(list(argv))
    given = raw_inputs(env, {spec.name: getattr(args, spec.dest) for spec in INPUTS})
    workflow = Workflow(env, out=out, err=err)
    workflow.mask(given.get("access-token", ""))
    try:
        # The doctor uploads nothing: the artifact settings do not apply.
        settings = load({**given, "upload-artifact": "false"}, env, cwd=Path.cwd())
    except InputError as exc:
        workflow.error(str(exc), title=exc.title)
        return EXIT_INPUT
    from . import http  # noqa: PLC0415 - only once the inputs are valid
    from .playcanvas import PlayCanvasApi  # noqa: PLC0415

    with http.session(settings.network) as session:
        api = PlayCanvasApi(
            settings.api_url, settings.access_token, session=session, log=workflow.debug
        )
        checkup = examine(settings, api, export=args.export, mask=workflow.mask_url)
    # Each line as every message goes out (one line, no control characters, the token
    # redacted); in the summary's code block no backquote can close the block early.
    lines = [workflow.clean(line) for line in render(checkup, settings)]
    for line in lines:
        workflow.result(line)
    block = "\n".join(line.replace("`", "'") for line in lines)
    workflow.summary(f"### PlayCanvas backup doctor\n\n```text\n{block}\n```\n")
    return EXIT_CAN_RUN if checkup.can_run else EXIT_CANNOT_RUN


# -- asking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request and what PlayCanvas answered it."""

    route: str
    accepted: bool
    answer: str
    #: The HTTP status of a final answer; None when accepted or never answered.
    status: int | None = None


@dataclass
class Checkup:
    """Everything the doctor learnt; :func:`render` and :attr:`can_run` read it."""

    probes: list[Probe] = field(default_factory=list)
    #: The projects whose branches were asked for, and whether each answered.
    by_id: dict[int, Probe] = field(default_factory=dict)
    details: Probe | None = None
    listing: Probe | None = None
    #: The ids the ``user-id`` listing gave (None: not listed).
    listed: list[int] | None = None
    export: Probe | None = None
    #: Why the configured ``branch`` cannot be exported, per project (None: found).
    branch_problems: dict[int, str] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    #: Projects to back up whose branches were not asked for (past ``MAX_PROBED``).
    unasked: int = 0

    @property
    def can_run(self) -> bool:
        """The configured backup can run: every project's routes answer (the listing,
        with ``user-id``), the branch exists, and there is something to back up."""
        routes = [*self.by_id.values(), *(p for p in (self.listing, self.export) if p)]
        return (
            bool(self.by_id)
            and all(probe.accepted for probe in routes)
            and not self.branch_problems
        )


def examine(
    settings: Settings,
    api: PlayCanvasApi,
    *,
    export: bool,
    mask: Callable[[str], None],
    clock: Callable[[], float] = time.time,
) -> Checkup:
    """Ask PlayCanvas the doctor's questions for the backup ``settings`` configure."""
    deadline = Deadline.after(DEADLINE, clock=clock)
    checkup = Checkup()
    projects = list(settings.project_ids)
    if settings.user_id is not None:
        listing, listed = _probe(
            f"GET /users/{settings.user_id}/projects",
            lambda: api.list_projects(settings.user_id or 0, deadline=deadline),
            lambda found: _count(len(found), "project"),
        )
        checkup.listing, checkup.probes = listing, [listing]
        checkup.listed = [p.id for p in listed] if listed is not None else None
        projects += [p.id for p in listed or [] if p.id not in projects]
    for project_id in projects[:MAX_PROBED]:
        _branches(checkup, settings, api, project_id, deadline)
    checkup.unasked = max(0, len(projects) - MAX_PROBED)
    if projects:
        checkup.details, _ = _probe(
            f"GET /projects/{projects[0]}",
            lambda: api.get_project(projects[0], deadline=deadline),
            lambda _: "the project's name and owner",
        )
        checkup.probes.append(checkup.details)
    limits, body = _probe("GET /ratelimits", lambda: api.rate_limits(deadline=deadline), _limits)
    checkup.probes.append(limits)
    if projects and export:
        checkup.export = _export(api, projects[0], deadline, mask)
        checkup.probes.append(checkup.export)
    checkup.limits = _plan_limits(api, body or {})
    return checkup


def _branches(
    checkup: Checkup, settings: Settings, api: PlayCanvasApi, project_id: int, deadline: Deadline
) -> None:
    probe, branches = _probe(
        f"GET /projects/{project_id}/branches",
        lambda: api.list_branches(project_id, deadline=deadline),
        lambda found: _count(len(found), "open branch", "open branches"),
    )
    checkup.by_id[project_id] = probe
    checkup.probes.append(probe)
    if settings.branch and branches is not None:
        from .playcanvas import find_branch  # noqa: PLC0415 - the backup's own rule

        try:
            find_branch(project_id, branches, settings.branch)
        except BackupError as exc:
            checkup.branch_problems[project_id] = str(exc)


def _export(
    api: PlayCanvasApi, project_id: int, deadline: Deadline, mask: Callable[[str], None]
) -> Probe:
    """Start one export and look at its job once (the routes a backup needs most)."""
    started, job = _probe(
        f"POST /projects/{project_id}/export",
        lambda: api.start_export(project_id, branch_id=None, deadline=deadline),
        lambda job: f"job {job.id} started",
    )
    if job is None:
        return started
    if job.url:
        mask(job.url)  # a signed link: a credential
    looked, state = _probe(
        f"GET /jobs/{job.id}",
        lambda: api.get_job(job.id, deadline=deadline),
        lambda state: f"job {state.status}",
    )
    if state is not None and state.url:
        mask(state.url)
    route = f"{started.route}, then {looked.route}"
    return Probe(route, looked.accepted, f"{started.answer}; {looked.answer}", looked.status)


def _probe(
    route: str, call: Callable[[], Any], describe: Callable[[Any], str]
) -> tuple[Probe, Any]:
    """Send one request: (what PlayCanvas answered, the value or None)."""
    from .playcanvas import Refused  # noqa: PLC0415

    try:
        value = call()
    except Refused as exc:
        return Probe(route, False, exc.answer, exc.status), None
    except BackupError as exc:
        return Probe(route, False, str(exc)), None
    return Probe(route, True, describe(value)), value


def _limits(limits: dict[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in limits.items()) or "(no limits in it)"


def _plan_limits(api: PlayCanvasApi, reported: Mapping[str, int]) -> dict[str, int]:
    """Requests a minute per kind of route: from ``/ratelimits``, else the answers'
    ``X-RateLimit-Limit`` headers."""
    from .ratelimit import NORMAL, STRICT  # noqa: PLC0415

    seen = {kind: api.limits.limit(kind) for kind in (NORMAL, STRICT)}
    limits: dict[str, int] = {str(kind): value for kind, value in seen.items() if value}
    return {**limits, **{kind: reported[kind] for kind in (NORMAL, STRICT) if kind in reported}}


# -- telling ----------------------------------------------------------------------------------


def render(checkup: Checkup, settings: Settings) -> list[str]:
    """The report, line by line: routes, limits, what the backup can do, the verdict."""
    width = max((len(p.route) for p in checkup.probes), default=0)
    lines = [
        f"playcanvas-backup {__version__} doctor, api-url {settings.api_url}",
        "",
        "Routes (what PlayCanvas answered this token):",
        *(
            f"  {'yes' if p.accepted else 'no ':3}  {p.route:{width}}  {_said(p)}"
            for p in checkup.probes
        ),
    ]
    if checkup.export is None:
        lines.append("  (no export tried: --export starts one, a strict-limit request)")
    lines += ["", f"Rate limits: {_plan(checkup.limits)}", ""]
    lines += ["What the configured backup can do with this token:", *_abilities(checkup, settings)]
    verdict = (
        "the configured backup can run (exit 0)."
        if checkup.can_run
        else "the configured backup cannot run as configured (exit 1)."
    )
    return [*lines, "", f"Verdict: {verdict}"]


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _said(probe: Probe) -> str:
    return probe.answer if probe.accepted else f"answered {probe.answer}"


def _plan(limits: Mapping[str, int]) -> str:
    if not limits:
        return "not known (no answer said)"
    shown = ", ".join(f"{kind} {value} a minute" for kind, value in sorted(limits.items()))
    plan = PLANS.get((limits.get("normal", 0), limits.get("strict", 0)))
    return shown + (f" ({plan})" if plan else "")


def _abilities(checkup: Checkup, settings: Settings) -> list[str]:
    """One line per way the backup finds and names its projects."""
    refused = {pid: p for pid, p in checkup.by_id.items() if not p.accepted}
    if not checkup.by_id:
        by_id = "nothing to back up: no project to ask about"
    elif refused:
        by_id = "no: " + "; ".join(
            f"project {pid} answered {p.answer}" for pid, p in refused.items()
        )
        if any(p.status == 401 for p in refused.values()):
            by_id += " (PlayCanvas refused the token: check access-token)"
    elif checkup.export is not None:
        by_id = "yes" if checkup.export.accepted else f"no: {checkup.export.answer}"
    else:
        by_id = "yes (branches answer; the export itself is tried only with --export)"
    if checkup.unasked:
        by_id += f"; {checkup.unasked} more projects not asked about"
    fields = settings.filename.fields | settings.artifact_name.fields
    used = "project_name" in fields or bool(settings.exclusions.patterns)
    if checkup.details is not None and checkup.details.accepted:
        names = "yes"
    elif checkup.listed is not None:
        unnamed = [str(pid) for pid in settings.project_ids if pid not in checkup.listed]
        names = "yes, from the user-id listing" + (
            f"; not for project {', '.join(unnamed)} (its files use the id)" if unnamed else ""
        )
    elif used:
        names = "no, files use the id"
    else:
        names = "no, and none needed (no input uses {project_name} or an exclude pattern)"
    lines = [f"  by id: {by_id}", f"  names: {names}"]
    if checkup.listing is not None:
        found = _count(len(checkup.listed or []), "project")
        lines.append(
            f"  discovery: yes, user-id {settings.user_id} lists {found}"
            if checkup.listing.accepted
            else "  discovery: no, name the projects in project-id instead"
        )
    else:
        lines.append("  discovery: not configured (no user-id)")
    lines += [f"  branch: {problem}" for problem in checkup.branch_problems.values()]
    return lines
