"""The one client of workflow commands (github-action-utils): masks, logs, groups,
annotations, outputs and the step summary. Outside GitHub Actions the same calls print
plain lines, and nothing secret is ever echoed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import TextIO

import github_action_utils as gha


class Workflow:
    """Where the product's messages go."""

    def __init__(
        self, env: Mapping[str, str], *, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"
        self.debug_enabled = env.get("RUNNER_DEBUG") == "1"
        self._has_output_file = bool(env.get("GITHUB_OUTPUT"))
        self._has_summary_file = bool(env.get("GITHUB_STEP_SUMMARY"))
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def mask(self, secret: str) -> None:
        """Ask the runner to hide ``secret`` in the log from here on.

        Outside Actions there is no mask to ask for, and printing the command would
        print the secret, so nothing is written.
        """
        if self.in_actions and secret:
            _command("add-mask", secret)

    def info(self, message: str) -> None:
        print(message, file=self._out, flush=True)

    def debug(self, message: str) -> None:
        if self.in_actions:
            _command("debug", message)
        elif self.debug_enabled:
            print(f"debug: {message}", file=self._err, flush=True)

    def warning(self, message: str, *, title: str = "PlayCanvas backup") -> None:
        if self.in_actions:
            gha.warning(message, title=title)
        else:
            print(f"warning: {message}", file=self._err, flush=True)

    def error(self, message: str, *, title: str = "PlayCanvas backup failed") -> None:
        if self.in_actions:
            gha.error(message, title=title)
        else:
            print(f"error: {message}", file=self._err, flush=True)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.in_actions:
            _command("group", title)
            try:
                yield
            finally:
                gha.end_group()
        else:
            self.info(f"== {title}")
            yield

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Write step outputs to GITHUB_OUTPUT, or print them as ``name=value`` lines."""
        for name, value in outputs.items():
            if self.in_actions and self._has_output_file:
                gha.set_output(name, value)
            else:
                self.info(f"{name}={value}")

    def summary(self, markdown: str) -> None:
        """Append to the step summary (only where the runner gives one)."""
        if self._has_summary_file:
            gha.append_job_summary(markdown)


def _command(name: str, data: str) -> None:
    """An option-less workflow command in its canonical form, ``::name::data``.

    github-action-utils writes these as ``::name ::data`` (a space before ``::``);
    GitHub's runner accepts that, but act's parser does not, and the contract names
    ``::add-mask::<token>``. Commands with options (annotations) go through it as is.
    """
    gha.echo(f"::{name}::{_escape(data)}")


def _escape(data: str) -> str:
    """Workflow-command data escaping (``%``, CR, LF), as the runner decodes it."""
    return data.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
