"""Where in S3 an archive goes: the ``s3-uri`` template, checked before any network call.

``s3://bucket/prefix/{project_id}/{branch}/{file}``: the bucket is literal (AWS's bucket
name rules, which the S3-compatible stores share), the object key is a template with the
``filename`` fields plus ``{file}``, the archive's own file name (``.age`` included).
A key that ends in ``/`` (or a bare bucket) gets ``{file}`` added; any other key must
hold ``{file}``, so that two archives never share a key. Field values are cleaned as in
file names (``feature/x`` becomes ``feature-x``), so a branch name cannot add a level to
the key. This module knows no client (it is imported by the settings).

>>> uri = parse("s3://backups/playcanvas/{project_id}/{branch}/")
>>> uri.render({"project_id": 7, "branch": "feature/x"}, file="7.zip")
's3://backups/playcanvas/7/feature-x/7.zip'
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from . import templates
from .errors import InputError

INPUT = "s3-uri"
#: The fields of ``s3-uri``: those of ``filename`` and ``{file}``.
FIELDS = (*templates.FIELDS, "file")
#: S3's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: The environment variables an S3 store's credentials come from (the settings pass them
#: on; other links of boto3's chain, a web identity or an instance role, it finds itself).
CREDENTIAL_ENV = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Uri:
    """A checked ``s3-uri``: the bucket and the object key's template."""

    bucket: str
    key: str
    fields: frozenset[str]

    @property
    def text(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def key_for(self, values: Mapping[str, object], *, file: str) -> str:
        """The object key for an archive with these field values and file name."""
        filled = {name: templates.clean(values.get(name)) for name in self.fields}
        filled["file"] = templates.clean(file)
        return unicodedata.normalize("NFC", self.key.format_map(filled))

    def render(self, values: Mapping[str, object], *, file: str) -> str:
        """The object's ``s3://`` URI."""
        return f"s3://{self.bucket}/{self.key_for(values, file=file)}"

    @property
    def prefix(self) -> str:
        """The key's literal start, before its first field (where a listing begins)."""
        return self.key.split("{", 1)[0]


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key).

    >>> split("s3://b-1/a/b.zip")
    ('b-1', 'a/b.zip')
    """
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def parse(text: str, input_name: str = INPUT) -> S3Uri:
    """Check ``text`` as an ``s3-uri``; raise :class:`InputError` naming ``input_name``."""
    if not text.startswith("s3://"):
        raise InputError(
            input_name,
            f"'{text}' is not an s3:// URI; write it as s3://bucket/prefix/{{project_id}}/{{file}}.",
        )
    bucket, _, key = text[5:].partition("/")
    check_bucket(bucket, input_name)
    if key == "" or key.endswith("/"):
        key += "{file}"
    fields, literal = templates.fields_and_literal(input_name, key, known=FIELDS, shown=text)
    if "file" not in fields:
        raise InputError(
            input_name,
            f"'{text}' has no {{file}}; end the key with {{file}} (the archive's file name) "
            "or with '/', so that every archive gets a key of its own.",
        )
    bad = sorted({char for char in literal if unicodedata.category(char) in {"Cc", "Cf"}})
    if bad or "\\" in literal:
        raise InputError(input_name, f"'{text}' holds control characters or '\\' in its key.")
    if any(segment in {".", ".."} for segment in key.split("/")):
        raise InputError(input_name, f"'{text}' has a '.' or '..' level in its key.")
    longest = key.format_map({name: "x" * 255 if name == "file" else "x" * 64 for name in fields})
    if len(longest.encode()) > MAX_KEY_BYTES:
        raise InputError(
            input_name, f"'{text[:60]}...' makes keys longer than S3's {MAX_KEY_BYTES} bytes."
        )
    return S3Uri(bucket, key, frozenset(fields - {"file"}))


def check_bucket(bucket: str, input_name: str = INPUT) -> None:
    """S3's bucket name rules: 3-63 of ``a-z 0-9 . -``, starting and ending with a letter
    or digit, no ``..``, not an IP address, none of the reserved prefixes and suffixes.

    >>> check_bucket("my-backups")
    """
    problem = None
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = (
            "3 to 63 lower-case letters, digits, '.' and '-', starting and ending with "
            "a letter or digit"
        )
    elif _is_ip(bucket):
        problem = "not an IP address"
    elif bucket.startswith(("xn--", "sthree-")) or bucket.endswith(("-s3alias", "--ol-s3")):
        problem = "none of the reserved prefixes (xn--, sthree-) or suffixes (-s3alias, --ol-s3)"
    if problem:
        raise InputError(
            input_name, f"'{bucket}' is not a valid bucket name (S3's rules: {problem})."
        )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
