"""The one client of the runner: masks, logs, groups, annotations, outputs and the step
summary, all through the environment and streams it is given (never ``os.environ`` or
``sys.stdout`` behind its back, so tests can use it as it is). Outside GitHub Actions the
same calls print plain lines, and nothing secret is ever echoed.

Workflow commands are written in their canonical form, ``::name key=value::data``, with
the runner's escaping; outputs go to the file ``GITHUB_OUTPUT`` names as
``name<<delimiter`` records.

Every message may carry text from outside (branch names, PlayCanvas's error texts), so
each one passes :func:`untrusted.clean` on its way out, with the secrets given to
:meth:`Workflow.mask` redacted: a message is always one line that cannot be read as a
workflow command, and never repeats a secret, in Actions or not.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, unquote, urlsplit

from . import untrusted


class Workflow:
    """Where the product's messages go."""

    def __init__(
        self, env: Mapping[str, str], *, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"
        self.debug_enabled = env.get("RUNNER_DEBUG") == "1"
        self._output_file = env.get("GITHUB_OUTPUT") or None
        self._summary_file = env.get("GITHUB_STEP_SUMMARY") or None
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

        Never a value shorter than 8 characters or a word (:func:`untrusted.worth_hiding`):
        the runner would hide every occurrence of it in the log. Outside Actions there is
        no mask to ask for, and printing the command would print the secret, so nothing
        is written.
        """
        if not untrusted.worth_hiding(secret):
            return
        if secret not in self._secrets:
            self._secrets.append(secret)
        if self.in_actions:
            self._command("add-mask", secret, clean=False)

    def mask_url(self, url: str) -> None:
        """Mask a signed URL: the whole link, its query, and its signature alone (raw,
        decoded and encoded), each only if it is worth hiding."""
        self.mask(url)
        query = urlsplit(url).query
        self.mask(query)
        for name, raw in re.findall(r"(?:^|&)([^&=]*)=([^&]*)", query):
            if _SIGNATURE.search(name):
                value = unquote(raw)
                for form in dict.fromkeys((raw, value, quote(value, safe=""))):
                    self.mask(form)

    def clean(self, text: str, *, limit: int | None = untrusted.MAX_MESSAGE) -> str:
        """``text`` as every message goes out: one safe line, secrets redacted."""
        return untrusted.clean(text, secrets=self._secrets, limit=limit)

    def info(self, message: str) -> None:
        self._line(self._out, self.clean(message))

    def debug(self, message: str) -> None:
        if self.in_actions:
            self._command("debug", message)
        elif self.debug_enabled:
            self._line(self._err, f"debug: {self.clean(message)}")

    def warning(self, message: str, *, title: str = "PlayCanvas backup") -> None:
        if self.in_actions:
            self._command("warning", message, title=title)
        else:
            self._line(self._err, f"warning: {self.clean(message)}")

    def error(self, message: str, *, title: str = "PlayCanvas backup failed") -> None:
        if self.in_actions:
            self._command("error", message, title=title)
        else:
            self._line(self._err, f"error: {self.clean(message)}")

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsed group of log lines in Actions; a heading line elsewhere."""
        if self.in_actions:
            self._command("group", title)
            try:
                yield
            finally:
                self._command("endgroup", "")
        else:
            self.info(f"== {title}")
            yield

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Write step outputs to GITHUB_OUTPUT, or print them as ``name=value`` lines.

        The values' texts from outside were cleaned where they were made (``report``);
        the secrets are redacted here once more, as the last step before they leave.
        """
        redacted = {name: untrusted.redact(value, self._secrets) for name, value in outputs.items()}
        if not (self.in_actions and self._output_file):
            for name, value in redacted.items():
                self._line(self._out, self.clean(f"{name}={value}", limit=None))
            return
        records = []
        for name, value in redacted.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            records.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        with Path(self._output_file).open("a", encoding="utf-8") as file:
            file.write("".join(records))

    def summary(self, markdown: str) -> None:
        """Append to the step summary (only where the runner gives one); its cells were
        made Markdown-safe in ``report``, the secrets are redacted here once more."""
        if self._summary_file:
            with Path(self._summary_file).open("a", encoding="utf-8") as file:
                file.write(untrusted.redact(markdown, self._secrets))

    def _command(self, name: str, data: str, *, clean: bool = True, **properties: str) -> None:
        """Every command's data and properties pass :meth:`clean` (one line, secrets
        redacted), except a mask's: the secret itself."""
        if clean:
            data = self.clean(data)
            properties = {key: self.clean(value) for key, value in properties.items()}
        options = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
        self._line(self._out, f"::{name}{' ' + options if options else ''}::{_escape(data)}")

    @staticmethod
    def _line(stream: TextIO, text: str) -> None:
        print(text, file=stream, flush=True)


#: Query parameters that carry a URL's signature (Azure's ``sig``, S3's
#: ``X-Amz-Signature``, GCS's ``X-Goog-Signature``, act's ``sig``, tokens, credentials).
_SIGNATURE = re.compile(r"sig|token|credential", re.IGNORECASE)


def _escape(data: str) -> str:
    """Workflow-command data escaping (``%``, CR, LF), as the runner decodes it."""
    return data.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    """Property escaping: the data's, plus ``:`` and ``,``."""
    return _escape(value).replace(":", "%3A").replace(",", "%2C")
