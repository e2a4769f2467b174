"""One backup run, as a story: plan the archives (and all their names), export them within
the rate limits, wait for the jobs, download and verify each archive (encrypt it when
asked), then publish it: as a workflow artifact, in S3.

Each archive's pipeline returns its :class:`~.result.ArchiveResult`: every step gives
back what became of its archive (or the archive failed, with its error), and only the
export loop records it (:meth:`_Exports.record`) into the caller's list, so that a
cancelled run can still report what it saved. Any failure of one archive (an exception
of any kind) becomes that archive's ``error``; only a refused token (a 401 from the
export, job or branch routes) stops the run, since every other archive would meet it
too. Lookups (project details, the account's project list) are not needed for a backup
by id: a 401/403 there is that route's answer. When to start and poll is
:mod:`scheduler`'s arithmetic, how long the rate limits make a request wait is
:mod:`ratelimit`'s; this module does the I/O.

Each archive has one :class:`~.deadline.Deadline`, ``timeout`` seconds after its export
is started, made once and carried (in :class:`scheduler.Running`) to every step: the
export, the wait, the download, the check, the encryption, the upload and S3.

The projects are the ``project-id``s and, with ``user-id``, every project the account
lists, less what ``exclude`` leaves out (:mod:`projects` decides). A dry run stops after
the plan: every archive and name is decided and reported, nothing is exported.
"""

from __future__ import annotations

import random
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import requests

from . import http, scheduler
from .artifact import ArtifactUploader
from .config import Settings
from .deadline import Deadline
from .download import Archive, download
from .errors import ApiError, BackupError, BranchNotFound, ExportFailed
from .files import STALE_MARGIN, claimed, remove_stale_parts
from .playcanvas import ExportJob, LookupRefused, PlayCanvasApi, Project, find_branch
from .projects import Excluded, select_projects
from .ratelimit import STRICT
from .report import shown_path
from .result import ArchiveResult
from .templates import Name, plan_names, timestamp_fields
from .units import human_duration, human_size
from .workflow import Workflow

if TYPE_CHECKING:
    from .s3 import S3Store

#: Uploads an archive as an artifact of this name, by the archive's deadline; returns
#: (artifact id, artifact URL).
Upload = Callable[[Archive, str, Deadline], tuple[int, str]]
T = TypeVar("T")


class TokenRefused(BackupError):
    """PlayCanvas refused the token (a 401 from the export, job or branch routes): the run
    stops, every archive would meet it."""

    title = "PlayCanvas refused the token"


class ListingRefused(BackupError):
    """PlayCanvas would not list the ``user-id`` account's projects (401/403): the run
    fails before any export, pointing at ``project-id``."""

    title = "PlayCanvas did not list the account's projects"


def back_up(
    settings: Settings,
    workflow: Workflow,
    results: list[ArchiveResult] | None = None,
    excluded: list[Excluded] | None = None,
) -> list[ArchiveResult]:
    """Run the backup with the real collaborators: HTTP sessions, the API client and,
    when asked, the artifact uploader. ``results`` (and ``excluded``, the projects
    ``exclude`` left out) are filled in as the run goes."""
    with (
        http.session(settings.network) as api_session,
        http.session(settings.network) as download_session,
    ):
        api = PlayCanvasApi(
            settings.api_url, settings.access_token, session=api_session, log=workflow.info
        )
        upload = None
        if settings.artifact_runtime is not None:
            upload = ArtifactUploader(
                settings.artifact_runtime,
                retention_days=settings.retention_days,
                overwrite=settings.overwrite,
                network=settings.network,
                mask=workflow.mask,
                mask_url=workflow.mask_url,
                log=workflow.info,
                warn=workflow.warning,
            )
        try:
            return run(
                settings,
                api=api,
                session=download_session,
                workflow=workflow,
                upload=upload,
                results=results,
                excluded=excluded,
                s3=_s3_store(settings, workflow),
            )
        finally:
            workflow.debug(f"{api.requests_sent} PlayCanvas API requests")


