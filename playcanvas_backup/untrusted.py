"""The one rule for text from outside: neutralised where it is printed, not where it is read.

Branch and project names, PlayCanvas's error texts and job messages, headers: anyone who
can edit a PlayCanvas project, or answer in PlayCanvas's place, chooses them. Before such
text reaches the log, an annotation, an output or the summary, :func:`clean` makes it

* one line: control characters (CR, LF, the Unicode line and paragraph separators,
  bidirectional overrides, ...) are shown as escapes such as ``\\n``, so no line of the
  log can start with ``::``; the runner's legacy ``##[command]`` syntax, which it finds
  anywhere in a line, is broken up too;
* free of secrets: the token and every other registered secret, any URL's query (a signed
  URL's signature) and a ``Bearer`` credential become ``***``;
* short: capped at a few hundred characters, ending in ``...``.

:func:`markdown_code` then shows cleaned text in the step summary as a code span, where
Markdown, raw HTML, links and images are inert.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: What a secret, a query or a credential is replaced with (the runner's own mask).
REDACTED = "***"
#: The cap on one field from outside (a branch name, PlayCanvas's error text).
MAX_FIELD = 300
#: The cap on one whole message: our words around the fields from outside.
MAX_MESSAGE = 1000
#: Secrets shorter than this are neither masked nor searched for: they would garble
#: ordinary words (a one-letter URL query turned every "e" of the log into ``***``).
MIN_SECRET = 8
#: Letters alone, up to this long, are a word, not a secret (see :func:`worth_hiding`).
_WORD = re.compile(r"[^\W\d_]{1,24}")

#: What ends a URL in running text (the split keeps these, so text is rebuilt exactly).
_URL_END = re.compile(r"([\s\"'<>`]+)")
_QUERY_NAME = re.compile(r"[\w.~-]+=")
_BEARER = re.compile(r"(\bBearer\s+)[^\s\"'<>`]+", re.IGNORECASE)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Control, format (bidi overrides, zero-width), separator and surrogate characters.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean(text: str, *, secrets: Iterable[str] = (), limit: int | None = MAX_FIELD) -> str:
    """``text`` made safe to print or write anywhere (see the module's docstring).

    >>> clean("feature\\n::stop-commands::x")
    'feature\\\\n::stop-commands::x'
    >>> clean("see https://host/a.zip?X-Amz-Signature=abc")
    'see https://host/a.zip?***'
    """
    text = redact(text, secrets)
    cut = limit is not None and len(text) > limit
    if limit is not None:
        # Escaping only lengthens the text: what lies past the cap now never shows.
        text = text[:limit]
    text = "".join(_visible(char) for char in text)
    # The runner acts on "##[name]data" anywhere in a line, and on "::name::data" at the
    # start of a line after blanks.
    text = text.replace("##[", "## [")
    if text.lstrip().startswith("::"):
        text = text.replace("::", ": :", 1)
    if limit is not None and (cut or len(text) > limit):
        text = text[: max(0, limit - 3)] + "..."
    return text


def worth_hiding(value: str) -> bool:
    """Whether ``value`` can be a secret to hide: at least :data:`MIN_SECRET` characters,
    and not a word (letters alone, as "complete" or "download": hiding those would garble
    the log, and no token or signature is one).

    >>> worth_hiding("e"), worth_hiding("download"), worth_hiding("sv=2025&sig=Ab3")
    (False, False, True)
    """
    return len(value) >= MIN_SECRET and not _WORD.fullmatch(value)


def quoted(value: str, *, limit: int = 40) -> str:
    """A value in quotes for a message about it (an input's text, say): cleaned, short.

    >>> quoted("tru\\n")
    "'tru\\\\n'"
    """
    return f"'{clean(value, limit=limit)}'"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret, URL query and ``Bearer`` credential replaced by ``***``."""
    # Every secret long enough to hide: the masks' word rule was applied when it was
    # registered (a credential is hidden whatever its letters).
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    # Word by word rather than one pattern over the text: linear however hostile it is.
    text = "".join(_without_query(part) for part in _URL_END.split(text))
    return _BEARER.sub(rf"\1{REDACTED}", text)


def _without_query(word: str) -> str:
    """A word with its URL query replaced: after ``scheme://...``, or ``?name=...``."""
    mark = word.find("?")
    if mark < 0:
        return word
    if "://" in word[:mark] or _QUERY_NAME.match(word, mark + 1):
        return word[:mark] + "?" + REDACTED
    return word


def markdown_code(text: str) -> str:
    """Cleaned text as a Markdown code span for a table cell: shown as typed, never as
    markup, HTML, a link or an image. ``|`` is escaped, as a GFM table cell needs even
    inside a code span."""
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # One blank on each side is stripped by Markdown; it lets the text start or end
    # with a backtick.
    return f"{fence} {text} {fence}".replace("|", "\\|")


def _visible(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
