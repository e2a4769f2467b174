"""One backup run, top to bottom: plan the archives, export them (within the rate
limits), wait for the jobs, download and verify each archive, upload it if asked.

Every requested archive ends as one :class:`ArchiveResult`; a failure of one does not
stop the others. Reporting (outputs, summary, exit status) is the caller's.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from .artifact import ArtifactUploader
from .config import Settings
from .download import Archive, download
from .errors import BackupError, BranchNotFound, ExportFailed
from .playcanvas import STRICT, Branch, ExportJob, PlayCanvasApi
from .polling import next_poll_delay
from .report import ArchiveResult, shown_path
from .templates import timestamp_fields
from .units import human_size
from .workflow import Workflow

#: Uploads an archive as an artifact of this name; returns (artifact id, artifact URL).
Upload = Callable[[Archive, str], tuple[int, str]]


def back_up(settings: Settings, workflow: Workflow) -> list[ArchiveResult]:
    """Run the backup with the real collaborators: HTTP sessions, the API client and,
    when asked, the artifact uploader."""
    with requests.Session() as api_session, requests.Session() as download_session:
        api = PlayCanvasApi(
            settings.api_url, settings.access_token, session=api_session, log=workflow.info
        )
        upload = None
        if settings.artifact_runtime is not None:
            upload = ArtifactUploader(
                settings.artifact_runtime,
                retention_days=settings.retention_days,
                overwrite=settings.overwrite,
                mask=workflow.mask,
                log=workflow.info,
                warn=workflow.warning,
            )
        results = run(settings, api=api, session=download_session, workflow=workflow, upload=upload)
        workflow.debug(f"{api.requests_sent} PlayCanvas API requests")
    return results


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
) -> list[ArchiveResult]:
    """Back up every requested archive; return one result per archive."""
    results = plan_archives(settings, api, clock=clock)
    exports = _Exports(
        settings,
        api=api,
        session=session,
        workflow=workflow,
        upload=upload,
        clock=clock,
        sleep=sleep,
        rng=rng,
    )
    exports.run([result for result in results if result.error is None])
    return results


def plan_archives(
    settings: Settings, api: PlayCanvasApi, *, clock: Callable[[], float] = time.time
) -> list[ArchiveResult]:
    """The archives to make: one per project, or per branch; failures carry their reason."""
    results: list[ArchiveResult] = []
    for project_id in settings.project_ids:
        if not settings.branch and not settings.all_branches:
            results.append(ArchiveResult(project_id, "main", None))
            continue
        try:
            branches = api.list_branches(project_id, deadline=clock() + settings.timeout)
            if settings.all_branches:
                if not branches:
                    raise BranchNotFound(f"Project {project_id} has no open branches to export.")
                chosen = branches
            else:
                chosen = [find_branch(project_id, branches, settings.branch or "")]
        except BackupError as exc:
            results.append(
                ArchiveResult(project_id, settings.branch or "main", None, error=str(exc))
            )
            continue
        results += [ArchiveResult(project_id, branch.name, branch.id) for branch in chosen]
    return results


def find_branch(project_id: int, branches: list[Branch], wanted: str) -> Branch:
    """The branch whose id or name is ``wanted`` (a unique case-insensitive name will do)."""
    for match in (
        [b for b in branches if b.id == wanted],
        [b for b in branches if b.name == wanted],
        [b for b in branches if b.name.casefold() == wanted.casefold()],
    ):
        if len(match) == 1:
            return match[0]
    names = sorted({b.name for b in branches}, key=str.casefold)
    shown = ", ".join(names[:30]) + (f", and {len(names) - 30} more" if len(names) > 30 else "")
    raise BranchNotFound(
        f"Project {project_id} has no open branch named or with the id '{wanted}'. "
        f"Its open branches are: {shown or '(none)'}. Set 'branch' to one of these."
    )


@dataclass
class _Running:
    result: ArchiveResult
    job: ExportJob
    started: float
    deadline: float
    next_poll: float


class _Exports:
    """Starts the exports as the strict rate limit allows and polls the running jobs
    together, each on its own backoff schedule, finishing each one as it completes."""

    def __init__(
        self,
        settings: Settings,
        *,
        api: PlayCanvasApi,
        session: requests.Session,
        workflow: Workflow,
        upload: Upload | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._api = api
        self._session = session
        self._workflow = workflow
        self._upload = upload
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._names = timestamp_fields(datetime.fromtimestamp(clock(), UTC))
        self._claimed: set[str] = set()

    def run(self, todo: list[ArchiveResult]) -> None:
        pending = deque(todo)
        running: list[_Running] = []
        waiting_for_window = False
        while pending or running:
            while pending and self._api.ready_in(STRICT) == 0:
                started = self._start(pending.popleft())
                if started is not None:
                    running.append(started)
            for item in sorted(running, key=lambda r: r.next_poll):
                if item.next_poll <= self._clock() and not self._poll(item):
                    running.remove(item)
            wake = [item.next_poll for item in running]
            if pending:
                wait = self._api.ready_in(STRICT)
                wake.append(self._clock() + wait)
                if wait > 0 and not waiting_for_window:
                    self._workflow.info(
                        f"{len(pending)} more export{'s' if len(pending) > 1 else ''} to start: "
                        f"waiting {wait:.0f} s for PlayCanvas's export rate limit to reset"
                    )
                waiting_for_window = wait > 0
            if wake:
                self._sleep(max(0.0, min(wake) - self._clock()))

    def _start(self, result: ArchiveResult) -> _Running | None:
        label = _label(result)
        now = self._clock()
        try:
            job = self._api.start_export(
                result.project_id, branch_id=result.branch_id, deadline=now + self._settings.timeout
            )
        except BackupError as exc:
            self._fail(result, exc, now)
            return None
        result.job_id = job.id
        self._workflow.info(f"{label}: export job {job.id} started")
        item = _Running(result, job, now, now + self._settings.timeout, now)
        if not job.finished:
            item.next_poll = now + self._delay(0)
        return item

    def _poll(self, item: _Running) -> bool:
        """Look at one job (unless the export answer already said it finished).
        Returns whether it is still running."""
        result = item.result
        try:
            if not item.job.finished:
                item.job = self._api.get_job(item.job.id, deadline=item.deadline)
            if item.job.status == "error":
                reason = "; ".join(item.job.messages) or "PlayCanvas gave no reason"
                raise ExportFailed(
                    f"Export job {item.job.id} of {_label(result)} ended in error: {reason}"
                )
            if item.job.status != "complete":
                now = self._clock()
                if now >= item.deadline:
                    raise ExportFailed(
                        f"Export job {item.job.id} of {_label(result)} was still "
                        f"'{item.job.status}' after {self._settings.timeout:g} s. Raise "
                        "'timeout' for a big project, or look at the job on PlayCanvas."
                    )
                item.next_poll = min(item.deadline, now + self._delay(now - item.started))
                self._workflow.debug(
                    f"{_label(result)}: job {item.job.id} is "
                    f"{item.job.status}; next look in "
                    f"{item.next_poll - now:.1f} s"
                )
                return True
            self._workflow.info(
                f"{_label(result)}: export job {item.job.id} complete after "
                f"{self._clock() - item.started:.0f} s"
            )
            self._finish(item)
        except BackupError as exc:
            self._fail(result, exc, item.started)
        return False

    def _finish(self, item: _Running) -> None:
        """Download, verify and (if asked) upload one completed export."""
        result, settings = item.result, self._settings
        fields = {
            "project_id": result.project_id,
            "branch": result.branch,
            "branch_id": result.branch_id,
            "job_id": item.job.id,
            **self._names,
        }
        file_name = self._claim("filename", settings.filename.render(fields))
        first_url = item.job.url

        def fetch_url() -> str:
            nonlocal first_url
            url, first_url = first_url, None
            if url is None:
                url = self._api.get_job(item.job.id, deadline=item.deadline).url
            if url is None:
                raise ExportFailed(
                    f"Export job {item.job.id} is complete but PlayCanvas gave "
                    "no download link. Run the backup again."
                )
            # The whole link, and its query alone (the signature), are credentials.
            self._workflow.mask(url)
            self._workflow.mask(urlsplit(url).query)
            return url

        with self._workflow.group(f"{_label(result)}: download and verify"):
            archive = download(
                fetch_url,
                settings.output_dir / file_name,
                session=self._session,
                verify_zip=settings.verify,
                want_crc32=self._upload is not None,
                log=lambda line: self._workflow.info(f"{_label(result)}: {line}"),
            )
            result.path, result.sha256, result.size = archive.path, archive.sha256, archive.size
            result.seconds = self._clock() - item.started
            self._workflow.info(
                f"{_label(result)}: saved {shown_path(archive.path, settings.workspace)} "
                f"({human_size(archive.size)}, sha256 {archive.sha256}"
                + (", zip verified)" if settings.verify else ")")
            )
            if self._upload is not None:
                name = self._claim("artifact-name", settings.artifact_name.render(fields))
                result.artifact_id, result.artifact_url = self._upload(archive, name)
                result.seconds = self._clock() - item.started
                self._workflow.info(
                    f"{_label(result)}: uploaded as artifact '{name}' ({result.artifact_url})"
                )

    def _claim(self, input_name: str, name: str) -> str:
        if name in self._claimed:
            raise ExportFailed(
                f"'{input_name}' gives the name '{name}' to two archives of this "
                "run; add {branch_id} or {job_id} to it."
            )
        self._claimed.add(name)
        return name

    def _fail(self, result: ArchiveResult, error: BackupError, started: float) -> None:
        result.error = str(error)
        result.seconds = self._clock() - started
        self._workflow.info(f"{_label(result)}: failed: {error}")

    def _delay(self, age: float) -> float:
        return next_poll_delay(
            age,
            first=self._settings.poll_interval,
            cap=self._settings.max_poll_interval,
            jitter=self._rng(),
        )


def _label(result: ArchiveResult) -> str:
    return f"project {result.project_id} ({result.branch})"
