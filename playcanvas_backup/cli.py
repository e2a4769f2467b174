"""The edge: command line and runner environment in, exit status out.

Exit status: 0 when every requested archive was saved and verified (and uploaded, when
asked); 1 otherwise; 2 for invalid inputs, rejected before any network call.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from . import __version__, report
from .config import INPUTS, load, raw_inputs
from .errors import BackupError, InputError
from .workflow import Workflow

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


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
            "Exit status: 0 all archives saved, 1 any archive failed, 2 invalid input. "
            "The token can also come from PLAYCANVAS_ACCESS_TOKEN. "
            "Example: playcanvas-backup --project-id 123456 --all-branches true"
        ),
    )
    for spec in INPUTS:
        default = f" (default: {spec.default})" if spec.default else ""
        parser.add_argument(
            spec.flag,
            dest=spec.dest,
            metavar=spec.dest.upper(),
            help=spec.help.replace("%", "%%") + default,
        )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the action; return its exit status."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    flags = {spec.name: getattr(args, spec.dest) for spec in INPUTS}
    given = raw_inputs(env, flags)
    workflow = Workflow(env)
    # First thing, before anything can echo it.
    workflow.mask(given.get("access-token", ""))
    _terminate_cleanly()
    try:
        settings = load(given, env, cwd=Path.cwd())
        _prepare(settings.output_dir)
    except InputError as exc:
        workflow.error(str(exc), title=exc.title)
        return EXIT_INPUT
    if settings.in_github_actions and not _inside(settings.output_dir, settings.workspace):
        workflow.warning(
            f"path {settings.output_dir} is outside the workspace; later steps of "
            "the job cannot see it."
        )

    # Imported only now, so that --help and input errors stay fast (no requests or
    # tenacity to load for them).
    from .run import back_up  # noqa: PLC0415

    try:
        results = back_up(settings, workflow)
    except BackupError as exc:
        workflow.error(str(exc), title=exc.title)
        return EXIT_FAILED

    workflow.set_outputs(report.outputs(results, settings.workspace, secrets=workflow.secrets))
    workflow.summary(report.summary(results, settings.workspace, secrets=workflow.secrets))
    for result in results:
        if result.error:
            workflow.error(
                result.error,
                title=f"Backup of project {result.project_id} ({result.branch}) failed",
            )
    return EXIT_FAILED if any(r.error for r in results) else EXIT_OK


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


def _terminate_cleanly() -> None:
    """Turn SIGTERM (a cancelled job) into an exception so partial files get removed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