@dataclass(frozen=True)
class Context:
    """What every step of a run uses."""

    settings: Settings
    api: PlayCanvasApi
    session: requests.Session
    workflow: Workflow
    upload: Upload | None
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rng: Callable[[], float]
    #: Where ``s3-uri`` stores each archive too, when set.
    s3: S3Store | None = None


@dataclass(frozen=True)
class Planned:
    """An archive to make, with its names decided before any export."""

    index: int
    file: Name
    artifact: Name


def run(
    settings: Settings,
    *,
    api: PlayCanvasApi,
    session: requests.Session,
    workflow: Workflow,
    upload: Upload | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    results: list[ArchiveResult] | None = None,
    excluded: list[Excluded] | None = None,
    s3: S3Store | None = None,
) -> list[ArchiveResult]:
    """Back up every requested archive; return one result per archive."""
    ctx = Context(settings, api, session, workflow, upload, clock, sleep, rng, s3)
    results = [] if results is None else results
    try:
        if not settings.dry_run:
            remove_stale_parts(
                settings.output_dir, max_age=settings.timeout + STALE_MARGIN, log=workflow.info
            )
        planned = plan(ctx, results, [] if excluded is None else excluded)
        if settings.dry_run:
            tell_plan(ctx, planned, results)
        else:
            export_and_wait(ctx, planned, results)
    except TokenRefused as refused:
        workflow.error(str(refused), title=refused.title)
        results[:] = _stopped(settings, results)
    return results


def _stopped(settings: Settings, results: list[ArchiveResult]) -> list[ArchiveResult]:
    """The run's results once the token was refused: every archive not done, and every
    project not planned yet, says why."""
    reason = "PlayCanvas refused the token (401); the run stopped."
    stopped = [
        result if result.error or result.archived else replace(result, error=reason)
        for result in results
    ]
    planned = {result.project_id for result in results}
    return stopped + [
        ArchiveResult(project_id, settings.branch or "main", None, error=reason)
        for project_id in settings.project_ids
        if project_id not in planned
    ]


# -- plan -------------------------------------------------------------------------------------


def plan(ctx: Context, results: list[ArchiveResult], excluded: list[Excluded]) -> list[Planned]:
    """Every archive of the run, with its file and artifact names; archives that failed
    already (an unknown branch) are in ``results`` with their reason, not in the plan."""
    projects, unreadable = select(ctx, excluded)
    for project in projects:
        if project.id in unreadable:
            failed = ArchiveResult(project.id, ctx.settings.branch or "main", None)
            results.append(_failed(ctx, failed, unreadable[project.id], ctx.clock()))
        else:
            results += _isolated(ctx, archives_of, project)
    moment = timestamp_fields(datetime.fromtimestamp(ctx.clock(), UTC))
    fields = [
        {
            "project_id": r.project_id,
            # Not read (best effort): the id keeps names unique and stable.
            "project_name": r.project_name or str(r.project_id),
            "branch": r.branch,
            "branch_id": r.branch_id,
            **moment,
        }
        for r in results
    ]
    names = plan_names(
        fields,
        filename=ctx.settings.filename,
        artifact_name=ctx.settings.artifact_name,
        describe=lambda index: _label(results[index]),
    )
    for note in names.notes:
        ctx.workflow.info(note)
    return [
        Planned(index, names.files[index], names.artifacts[index])
        for index, result in enumerate(results)
        if result.error is None
    ]


