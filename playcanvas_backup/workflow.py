"""The one client of the runner: masks, logs, groups, annotations, outputs and the step
summary, all through the environment and streams it is given (never ``os.environ`` or
``sys.stdout`` behind its back, so tests can use it as it is). Outside GitHub Actions the
same calls print plain lines on stderr, and the outputs alone go to stdout (one JSON
object, or ``name=value`` lines); nothing secret is ever echoed.

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
import json
import re
import secrets
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, unquote, urlsplit

from . import untrusted

if TYPE_CHECKING:
    from tqdm import tqdm

_WARNING, _ERROR = "PlayCanvas backup", "PlayCanvas backup failed"


class Workflow:
    """Where the product's messages go."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        output_format: str = "json",
    ) -> None:
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"
        #: How outputs are printed outside Actions: one JSON object, or ``name=value`` lines.
        self.output_format = output_format
        self.debug_enabled = env.get("RUNNER_DEBUG") == "1"
        self._output_file = env.get("GITHUB_OUTPUT") or None
        self._summary_file = env.get("GITHUB_STEP_SUMMARY") or None
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._secrets: list[str] = []
        #: The progress bar on the terminal, while a download draws one.
        self._bar: tqdm[Any] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret given to :meth:`mask` so far."""
        return tuple(self._secrets)

    def mask(self, secret: str, *, credential: bool = False) -> None:
        """Ask the runner to hide ``secret`` in the log from here on, and redact it from
        every later message, output and summary.

        Never a value shorter than 8 characters, nor a part of a URL that is a word
        (:func:`untrusted.worth_hiding`): the runner would hide every occurrence of it in
        the log. A ``credential`` (a token or key the user gave) is hidden whatever its
        letters; the inputs refuse one shorter than 8 characters. Outside Actions there is
        no mask to ask for, and printing the command would print the secret, so nothing
        is written.
        """
        if len(secret) < untrusted.MIN_SECRET or not (credential or untrusted.worth_hiding(secret)):
            return
        if secret in self._secrets:
            return  # masked already: one command per secret
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
        """A log line: on stdout in Actions (the runner's log), on stderr elsewhere, where
        stdout carries only the outputs."""
        self._line(self._out if self.in_actions else self._err, self.clean(message))

    def result(self, line: str) -> None:
        """A line of a command's own result (the doctor's report): on stdout everywhere,
        cleaned like every line, so that it can be piped or pasted."""
        self._line(self._out, self.clean(line))

    def debug(self, message: str) -> None:
        if self.in_actions:
            self._command("debug", message)
        elif self.debug_enabled:
            self._line(self._err, f"debug: {self.clean(message)}")

    def warning(self, message: str, *, title: str = _WARNING) -> None:
        if self.in_actions:
            self._command("warning", message, title=title)
        else:
            self._line(self._err, self.clean(f"warning: {_titled(message, title, _WARNING)}"))

    def error(self, message: str, *, title: str = _ERROR) -> None:
        """An error annotation in Actions; one ``error:`` line on stderr elsewhere (with
        its title, unless that is the default one)."""
        if self.in_actions:
            self._command("error", message, title=title)
        else:
            self._line(self._err, self.clean(f"error: {_titled(message, title, _ERROR)}"))

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

    @contextlib.contextmanager
    def progress_bar(self, label: str) -> Iterator[Callable[[int, int | None], None] | None]:
        """A download's progress bar on stderr, for a person at a terminal (not in Actions,
        stderr a TTY): yields the callback that moves it (bytes so far, total or None).
        Elsewhere yields None: the download logs its periodic lines instead."""
        if self.in_actions or not self._err.isatty():
            yield None
            return
        from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

        with tqdm(
            desc=self.clean(label, limit=60),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=self._err,
            dynamic_ncols=True,
            leave=True,
        ) as bar:

            def moved(done: int, total: int | None) -> None:
                if total is not None and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)  # negative when a download starts over

            self._bar = bar
            try:
                yield moved
            finally:
                self._bar = None

    def set_outputs(self, outputs: Mapping[str, str], *, structured: Collection[str] = ()) -> None:
        """Write step outputs to GITHUB_OUTPUT; else print them on stdout: one JSON object
        (``output_format`` json, outside Actions; the ``structured`` outputs, JSON text
        themselves, embedded as JSON) or ``name=value`` lines.

        The values' texts from outside were cleaned where they were made (``report``);
        the secrets are redacted here once more, as the last step before they leave: in a
        JSON value, from each text in it before it is written again (redacting the
        serialised text could break it: ``"Bearer x\\""``).
        """
        redacted = {name: self._redact(value) for name, value in outputs.items()}
        if not self.in_actions and self.output_format == "json":
            shown = {
                name: _embedded(value) if name in structured else value
                for name, value in redacted.items()
            }
            # ASCII: no character a terminal could act on, whatever a name holds.
            self._line(self._out, json.dumps(shown))
            return
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

    def _redact(self, value: str) -> str:
        if value[:1] in {"[", "{"}:
            try:
                parsed = json.loads(value)
            except ValueError:
                pass
            else:
                return json.dumps(_redacted(parsed, self._secrets))
        return untrusted.redact(value, self._secrets)

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

    def _line(self, stream: TextIO, text: str) -> None:
        if self._bar is not None and stream is self._err:
            self._bar.write(text, file=stream)  # above the bar, which is drawn again
        else:
            print(text, file=stream, flush=True)


def _titled(message: str, title: str, default: str) -> str:
    return message if title == default else f"{title}: {message}"


def _embedded(value: str) -> object:
    """An output holding JSON text, as JSON (the text itself should it not parse)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _redacted(value: Any, secrets: Sequence[str]) -> Any:
    """Every text in a parsed JSON value redacted (keys included)."""
    if isinstance(value, str):
        return untrusted.redact(value, secrets)
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_redacted(k, secrets): _redacted(v, secrets) for k, v in value.items()}
    return value


#: Query parameters that carry a URL's signature (Azure's ``sig``, S3's
#: ``X-Amz-Signature``, GCS's ``X-Goog-Signature``, act's ``sig``, tokens, credentials).
_SIGNATURE = re.compile(r"sig|token|credential", re.IGNORECASE)


def _escape(data: str) -> str:
    """Workflow-command data escaping (``%``, CR, LF), as the runner decodes it."""
    return data.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    """Property escaping: the data's, plus ``:`` and ``,``."""
    return _escape(value).replace(":", "%3A").replace(",", "%2C")
