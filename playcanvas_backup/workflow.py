"""The one client of workflow commands (github-action-utils): masks, logs, groups,
annotations, outputs and the step summary. Outside GitHub Actions the same calls print
plain lines, and nothing secret is ever echoed.

Every message may carry text from outside (branch names, PlayCanvas's error texts), so
each one passes :func:`untrusted.clean` on its way out, with the secrets given to
:meth:`Workflow.mask` redacted: a message is always one line that cannot be read as a
workflow command, and never repeats a secret, in Actions or not.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import TextIO

import github_action_utils as gha

from . import untrusted


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
        self._secrets: list[str] = []

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret given to :meth:`mask` so far."""
        return tuple(self._secrets)

    def mask(self, secret: str) -> None:
        """Ask the runner to hide ``secret`` in the log from here on, and redact it from
        every later message, output and summary.

        Outside Actions there is no mask to ask for, and printing the command would
        print the secret, so nothing is written.
        """
        if not secret:
            return
        if secret not in self._secrets:
            self._secrets.append(secret)
        if self.in_actions:
            _command("add-mask", secret)

    def clean(self, text: str, *, limit: int | None = untrusted.MAX_MESSAGE) -> str:
        """``text`` as every message goes out: one safe line, secrets redacted."""
        return untrusted.clean(text, secrets=self._secrets, limit=limit)

    def info(self, message: str) -> None:
        print(self.clean(message), file=self._out, flush=True)

    def debug(self, message: str) -> None:
        if self.in_actions:
            _command("debug", self.clean(message))
        elif self.debug_enabled:
            print(f"debug: {self.clean(message)}", file=self._err, flush=True)

    def warning(self, message: str, *, title: str = "PlayCanvas backup") -> None:
        if self.in_actions:
            gha.warning(self.clean(message), title=self.clean(title))
        else:
            print(f"warning: {self.clean(message)}", file=self._err, flush=True)

    def error(self, message: str, *, title: str = "PlayCanvas backup failed") -> None:
        if self.in_actions:
            gha.error(self.clean(message), title=self.clean(title))
        else:
            print(f"error: {self.clean(message)}", file=self._err, flush=True)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.in_actions:
            _command("group", self.clean(title))
            try:
                yield
            finally:
                gha.end_group()
        else:
            self.info(f"== {title}")
            yield

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Write step outputs to GITHUB_OUTPUT, or print them as ``name=value`` lines.

        The values' texts from outside were cleaned where they were made (``report``);
        the secrets are redacted here once more, as the last step before they leave.
        """
        for name, value in outputs.items():
            redacted = untrusted.redact(value, self._secrets)
            if self.in_actions and self._has_output_file:
                gha.set_output(name, redacted)
            else:
                print(self.clean(f"{name}={redacted}", limit=None), file=self._out, flush=True)

    def summary(self, markdown: str) -> None:
        """Append to the step summary (only where the runner gives one); its cells were
        made Markdown-safe in ``report``, the secrets are redacted here once more."""
        if self._has_summary_file:
            gha.append_job_summary(untrusted.redact(markdown, self._secrets))


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
