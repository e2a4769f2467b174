"""age encryption of verified archives (``encrypt-to``), with pyrage.

Recipients are the three public-key kinds the ``age`` tool reads from a recipients file:
X25519 (``age1...``), ``ssh-ed25519`` and ``ssh-rsa`` (2048 bits or more). Plugin
recipients, passphrases and anything secret are refused: a line of ``encrypt-to`` is
never echoed back, only its number, since a pasted secret key must not reach the log.

A verified archive is encrypted from its private temporary name (the download's ``.part``
file: the plaintext never has a final name) into ``<name>.age``: pyrage streams the file
through age in 64 KiB chunks (constant memory) into a private temporary ``.part`` file of
its own, hashed as it is written and sent to disk as it goes (:mod:`.writeback`, ``fsync``
at the end), renamed into place (the folder fsynced), and only then is
the plaintext removed. The plaintext is removed in every case, success or failure, so
that it never stays in the backup folder where a later step could upload it; a kill in
between leaves only part files, which the next run removes (:mod:`files`).

A ``SIGTERM``/``SIGINT`` arriving while pyrage runs is raised inside one of its read or
write callbacks, where pyrage would turn it into its own error: the callbacks keep the
interruption and it is raised again, as itself, once pyrage has returned.

>>> recipients = parse_recipients("age1...\\nssh-ed25519 AAAA... me@laptop")  # doctest: +SKIP
>>> encrypted = encrypt_archive(Path("backups/1-main.zip"), recipients)  # doctest: +SKIP
>>> encrypted.path, encrypted.sha256, encrypted.size  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import pyrage
from pyrage import ssh, x25519

from .errors import BackupError, InputError
from .files import move_into_place
from .writeback import Writeback

INPUT = "encrypt-to"
SUFFIX = ".age"
#: Recipients one ``encrypt-to`` may name (age itself has no limit; this bounds the work).
MAX_RECIPIENTS = 64
#: Longest line read: a 16384-bit ``ssh-rsa`` key with a long comment still fits.
MAX_LINE = 4096
#: age's payload: a 16-byte tag per 64 KiB chunk, plus a header of a few hundred bytes
#: per recipient; the estimate of the encrypted size that the free-space check uses.
_CHUNK = 64 << 10
_HEADER_ALLOWANCE = 1024
DISK_MARGIN = 16 << 20
#: Bytes written between two background ``fdatasync``s.
WRITEBACK = 16 << 20

Kind = Literal["x25519", "ssh-ed25519", "ssh-rsa"]
_X25519 = re.compile(r"age1[02-9ac-hj-np-z]{58}", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_SECRET_MARKERS = ("AGE-SECRET-KEY-", "PRIVATE KEY", "AGE-PLUGIN-")


class EncryptionFailed(BackupError):
    """The archive could not be encrypted; the plaintext was removed all the same."""

    title = "Encryption failed"


@dataclass(frozen=True)
class Recipient:
    """One age recipient: its kind, its public key (no comment), and pyrage's object."""

    kind: Kind
    key: str
    pyrage: x25519.Recipient | ssh.Recipient = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        """A short form for logs and the summary (public keys are not secret)."""
        if self.kind == "x25519":
            return f"{self.key[:12]}...{self.key[-6:]}"
        blob = self.key.split(" ", 1)[1]
        return f"{self.kind} {blob[-12:]}"


@dataclass(frozen=True)
class Encrypted:
    """An encrypted archive at its final path."""

    path: Path
    sha256: str
    size: int
    #: Of the encrypted bytes, for the artifact's zip (computed in the same pass).
    crc32: int


def parse_recipients(text: str) -> tuple[Recipient, ...]:
    """The recipients of ``encrypt-to``: one per line; empty lines and ``#`` comments skipped.

    Returns ``()`` when ``text`` is blank (the input is not set). Duplicates are kept once.
    A line that is not a public key raises :class:`InputError` naming the line's number,
    and so does a value with nothing but comments: encryption was asked for, to no one.
    """
    recipients: list[Recipient] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        recipient = _recipient(line, number)
        if recipient not in recipients:
            recipients.append(recipient)
        if len(recipients) > MAX_RECIPIENTS:
            raise InputError(INPUT, f"names more than {MAX_RECIPIENTS} recipients.")
    if text.strip() and not recipients:
        raise InputError(
            INPUT,
            "has no recipient, only comments ('#') and blank lines. Give at least one "
            "public key (age1..., ssh-ed25519 ..., ssh-rsa ...), or leave the input empty "
            "to keep archives unencrypted.",
        )
    return tuple(recipients)