def select(ctx: Context, excluded: list[Excluded]) -> tuple[list[Project], dict[int, Exception]]:
    """The projects to back up: the ``project-id``s and every project ``user-id`` lists,
    less those ``exclude`` leaves out (added to ``excluded``); and why each requested
    project found missing failed.

    A backup by id needs no lookup: project details are read only when a name is used
    (``{project_name}``, or ``exclude``'s name patterns) and the listing did not give it.
    """
    settings, log = ctx.settings, ctx.workflow.info
    deadline = Deadline.after(settings.timeout, clock=ctx.clock)
    listed: list[Project] = []
    if settings.user_id is not None:
        try:
            listed = ctx.api.list_projects(settings.user_id, deadline=deadline)
        except LookupRefused as refused:
            raise ListingRefused(_listing_refused(settings.user_id, refused)) from refused
        log(f"account {settings.user_id} lists {len(listed)} projects")
    names = {project.id: project for project in listed}
    details = _Details(ctx, deadline) if _needs_names(settings) else None
    unreadable: dict[int, Exception] = {}
    requested = [
        details.read(pid, unreadable) if details and pid not in names else Project(pid, "")
        for pid in settings.project_ids
    ]
    selection = select_projects(requested, listed, settings.exclusions)
    considered = [*requested, *listed]
    unnamed = sum(1 for project in considered if not project.name)
    for item in settings.exclusions.unmatched(considered):
        ctx.workflow.warning(
            f"exclude: '{item}' matched no project; check it for a typo"
            + (
                f" ({unnamed} project name{'s' if unnamed > 1 else ''} could not be read)."
                if unnamed
                else "."
            )
        )
    for left_out in selection.excluded:
        log(f"{_project_label(left_out.project)}: left out, {left_out.reason}")
    excluded += selection.excluded
    for project in selection.projects:
        owner = f" (owner_id {project.owner_id})" if project.owner_id is not None else ""
        log(f"{_project_label(project)}{owner}: to back up")
    return list(selection.projects), unreadable


def _needs_names(settings: Settings) -> bool:
    """Whether the run uses project names: a name template field or an exclude pattern."""
    fields = settings.filename.fields | settings.artifact_name.fields
    return "project_name" in fields or bool(settings.exclusions.patterns)


def _listing_refused(user_id: int, refused: LookupRefused) -> str:
    return (
        f"PlayCanvas would not list the projects of account {user_id}: it answered "
        f"{refused.answer} to GET /users/{user_id}/projects. Either access-token is not a "
        "current token, or this token may not list that account's projects. Name the "
        "projects to back up in project-id instead (the number in "
        "https://playcanvas.com/project/<id>/...); 'playcanvas-backup doctor' shows which "
        "routes the token can use."
    )


@dataclass
class _Details:
    """Project details, read best effort: the first refused lookup (PlayCanvas refuses
    API tokens there) is said once, as a warning, and nothing more is asked this run."""

    ctx: Context
    deadline: Deadline
    refused: LookupRefused | None = None

    def read(self, project_id: int, unreadable: dict[int, Exception]) -> Project:
        """The project with its name; without it when it cannot be read. A project
        PlayCanvas says does not exist goes in ``unreadable`` (its archive fails)."""
        if self.refused is not None:
            return Project(project_id, "")
        try:
            return self.ctx.api.get_project(project_id, deadline=self.deadline)
        except LookupRefused as refused:
            self.refused = refused
            self.ctx.workflow.warning(
                f"PlayCanvas answered {refused.answer} to reading project {project_id}'s "
                "details (it refuses API tokens there), so project names are not read in "
                "this run: {project_name} is the project id, project_name is null in "
                "archives, and exclude's name patterns match only projects user-id lists. "
                "The backups themselves do not need the names.",
                title="Project names not available",
            )
        except ApiError as exc:
            if exc.status != 404:
                self._unnamed(project_id, exc)
            else:
                unreadable[project_id] = exc
        except Exception as exc:
            _raise_if_refused(exc)
            self._unnamed(project_id, exc)
        return Project(project_id, "")

    def _unnamed(self, project_id: int, exc: Exception) -> None:
        self.ctx.workflow.warning(
            f"project {project_id}'s name could not be read ({exc}); it goes on under its id.",
            title="Project name not available",
        )


