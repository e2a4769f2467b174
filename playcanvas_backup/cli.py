"""The edge: command line and runner environment in, exit status out.

Exit status: 0 when every requested archive was saved and verified (and uploaded, when
asked); 1 otherwise, and always when a run that is not a dry run saved no archive
(:func:`report.failed`, the one rule); 2 for invalid inputs, rejected before any network
call; 130 or 143 when stopped by SIGINT or SIGTERM (after reporting what was done).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__, doctor, report
from .config import INPUTS, Input, Settings, load, raw_inputs, unknown_inputs
from .errors import BackupError, InputError
from .result import ArchiveResult
from .workflow import Workflow

if TYPE_CHECKING:
    from .projects import Excluded

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
#: How a local run prints its outputs (``--output-format``).
OUTPUT_FORMATS = ("json", "github")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playcanvas-backup",
        description=(
            "Export PlayCanvas projects through the REST API, wait for the export jobs, "
            "download each archive (streamed, SHA-256, zip CRC check, resumed on faults) "
            "and write it atomically. In GitHub Actions the same inputs arrive as INPUT_* "
            "variables; a flag wins over the environment."
        ),
        epilog=(
            "Exit status: 0 all archives saved, 1 any archive failed or none saved (dry "
            "runs aside), 2 invalid input, "
            "130/143 stopped by SIGINT/SIGTERM (outputs and summary still written). "
            "The token can also come from PLAYCANVAS_ACCESS_TOKEN. A true/false flag alone "
            "means true (--all-branches), --no-<flag> means false (--no-verify), and "
            "--<flag> true|false works too. Example: "
            "playcanvas-backup --project-id 123456 --all-branches. "
            "Subcommands: playcanvas-backup doctor --help (what a token can do for this "
            "backup), playcanvas-backup restore --help (a backup back into a verified zip)."
        ),
    )
    for spec in INPUTS:
        add_input(parser, spec)
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        help=(
            "How a local run prints its outputs on stdout (logs go to stderr): one JSON "
            "object (json, the default) or name=value lines (github). In GitHub Actions "
            "the outputs go to GITHUB_OUTPUT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def add_input(parser: argparse.ArgumentParser, spec: Input) -> None:
    """One input's flag (a boolean's ``--<name>`` and ``--no-<name>``), for the backup
    and for ``doctor``, which takes the same inputs."""
    default = f" (default: {spec.default})" if spec.default else ""
    if spec.boolean:
        parser.add_argument(
            spec.flag,
            dest=spec.dest,
            action=OptionalBoolean,
            help=spec.help.replace("%", "%%") + default,
        )
        parser.add_argument(
            "--no-" + spec.name, dest=spec.dest, action="store_const", const="false",
            help=argparse.SUPPRESS,
        )  # fmt: skip
    else:
        parser.add_argument(
            spec.flag,
            dest=spec.dest,
            metavar=spec.dest.upper(),
            help=spec.help.replace("%", "%%") + default,
        )


class OptionalBoolean(argparse.Action):
    """A boolean input's flag: alone it means ``true`` (``--verify``), and it still takes
    a value (``--verify false``), checked with the other inputs so that a wrong one names
    the input. ``--no-verify`` (a plain constant) means ``false``."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", const="true", **kwargs)
        self.metavar = "true|false"

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the action; return its exit status (130/143 when stopped by SIGINT/SIGTERM)."""
    env = os.environ if env is None else env
    argv = subcommand_first(sys.argv[1:] if argv is None else argv)
    asked = doctor.run_if_asked(argv, env, out=out, err=err)
    if asked is not None:  # the doctor subcommand
        return asked
    if argv[:1] == ["restore"]:
        from . import restore  # noqa: PLC0415 - a subcommand, not the action

        previous = _stop_on_signals()  # a stopped restore removes its part files too
        try:
            return restore.main(argv[1:], env, out=out or sys.stdout, err=err or sys.stderr)
        except Stopped as stop:
            print("error: Stopped; nothing was restored.", file=err or sys.stderr)
            return 128 + stop.signum
        finally:
            _restore(previous)
    args = build_parser().parse_args(argv)
    flags = {spec.name: getattr(args, spec.dest) for spec in INPUTS}
    given = raw_inputs(env, flags)
    workflow = Workflow(env, out=out, err=err, output_format=args.output_format or "json")
    # First thing, before anything can echo them.
    workflow.mask(given.get("access-token", ""), credential=True)
    workflow.mask(given.get("github-token", ""), credential=True)
    for warning in unknown_inputs(env):
        workflow.warning(warning, title="Unknown input")
    previous = _stop_on_signals()
    try:
        return _main(given, env, workflow)
    finally:
        _restore(previous)


SUBCOMMANDS = ("doctor", "restore")


def subcommand_first(argv: Sequence[str]) -> list[str]:
    """``argv`` with a subcommand word that follows bare true/false flags moved first:
    the word after ``--all-branches`` is that subcommand, not the flag's value.

    >>> subcommand_first(["--all-branches", "doctor", "--export"])
    ['doctor', '--all-branches', '--export']
    >>> subcommand_first(["--branch", "doctor"])
    ['--branch', 'doctor']
    """
    words = list(argv)
    booleans = {f for spec in INPUTS if spec.boolean for f in (spec.flag, "--no-" + spec.name)}
    for at, word in enumerate(words):
        if word in SUBCOMMANDS and all(w in booleans for w in words[:at]):
            return [word, *words[:at], *words[at + 1 :]]
    return words


def _main(given: Mapping[str, str], env: Mapping[str, str], workflow: Workflow) -> int:
    try:
        settings = load(given, env, cwd=Path.cwd())
        _prepare(settings.output_dir)
    except InputError as exc:
        workflow.error(str(exc), title=exc.title)
        return EXIT_INPUT
    _echo_settings(settings, workflow)
    if settings.in_github_actions and not _inside(settings.output_dir, settings.workspace):
        workflow.warning(
            f"path {settings.output_dir} is outside the workspace; later steps of "
            "the job cannot see it."
        )
    return _back_up_and_report(settings, workflow)


def _back_up_and_report(settings: Settings, workflow: Workflow) -> int:
    """Run the backup; report what it did (outputs, summary, annotations) whatever
    happens, a cancel included."""
    # Imported only now, so that --help and input errors stay fast (no requests
    # or tenacity to load for them).
    from .run import back_up  # noqa: PLC0415

    results: list[ArchiveResult] = []
    excluded: list[Excluded] = []
    status, problem = EXIT_OK, None
    try:
        back_up(settings, workflow, results, excluded)
    except (Stopped, KeyboardInterrupt) as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        workflow.error(f"Stopped by {signal.Signals(signum).name}; reporting what was done.")
        results[:] = [
            r if r.error or r.archived else replace(r, error="Not finished: the run was stopped.")
            for r in results
        ]
        status = 128 + signum
    except BackupError as exc:  # the run as a whole (the account's projects not listed)
        workflow.error(str(exc), title=exc.title)
        status, problem = EXIT_FAILED, str(exc)
    except Exception as exc:
        workflow.debug("".join(traceback.format_exception(exc)))
        workflow.error(f"Unexpected error: {exc!r}; reporting what was done.")
        status = EXIT_FAILED
    # A second signal must not cut the report short: the runner waits for it.
    for name in _SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    if status == EXIT_OK:
        problem = report.nothing_saved(results, excluded, dry_run=settings.dry_run)
        if problem:
            workflow.error(problem, title="Nothing was backed up")
    _report(settings, workflow, results, excluded, problem)
    if status == EXIT_OK and report.failed(results, dry_run=settings.dry_run):
        status = EXIT_FAILED
    return status


def _report(
    settings: Settings,
    workflow: Workflow,
    results: list[ArchiveResult],
    excluded: list[Excluded],
    problem: str | None = None,
) -> None:
    """The outputs (with the run's ``archives-file``) and the summary; the log ends with
    the summary's headline (each archive's saved or failed line was logged as it
    happened, once)."""
    archives_file = _write_archives(settings, workflow, results)
    values = report.outputs(
        results, settings.workspace, secrets=workflow.secrets, archives_file=archives_file
    )
    workflow.set_outputs(values, structured=report.JSON_OUTPUTS)
    workflow.summary(
        report.summary(
            results,
            settings.workspace,
            secrets=workflow.secrets,
            excluded=excluded,
            dry_run=settings.dry_run,
            problem=problem,
        )
    )
    workflow.info(report.headline(results, dry_run=settings.dry_run))  # the run in a line


def _write_archives(
    settings: Settings, workflow: Workflow, results: list[ArchiveResult]
) -> Path | None:
    """Write the run's ``archives-file``; warn when the ``archives`` output cannot hold
    the whole list (or when the file cannot be written)."""
    try:
        path = report.write_archives(
            settings.output_dir, results, settings.workspace, secrets=workflow.secrets
        )
    except OSError as exc:
        workflow.warning(
            f"The list of archives could not be written to {settings.output_dir} "
            f"({exc.strerror or type(exc).__name__}); the 'archives-file' output is not set."
        )
        return None
    shown = report.shown_path(path, settings.workspace)
    entries = report.archive_entries(results, settings.workspace, secrets=workflow.secrets)
    _, kept = report.capped_json(entries, report.ARCHIVES_LIMIT)
    if kept < len(results):
        workflow.warning(
            f"The 'archives' output holds the first {kept} of {len(results)} archives "
            f"(it is capped at {report.ARCHIVES_LIMIT >> 10} KiB); read the whole list from "
            f"the file the 'archives-file' output names ({shown})."
        )
    return path


def _echo_settings(settings: Settings, workflow: Workflow) -> None:
    """The resolved settings, secrets left out, in a collapsed group: support starts here.
    Each input's line is its ``INPUTS`` row's ``shown``."""
    with workflow.group("Settings"):
        for spec in INPUTS:
            if spec.shown is not None:
                workflow.info(f"{spec.name}: {spec.shown(settings)}")


def _prepare(output_dir: Path) -> None:
    """Create the archive directory now, so that an unusable ``path`` fails before any
    export is started rather than after the first download."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            "path",
            f"'{output_dir}' cannot be created ({exc.strerror}); choose "
            "a directory this job can write to.",
        ) from exc
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise InputError(
            "path", f"'{output_dir}' is not writable; choose a directory this job can write to."
        )


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


class Stopped(BaseException):
    """SIGTERM (a cancelled job) or SIGINT arrived: unwinds the run (removing partial
    files on the way) up to :func:`main`, which reports and exits ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_SIGNALS = tuple(name for name in ("SIGTERM", "SIGINT") if hasattr(signal, name))
_Handler = Callable[[int, FrameType | None], Any] | int | None


def _stop_on_signals() -> dict[str, _Handler]:
    """Turn SIGTERM and SIGINT into :class:`Stopped`; return the handlers they had."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    return {name: signal.signal(getattr(signal, name), handler) for name in _SIGNALS}


def _restore(handlers: Mapping[str, _Handler]) -> None:
    for name, handler in handlers.items():
        if handler is not None:  # None: a handler not set from Python, nothing to restore
            signal.signal(getattr(signal, name), handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