def encrypted_path(archive: Path) -> Path:
    """Where :func:`encrypt_archive` writes ``archive``'s encrypted form."""
    return archive.with_name(archive.name + SUFFIX)


def encrypt_archive(
    archive: Path,
    recipients: Sequence[Recipient],
    *,
    destination: Path | None = None,
    disk_free: Callable[[Path], int] = lambda folder: shutil.disk_usage(folder).free,
) -> Encrypted:
    """Encrypt ``archive`` to every recipient as ``destination`` (by default
    ``<archive>.age``), then delete ``archive``.

    Returns the encrypted file's path, SHA-256 and size once it is written to disk and
    renamed into place. On any failure nothing is left at or beside ``destination`` and
    the plaintext is deleted as well (:class:`EncryptionFailed`; a signal's exception
    propagates as itself); run the backup again.
    """
    if not recipients:
        raise ValueError("encrypt_archive needs at least one recipient")
    try:
        return _encrypt(archive, destination or encrypted_path(archive), recipients, disk_free)
    finally:
        try:
            archive.unlink(missing_ok=True)
        except OSError as exc:
            raise EncryptionFailed(
                f"The unencrypted archive {archive.name} could not be deleted "
                f"({exc.strerror or type(exc).__name__}); delete it before anything uploads "
                "or copies the folder, then run the backup again."
            ) from exc