def archives_of(ctx: Context, project: Project) -> list[ArchiveResult]:
    """One project's archives: its main branch, the branch asked for, or every open one."""
    settings = ctx.settings
    name = project.name or None
    if not settings.branch and not settings.all_branches:
        return [ArchiveResult(project.id, "main", None, project_name=name)]
    project_id = project.id
    deadline = Deadline.after(settings.timeout, clock=ctx.clock)
    chosen = ctx.api.list_branches(project_id, deadline=deadline)
    if settings.branch:
        try:
            branch = find_branch(project_id, chosen, settings.branch)
        except BranchNotFound:
            # PlayCanvas lists closed branches only when asked: asked only now, to say so.
            closed = ctx.api.list_branches(project_id, deadline=deadline, closed=True)
            find_branch(project_id, chosen + closed, settings.branch)
            raise
        return [ArchiveResult(project_id, branch.name, branch.id, project_name=name)]
    if not chosen:
        raise BranchNotFound(f"Project {project_id} has no open branches to export.")
    return [
        ArchiveResult(project_id, branch.name, branch.id, project_name=name) for branch in chosen
    ]


def tell_plan(ctx: Context, planned: list[Planned], results: list[ArchiveResult]) -> None:
    """A dry run's report: what each archive would be saved and uploaded as."""
    upload, s3_uri = ctx.upload is not None, ctx.settings.s3_uri
    for archive in planned:
        file = archive.file.final(None)
        name = f", artifact '{archive.artifact.final(None)}'" if upload else ""
        if s3_uri is not None:
            name += f", {s3_uri.render(archive.file.values, file=file)}"
        ctx.workflow.info(f"{_label(results[archive.index])}: would be saved as {file}{name}")


# -- export and wait ----------------------------------------------------------------------------


def export_and_wait(ctx: Context, planned: list[Planned], results: list[ArchiveResult]) -> None:
    """Start the exports as the strict rate limit allows, look at the running jobs each
    on its own schedule, and finish each archive as soon as its job is complete.

    Each step returns what became of its archive; the loop alone writes it into
    ``results`` (:meth:`_Exports.record`), the caller's list, which a cancelled run still
    reports from."""
    _Exports(ctx, planned, results).run()


class _Exports:
    """The export loop's state: the exports still to start, the jobs being waited for,
    and ``results``, which only :meth:`record` changes."""

    def __init__(self, ctx: Context, planned: list[Planned], results: list[ArchiveResult]) -> None:
        self.ctx, self.results = ctx, results
        self.pending = deque(planned)
        self.planned = {archive.index: archive for archive in planned}
        self.running: dict[int, scheduler.Running] = {}
        self.told_window = False
        # Waits before an export starts count too: the exports still to start wait for the
        # export limit at most 'timeout' since the last one started, else fail with the
        # reason.
        self.queue = Deadline.after(ctx.settings.timeout, clock=ctx.clock)

    def record(self, index: int, outcome: scheduler.Running | ArchiveResult) -> None:
        """The one place an archive's result changes once planned: a finished (or failed)
        archive's result, or a running job (whose id the result keeps)."""
        if isinstance(outcome, ArchiveResult):
            self.results[index] = outcome
            self.running.pop(index, None)
            return
        self.running[index] = outcome
        if self.results[index].job_id != outcome.job_id:
            self.results[index] = replace(self.results[index], job_id=outcome.job_id)

    def run(self) -> None:
        ctx = self.ctx
        while self.pending or self.running:
            self.fail_if_too_long()
            while scheduler.may_start(
                len(self.pending), strict_wait=ctx.api.limits.ready_in(STRICT)
            ):
                self.queue = Deadline.after(ctx.settings.timeout, clock=ctx.clock)
                self.start(self.pending.popleft())
            for job in scheduler.due(self.running.values(), now=ctx.clock()):
                self.look(job)
            for index, job in list(self.running.items()):
                if scheduler.report_due(job, now=ctx.clock()):
                    self.record(index, _report_running(ctx, self.results[index], job))
            self.told_window = _tell_window(ctx, len(self.pending), told=self.told_window)
            now = ctx.clock()
            wake = scheduler.wake_at(
                self.running.values(),
                now=now,
                pending=len(self.pending),
                strict_wait=ctx.api.limits.ready_in(STRICT),
            )
            if wake is not None:
                ctx.sleep(max(0.0, wake - now))

    def start(self, archive: Planned) -> None:
        """Start one export, made its archive's one deadline; finish the archive at once
        when the export's answer says it is complete already."""
        ctx, index = self.ctx, archive.index
        now = ctx.clock()
        deadline = Deadline.after(ctx.settings.timeout, clock=ctx.clock)
        result = self.results[index]
        export = _attempt(ctx, result, lambda: start_export(ctx, result, deadline), now)
        if isinstance(export, ArchiveResult):
            self.record(index, export)
            return
        self.record(
            index,
            scheduler.started(
                index,
                job_id=export.id,
                now=now,
                deadline=deadline,
                poll_interval=ctx.settings.poll_interval,
                finished=export.finished,
            ),
        )
        if export.finished:
            started = self.results[index]
            self.record(
                index,
                _attempt(
                    ctx,
                    started,
                    lambda: conclude(
                        ctx, archive, started, export, started_at=now, deadline=deadline
                    ),
                    now,
                ),
            )

    def look(self, job: scheduler.Running) -> None:
        archive, result = self.planned[job.index], self.results[job.index]
        self.record(
            job.index,
            _attempt(self.ctx, result, lambda: look_at_job(self.ctx, archive, job, result), job),
        )

    def fail_if_too_long(self) -> None:
        """Fail every export still to start when PlayCanvas's export limit asks for a
        longer wait than the queue's deadline allows, each with the reason."""
        wait = self.ctx.api.limits.ready_in(STRICT)
        if not self.pending or self.queue.fits(wait):
            return
        reason = self.queue.too_long(wait, who="PlayCanvas", purpose="for the export limit")
        while self.pending:
            index = self.pending.popleft().index
            self.record(index, _failed(self.ctx, self.results[index], reason, self.ctx.clock()))