def _encrypt(
    archive: Path,
    destination: Path,
    recipients: Sequence[Recipient],
    disk_free: Callable[[Path], int],
) -> Encrypted:
    part: Path | None = None
    # The archive's own name: ``archive`` may be its temporary one.
    name, folder = destination.name.removesuffix(SUFFIX), destination.parent
    try:
        needed = _encrypted_size_bound(archive.stat().st_size, len(recipients)) + DISK_MARGIN
        free = disk_free(folder)
        if free < needed:
            raise EncryptionFailed(
                f"Encrypting {name} needs about {needed >> 20} MiB free beside it, "
                f"and {folder} has {free >> 20} MiB; the unencrypted archive was "
                "deleted. Free some disk space or choose another 'path', then run the "
                "backup again."
            )
        handle, part_name = tempfile.mkstemp(
            dir=folder, prefix=f".{destination.name}.", suffix=".part"
        )
        part = Path(part_name)
        written = _age(archive, handle, [r.pyrage for r in recipients])
        move_into_place(part, destination)
        part = None
    except (OSError, pyrage.EncryptError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise EncryptionFailed(
            f"Encrypting {name} failed ({reason}); nothing was kept and the "
            "unencrypted archive was deleted. Check the free space in 'path', then run the "
            "backup again."
        ) from exc
    finally:
        if part is not None:
            part.unlink(missing_ok=True)
    return Encrypted(destination, written.digest.hexdigest(), written.size, written.crc32)


def _age(archive: Path, handle: int, keys: list[x25519.Recipient | ssh.Recipient]) -> _Written:
    """Stream ``archive`` through age into the open part file ``handle``, then fsync it.

    ``encrypt_io`` rather than ``encrypt_file`` and a second read to hash: the hash is of
    what was written, and with the writeback it is the faster of the two
    (bench/encrypt.py). A signal met in one of pyrage's callbacks is the real outcome,
    whatever pyrage then says: it is raised as itself.
    """
    with (
        os.fdopen(handle, "wb") as file,
        archive.open("rb") as plaintext,
        contextlib.closing(Writeback(file.fileno(), every=WRITEBACK)) as writeback,
    ):
        read, written = _Read(plaintext), _Written(file, writeback)
        try:
            pyrage.encrypt_io(read, written, keys)  # type: ignore[arg-type]
        finally:
            for callback in (read, written):
                if callback.interruption is not None:
                    raise callback.interruption
        written.sync()
    return written


def _recipient(line: str, number: int) -> Recipient:
    where = f"line {number}"
    if len(line) > MAX_LINE:
        raise InputError(INPUT, f"{where} is longer than {MAX_LINE} characters.")
    words = line.split()
    if words[0] in {"ssh-ed25519", "ssh-rsa"}:
        return _ssh_recipient(words, where)
    if any(marker in line.upper() for marker in _SECRET_MARKERS):
        raise InputError(
            INPUT,
            f"{where} looks like a secret key. Give only public keys here (age1..., "
            "ssh-ed25519 ..., ssh-rsa ...); keep the secret key out of the workflow and "
            "replace it, since it may already have been seen.",
        )
    if _X25519.fullmatch(line):
        try:
            return Recipient("x25519", line.lower(), x25519.Recipient.from_str(line))
        except pyrage.RecipientError:
            raise InputError(
                INPUT, f"{where} is not a valid age1... key (its checksum does not match)."
            ) from None
    if line.lower().startswith("age1"):
        raise InputError(
            INPUT,
            f"{where} is not an X25519 age1... key (62 characters); age plugin recipients "
            "are not supported.",
        )
    raise InputError(
        INPUT,
        f"{where} is not an age recipient; give one public key per line: age1... (X25519), "
        "ssh-ed25519 ... or ssh-rsa ... (as in a .pub file).",
    )


def _ssh_recipient(words: list[str], where: str) -> Recipient:
    kind: Kind = "ssh-ed25519" if words[0] == "ssh-ed25519" else "ssh-rsa"
    blob = words[1] if len(words) > 1 else ""
    wire_kind = b""
    if _BASE64.fullmatch(blob):
        with contextlib.suppress(binascii.Error, IndexError):
            decoded = base64.b64decode(blob, validate=True)
            wire_kind = decoded[4 : 4 + int.from_bytes(decoded[:4], "big")]
    if wire_kind != kind.encode():
        raise InputError(INPUT, f"{where} is not a valid {kind} public key.")
    key = f"{kind} {blob}"
    try:
        return Recipient(kind, key, ssh.Recipient.from_str(key))
    except pyrage.RecipientError:
        detail = " (age needs RSA keys of 2048 bits or more)" if kind == "ssh-rsa" else ""
        raise InputError(INPUT, f"{where} is not a usable {kind} public key{detail}.") from None
    except BaseException as exc:
        # pyrage panics on some malformed keys (an RSA blob without its numbers): pyo3
        # raises that as PanicException, a BaseException. Anything else goes on as is.
        if type(exc).__name__ != "PanicException":
            raise
        raise InputError(INPUT, f"{where} is not a valid {kind} public key.") from None


def _encrypted_size_bound(size: int, recipients: int) -> int:
    chunks = size // _CHUNK + 1
    return size + 16 * chunks + _HEADER_ALLOWANCE * (recipients + 1)


class _Read:
    """The plaintext as pyrage reads it (``read`` is all it calls), keeping any
    interruption (a signal's exception) raised while it reads: pyrage would report it as
    a failed read."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.interruption: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        if self.interruption is not None:
            raise self.interruption
        try:
            return self._file.read(size)
        except Exception:
            raise
        except BaseException as exc:
            self.interruption = exc
            raise


class _Written:
    """The file object pyrage writes to: hashes (SHA-256, CRC-32) and counts each piece as
    it is written, and keeps any interruption raised meanwhile (as :class:`_Read`).

    Every :data:`WRITEBACK` bytes what is written so far starts going to disk
    (:class:`~.writeback.Writeback`), so that the disk writes while age encrypts and the
    final ``fsync`` has little left.
    """

    def __init__(self, file: BinaryIO, writeback: Writeback) -> None:
        self._file = file
        self._writeback = writeback
        self._flushed = 0
        self.digest = hashlib.sha256()
        self.crc32 = 0
        self.size = 0
        self.interruption: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.interruption is not None:
            raise self.interruption
        try:
            return self._write(data)
        except Exception:
            raise
        except BaseException as exc:
            self.interruption = exc
            raise

    def _write(self, data: bytes) -> int:
        self.digest.update(data)
        self.crc32 = zlib.crc32(data, self.crc32)
        self.size += len(data)
        count = self._file.write(data)
        if self.size - self._flushed >= WRITEBACK:
            self._file.flush()
            self._flushed = self.size
            self._writeback.written(self.size)
        return count

    def flush(self) -> None:
        self._file.flush()

    def sync(self) -> None:
        """Everything written is on disk (``fsync``)."""
        self._file.flush()
        self._writeback.sync()