def start_export(ctx: Context, result: ArchiveResult, deadline: Deadline) -> ExportJob:
    """Start one archive's export; PlayCanvas's answer (complete at once, at times)."""
    job = ctx.api.start_export(result.project_id, branch_id=result.branch_id, deadline=deadline)
    ctx.workflow.info(f"{_label(result)}: export job {job.id} started")
    return job


def look_at_job(
    ctx: Context, archive: Planned, job: scheduler.Running, result: ArchiveResult
) -> scheduler.Running | ArchiveResult:
    """Look at one running job: its archive finished when the job is complete, a failure
    past its deadline, else the job with its next look scheduled."""
    settings, deadline = ctx.settings, job.deadline
    state = ctx.api.get_job(job.job_id, deadline=deadline)
    if state.finished:
        return conclude(ctx, archive, result, state, started_at=job.started, deadline=deadline)
    now = ctx.clock()
    if now >= deadline.at:
        raise ExportFailed(
            f"Export job {job.job_id} of {_label(result)} was still '{state.status}' "
            f"after {settings.timeout:g} s. Raise 'timeout' for a big project, or look "
            "at the job on PlayCanvas."
        )
    return scheduler.polled(
        job,
        now=now,
        poll_interval=settings.poll_interval,
        max_poll_interval=settings.max_poll_interval,
        jitter=ctx.rng(),
    )


def conclude(
    ctx: Context,
    archive: Planned,
    result: ArchiveResult,
    job: ExportJob,
    *,
    started_at: float,
    deadline: Deadline,
) -> ArchiveResult:
    """A finished job: its error, or its archive downloaded, verified and uploaded."""
    if job.status == "error":
        reason = "; ".join(job.messages) or "PlayCanvas gave no reason"
        raise ExportFailed(f"Export job {job.id} of {_label(result)} ended in error: {reason}")
    ctx.workflow.info(
        f"{_label(result)}: export job {job.id} complete after "
        f"{human_duration(ctx.clock() - started_at)}"
    )
    return finish_archive(ctx, archive, result, job, started_at=started_at, deadline=deadline)


# -- download and upload ----------------------------------------------------------------------


def finish_archive(
    ctx: Context,
    archive: Planned,
    result: ArchiveResult,
    job: ExportJob,
    *,
    started_at: float,
    deadline: Deadline,
) -> ArchiveResult:
    """Download and verify a complete export's archive, encrypt it if asked, then upload
    it if asked; return the archive's result (a failed upload keeps the saved archive and
    sets ``error``).

    With ``encrypt-to`` the verified plaintext stays at the download's temporary name, is
    encrypted from there and removed: only the ``.age`` file ever has a final name. A
    lock beside the part files names this process while they may exist (:mod:`files`).
    """
    settings = ctx.settings
    _check_deadline(ctx, result, deadline, "before its download")
    destination = settings.output_dir / archive.file.final(job.id)
    with claimed(settings.output_dir, destination.name):
        saved, result = download_and_encrypt(
            ctx, job, result, destination, started_at=started_at, deadline=deadline
        )
    return publish(ctx, archive, result, saved, started_at=started_at, deadline=deadline)


def publish(
    ctx: Context,
    archive: Planned,
    result: ArchiveResult,
    saved: Archive,
    *,
    started_at: float,
    deadline: Deadline,
) -> ArchiveResult:
    """The saved archive (or its ``.age``) uploaded as its artifact and stored in S3, as
    asked; a failure of either keeps the archive on disk and sets ``error``."""
    if ctx.upload is not None:
        name = archive.artifact.final(result.job_id)
        result = upload_archive(
            ctx,
            result,
            saved,
            upload=ctx.upload,
            name=name,
            started_at=started_at,
            deadline=deadline,
        )
    if ctx.s3 is not None:
        result = store_in_s3(ctx, archive, result, saved, started_at=started_at, deadline=deadline)
    return result


def download_and_encrypt(
    ctx: Context,
    job: ExportJob,
    result: ArchiveResult,
    destination: Path,
    *,
    started_at: float,
    deadline: Deadline,
) -> tuple[Archive, ArchiveResult]:
    """The archive saved at ``destination``, or (``encrypt-to``) encrypted beside it as
    ``<destination>.age`` from its temporary name, which is gone when this returns."""
    settings, label = ctx.settings, _label(result)
    encrypting = bool(settings.recipients)
    with (
        ctx.workflow.group(f"{label}: download and verify"),
        ctx.workflow.progress_bar(label) as progress,
    ):
        saved = download(
            _download_link(ctx, job, deadline),
            destination,
            session=ctx.session,
            verify_zip=settings.verify,
            want_crc32=ctx.upload is not None and not settings.recipients,
            log=lambda line: ctx.workflow.info(f"{label}: {line}"),
            mask=ctx.workflow.mask_url,  # every redirect hop's link is a credential too
            clock=ctx.clock,
            deadline=deadline,
            place=not encrypting,
            progress=progress,
        )
    if not encrypting:
        return saved, _saved(ctx, result, saved, started_at)
    try:
        result = _saved(ctx, result, saved, started_at, placed=False)
        _check_deadline(ctx, result, deadline, "before its encryption")
        return encrypt(ctx, saved, result, destination)
    finally:
        saved.path.unlink(missing_ok=True)  # the plaintext, at its temporary name


def _saved(
    ctx: Context, result: ArchiveResult, saved: Archive, started_at: float, *, placed: bool = True
) -> ArchiveResult:
    settings = ctx.settings
    where = f"saved {shown_path(saved.path, settings.workspace)}" if placed else "downloaded"
    ctx.workflow.info(
        f"{_label(result)}: {where} "
        f"({human_size(saved.size)}, sha256 {saved.sha256}"
        + (", zip verified)" if settings.verify else ")")
    )
    return replace(
        result,
        path=saved.path if placed else None,
        sha256=saved.sha256,
        size=saved.size,
        verified=settings.verify,
        seconds=ctx.clock() - started_at,
    )


def encrypt(
    ctx: Context, saved: Archive, result: ArchiveResult, destination: Path
) -> tuple[Archive, ArchiveResult]:
    """Encrypt a verified archive, still at its temporary name, to ``encrypt-to``'s
    recipients as ``<destination>.age`` (the plaintext is removed); that file is what gets
    uploaded."""
    from .encrypt import encrypt_archive, encrypted_path  # noqa: PLC0415 - pyrage if asked

    encrypted = encrypt_archive(
        saved.path, ctx.settings.recipients, destination=encrypted_path(destination)
    )
    ctx.workflow.info(
        f"{_label(result)}: encrypted to {len(ctx.settings.recipients)} recipient(s) as "
        f"{shown_path(encrypted.path, ctx.settings.workspace)} "
        f"({human_size(encrypted.size)}, sha256 {encrypted.sha256}); the plaintext is removed"
    )
    return (
        Archive(encrypted.path, encrypted.sha256, encrypted.size, encrypted.crc32),
        replace(
            result,
            path=encrypted.path,
            encrypted_sha256=encrypted.sha256,
            encrypted_size=encrypted.size,
        ),
    )


def upload_archive(
    ctx: Context,
    result: ArchiveResult,
    saved: Archive,
    *,
    upload: Upload,
    name: str,
    started_at: float,
    deadline: Deadline,
) -> ArchiveResult:
    """Upload a saved archive as its artifact; a failure keeps the archive, with the error."""
    try:
        _check_deadline(ctx, result, deadline, "before its upload")
        artifact_id, artifact_url = upload(saved, name, deadline)
    except Exception as exc:
        _raise_if_refused(exc)
        return _failed(ctx, result, exc, started_at)
    ctx.workflow.info(f"{_label(result)}: uploaded as artifact '{name}' ({artifact_url})")
    return replace(
        result, artifact_id=artifact_id, artifact_url=artifact_url, seconds=ctx.clock() - started_at
    )


def store_in_s3(
    ctx: Context,
    archive: Planned,
    result: ArchiveResult,
    saved: Archive,
    *,
    started_at: float,
    deadline: Deadline,
) -> ArchiveResult:
    """Store the finished archive (or its ``.age``) at its ``s3-uri`` key, verified; a
    failure keeps the archive on disk and adds to the archive's ``error``."""
    from .finished import FinishedArchive  # noqa: PLC0415
    from .s3 import archive_metadata  # noqa: PLC0415 - boto3 only when asked for

    assert ctx.s3 is not None and ctx.settings.s3_uri is not None
    uri = ctx.settings.s3_uri.render(
        {**archive.file.values, "job_id": result.job_id}, file=saved.path.name
    )
    metadata = archive_metadata(
        stored_sha256=saved.sha256,
        archive_sha256=result.sha256 or saved.sha256,
        archive_size=result.size if result.size is not None else saved.size,
        encrypted=result.encrypted_sha256 is not None,
        project_id=result.project_id,
        branch=result.branch,
        branch_id=result.branch_id,
        job_id=result.job_id,
        created=datetime.fromtimestamp(ctx.clock(), UTC),
    )
    try:
        _check_deadline(ctx, result, deadline, "before it was stored in S3")
        stored = ctx.s3.store(
            FinishedArchive(saved.path, saved.sha256, saved.size),
            uri,
            metadata=metadata,
            deadline=deadline,
        )
    except Exception as exc:
        _raise_if_refused(exc)
        failed = _failed(ctx, replace(result, error=None), exc, started_at)
        error = "; ".join(e for e in (result.error, failed.error) if e)
        return replace(failed, error=error)
    version = f" (version {stored.version_id})" if stored.version_id else ""
    done = "already stored" if stored.already else "stored and verified"
    if not stored.already and not stored.checksum_checked:
        done = "stored (the store reports no SHA-256 checksum: only the size was checked)"
    ctx.workflow.info(f"{_label(result)}: {done} at {stored.uri}{version}")
    return replace(result, s3_uri=stored.uri, s3_version_id=stored.version_id)


def _s3_store(settings: Settings, workflow: Workflow) -> S3Store | None:
    if settings.s3_uri is None:
        return None
    from .s3 import S3Store  # noqa: PLC0415 - boto3 only when asked for

    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        workflow.mask(settings.s3_env.get(name, ""), credential=True)
    return S3Store(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        env=settings.s3_env,
        log=workflow.info,
    )


def _download_link(ctx: Context, job: ExportJob, deadline: Deadline) -> Callable[[], str]:
    """The job's signed download link, then a fresh one each time it is asked again."""
    first: list[str | None] = [job.url]

    def fetch_url() -> str:
        url = first.pop() if first else None
        if url is None:
            url = ctx.api.get_job(job.id, deadline=deadline).url
        if url is None:
            raise ExportFailed(
                f"Export job {job.id} is complete but PlayCanvas gave no download link. "
                "Run the backup again."
            )
        return url  # masked by the download as it receives it, as is every redirect hop

    return fetch_url


def _check_deadline(ctx: Context, result: ArchiveResult, deadline: Deadline, when: str) -> None:
    deadline.check(f"{_label(result)}: the steps {when}")


# -- one archive's failure stays its own ----------------------------------------------------------


def _attempt(
    ctx: Context,
    result: ArchiveResult,
    action: Callable[[], T],
    started: float | scheduler.Running,
) -> T | ArchiveResult:
    """What one step of one archive returns, or the archive failed with its error (the
    traceback at debug level); a refused token stops the run instead."""
    started_at = started.started if isinstance(started, scheduler.Running) else started
    try:
        return action()
    except Exception as exc:
        _raise_if_refused(exc)
        return _failed(ctx, result, exc, started_at)


def _isolated(
    ctx: Context, action: Callable[[Context, Project], list[ArchiveResult]], project: Project
) -> list[ArchiveResult]:
    """A project's planned archives, or one failed archive saying why there are none."""
    try:
        return action(ctx, project)
    except Exception as exc:
        _raise_if_refused(exc)
        failed = ArchiveResult(
            project.id, ctx.settings.branch or "main", None, project_name=project.name or None
        )
        return [_failed(ctx, failed, exc, ctx.clock())]


def _raise_if_refused(exc: Exception) -> None:
    """A 401 from the export, job or branch routes stops the run; a lookup's does not."""
    if isinstance(exc, TokenRefused):
        raise exc
    if isinstance(exc, ApiError) and exc.status == 401 and not isinstance(exc, LookupRefused):
        raise TokenRefused(
            f"{exc} The run stopped here: every other archive would be refused too."
        ) from exc


def _failed(
    ctx: Context, result: ArchiveResult, exc: Exception, started_at: float
) -> ArchiveResult:
    message = str(exc) if isinstance(exc, BackupError) else f"Unexpected error: {exc!r}"
    ctx.workflow.debug("".join(traceback.format_exception(exc)))
    ctx.workflow.error(message, title=f"Backup of {_label(result)} failed")
    return replace(result, error=message, seconds=ctx.clock() - started_at)


# -- what the user sees while waiting -------------------------------------------------------------


def _report_running(
    ctx: Context, result: ArchiveResult, job: scheduler.Running
) -> scheduler.Running:
    now = ctx.clock()
    ctx.workflow.info(
        f"{_label(result)}: export job {job.job_id} still running after "
        f"{human_duration(now - job.started)}"
    )
    return scheduler.reported(job, now=now)


def _tell_window(ctx: Context, pending: int, *, told: bool) -> bool:
    """Say once per wait that exports wait for the strict rate-limit window."""
    wait = ctx.api.limits.ready_in(STRICT)
    if pending and wait > 0 and not told:
        ctx.workflow.info(
            f"{pending} more export{'s' if pending > 1 else ''} to start: "
            f"waiting {wait:.0f} s for PlayCanvas's export rate limit to reset"
        )
    return bool(pending and wait > 0)


def _label(result: ArchiveResult) -> str:
    return f"project {result.project_id} ({result.branch})"


def _project_label(project: Project) -> str:
    return f"project {project.id}" + (f' "{project.name}"' if project.name else "")
