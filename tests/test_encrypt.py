"""age encryption: recipients from ``encrypt-to``, and archives that pyrage and the ``age``
tool (a peer we did not write) decrypt back to the same bytes."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO

import pyrage
import pytest
from pyrage import ssh, x25519

from playcanvas_backup import encrypt
from playcanvas_backup.encrypt import (
    MAX_RECIPIENTS,
    WRITEBACK,
    EncryptionFailed,
    encrypt_archive,
    encrypted_path,
    parse_recipients,
)
from playcanvas_backup.errors import InputError
from tests.emulator.archives import make_archive

AGE = shutil.which("age")
SSH_KEYGEN = shutil.which("ssh-keygen")
# CI sets REQUIRE_AGE=1 (and installs Debian's `age`) so that these never pass by skipping.
needs_age = pytest.mark.skipif(
    AGE is None and os.environ.get("REQUIRE_AGE") != "1",
    reason="the age command-line tool is not installed (Debian: apt-get install age)",
)
needs_ssh_keygen = pytest.mark.skipif(
    SSH_KEYGEN is None, reason="ssh-keygen is not installed (Debian: openssh-client)"
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ssh_rsa_line(bits: int) -> str:
    """An ssh-rsa public key line of that modulus size (parsing needs no private key)."""

    def string(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    modulus = (1 << (bits - 1)) | 1
    blob = (
        string(b"ssh-rsa")
        + string((65537).to_bytes(3, "big"))
        + string(b"\x00" + modulus.to_bytes(bits // 8, "big"))
    )
    return "ssh-rsa " + base64.b64encode(blob).decode()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir()
    return make_archive(folder / "111-main.zip", size=300 << 10, label="111")


@pytest.fixture
def identity() -> x25519.Identity:
    return x25519.Identity.generate()


@pytest.fixture
def ssh_key(tmp_path: Path) -> Path:
    """A fresh ssh-ed25519 key pair (``key`` and ``key.pub``) with a comment."""
    if SSH_KEYGEN is None:
        pytest.skip("ssh-keygen is not installed (Debian: openssh-client)")
    key = tmp_path / "id_ed25519"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "ci backups", "-f", str(key)],
        check=True,
    )
    return key


def age_decrypt(encrypted: Path, identity_file: Path, out: Path) -> None:
    if AGE is None:
        pytest.fail("REQUIRE_AGE=1 but the age command-line tool is missing")
    subprocess.run(
        [AGE, "--decrypt", "-i", str(identity_file), "-o", str(out), str(encrypted)],
        check=True,
        capture_output=True,
    )


# -- recipients ------------------------------------------------------------------------------


def test_reads_an_x25519_recipient(identity: x25519.Identity) -> None:
    key = str(identity.to_public())

    (recipient,) = parse_recipients(key)

    assert (recipient.kind, recipient.key) == ("x25519", key)


def test_reads_an_ssh_ed25519_recipient_without_its_comment(ssh_key: Path) -> None:
    line = Path(f"{ssh_key}.pub").read_text().strip()

    (recipient,) = parse_recipients(line)

    assert recipient.kind == "ssh-ed25519"
    assert recipient.key == " ".join(line.split()[:2])


def test_reads_an_ssh_rsa_recipient_of_2048_bits() -> None:
    (recipient,) = parse_recipients(ssh_rsa_line(2048) + " me@laptop")

    assert recipient.kind == "ssh-rsa"


def test_skips_blank_lines_and_comments_and_keeps_duplicates_once(
    identity: x25519.Identity,
) -> None:
    key = str(identity.to_public())
    other = str(x25519.Identity.generate().to_public())

    recipients = parse_recipients(f"# the backup key\n\n  {key}  \n{other}\n{key}\n")

    assert [r.key for r in recipients] == [key, other]


def test_an_empty_input_means_no_encryption() -> None:
    assert parse_recipients("\n  \n") == ()


def test_an_input_of_only_comments_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"encrypt-to.*no recipient, only comments"):
        parse_recipients("\n# nobody yet\n  # age1...\n")


def test_a_label_shortens_the_key_for_logs(identity: x25519.Identity) -> None:
    key = str(identity.to_public())

    (recipient,) = parse_recipients(key)

    assert recipient.label == f"{key[:12]}...{key[-6:]}"


def test_a_bad_line_is_an_input_error_naming_the_input_and_the_line(
    identity: x25519.Identity,
) -> None:
    with pytest.raises(InputError) as raised:
        parse_recipients(f"{identity.to_public()}\n# comment\nnot-a-key-at-all\n")

    assert raised.value.input_name == "encrypt-to"
    assert "line 3 " in raised.value.message
    assert "not-a-key-at-all" not in raised.value.message


def test_a_pasted_secret_key_is_refused_without_echoing_it(identity: x25519.Identity) -> None:
    secret = str(identity)

    with pytest.raises(InputError) as raised:
        parse_recipients(secret)

    assert "secret key" in raised.value.message
    assert secret not in raised.value.message
    assert secret[15:25] not in raised.value.message


def test_a_pasted_ssh_private_key_is_refused_as_secret() -> None:
    with pytest.raises(InputError, match="line 1 looks like a secret key"):
        parse_recipients("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")


def test_an_age1_key_with_a_bad_checksum_is_refused(identity: x25519.Identity) -> None:
    key = str(identity.to_public())
    broken = key[:-1] + ("q" if key[-1] != "q" else "p")

    with pytest.raises(InputError, match="line 1 is not a valid age1"):
        parse_recipients(broken)


def test_an_age_plugin_recipient_is_refused() -> None:
    with pytest.raises(InputError, match="plugin recipients are not supported"):
        parse_recipients("age1yubikey1qgg72x2qfk9wg3wh0qg9u0v7l5dkq4jx69fv80p6wdus3ftg6flwg5dz2dp")


def test_an_ssh_key_whose_blob_is_of_another_type_is_refused() -> None:
    blob = ssh_rsa_line(2048).split()[1]

    with pytest.raises(InputError, match="line 1 is not a valid ssh-ed25519 public key"):
        parse_recipients(f"ssh-ed25519 {blob}")


def test_an_ssh_rsa_key_under_2048_bits_is_refused() -> None:
    with pytest.raises(InputError, match="2048 bits or more"):
        parse_recipients(ssh_rsa_line(1024))


def test_an_unsupported_ssh_key_type_is_refused() -> None:
    line = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= me"

    with pytest.raises(InputError, match="line 1 is not an age recipient"):
        parse_recipients(line)


def test_too_many_recipients_are_refused() -> None:
    keys = "\n".join(str(x25519.Identity.generate().to_public()) for _ in range(65))

    with pytest.raises(InputError, match=f"more than {MAX_RECIPIENTS} recipients"):
        parse_recipients(keys)


# -- encrypting ------------------------------------------------------------------------------


def test_encrypts_beside_the_archive_and_removes_the_plaintext(
    archive: Path, identity: x25519.Identity
) -> None:
    encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    assert encrypted.path == archive.with_name("111-main.zip.age") == encrypted_path(archive)
    assert sorted(p.name for p in archive.parent.iterdir()) == ["111-main.zip.age"]


def test_reports_the_sha256_and_size_of_the_encrypted_file(
    archive: Path, identity: x25519.Identity
) -> None:
    encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    assert encrypted.sha256 == sha256_of(encrypted.path)
    assert encrypted.size == encrypted.path.stat().st_size > 300 << 10


def test_pyrage_decrypts_it_back_to_the_archive(archive: Path, identity: x25519.Identity) -> None:
    plaintext = sha256_of(archive)

    encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    decrypted = pyrage.decrypt(encrypted.path.read_bytes(), [identity])
    assert hashlib.sha256(decrypted).hexdigest() == plaintext


@needs_age
def test_the_age_tool_decrypts_it_with_an_x25519_identity(
    archive: Path, identity: x25519.Identity, tmp_path: Path
) -> None:
    plaintext = sha256_of(archive)
    identity_file = tmp_path / "key.txt"
    identity_file.write_text(f"# test key\n{identity}\n")

    encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    age_decrypt(encrypted.path, identity_file, tmp_path / "restored.zip")
    assert sha256_of(tmp_path / "restored.zip") == plaintext


@needs_age
@needs_ssh_keygen
def test_the_age_tool_decrypts_it_with_an_ssh_ed25519_key(
    archive: Path, ssh_key: Path, tmp_path: Path
) -> None:
    plaintext = sha256_of(archive)

    encrypted = encrypt_archive(archive, parse_recipients(Path(f"{ssh_key}.pub").read_text()))

    age_decrypt(encrypted.path, ssh_key, tmp_path / "restored.zip")
    assert sha256_of(tmp_path / "restored.zip") == plaintext


@needs_age
@needs_ssh_keygen
def test_the_age_tool_decrypts_it_with_an_ssh_rsa_key(archive: Path, tmp_path: Path) -> None:
    assert SSH_KEYGEN is not None
    key = tmp_path / "id_rsa"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True
    )
    plaintext = sha256_of(archive)

    encrypted = encrypt_archive(archive, parse_recipients(Path(f"{key}.pub").read_text()))

    age_decrypt(encrypted.path, key, tmp_path / "restored.zip")
    assert sha256_of(tmp_path / "restored.zip") == plaintext


@needs_ssh_keygen
def test_pyrage_decrypts_it_with_an_ssh_ed25519_key(archive: Path, ssh_key: Path) -> None:
    plaintext = sha256_of(archive)

    encrypted = encrypt_archive(archive, parse_recipients(Path(f"{ssh_key}.pub").read_text()))

    identity = ssh.Identity.from_buffer(ssh_key.read_bytes())
    decrypted = pyrage.decrypt(encrypted.path.read_bytes(), [identity])
    assert hashlib.sha256(decrypted).hexdigest() == plaintext


@needs_age
def test_every_recipient_can_decrypt_it_alone(archive: Path, tmp_path: Path) -> None:
    plaintext = sha256_of(archive)
    identities = [x25519.Identity.generate() for _ in range(3)]
    keys = "\n".join(str(i.to_public()) for i in identities)

    encrypted = encrypt_archive(archive, parse_recipients(keys))

    for index, identity in enumerate(identities):
        identity_file = tmp_path / f"key{index}.txt"
        identity_file.write_text(f"{identity}\n")
        age_decrypt(encrypted.path, identity_file, tmp_path / f"restored{index}.zip")
        assert sha256_of(tmp_path / f"restored{index}.zip") == plaintext


def test_a_stranger_cannot_decrypt_it(archive: Path, identity: x25519.Identity) -> None:
    encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(encrypted.path.read_bytes(), [x25519.Identity.generate()])


def test_the_encrypted_file_gets_the_mode_of_any_new_file(
    archive: Path, identity: x25519.Identity
) -> None:
    old = os.umask(0o022)
    try:
        encrypted = encrypt_archive(archive, parse_recipients(str(identity.to_public())))
    finally:
        os.umask(old)

    assert encrypted.path.stat().st_mode & 0o777 == 0o644


def test_too_little_disk_space_fails_and_still_removes_the_plaintext(
    archive: Path, identity: x25519.Identity
) -> None:
    with pytest.raises(EncryptionFailed, match="Free some disk space"):
        encrypt_archive(
            archive, parse_recipients(str(identity.to_public())), disk_free=lambda _: 1 << 20
        )

    assert list(archive.parent.iterdir()) == []


def test_a_failed_encryption_leaves_nothing_in_the_folder(
    archive: Path, identity: x25519.Identity
) -> None:
    encrypted_path(archive).mkdir()  # the rename onto it fails

    with pytest.raises(EncryptionFailed, match="nothing was kept"):
        encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    assert [p.name for p in archive.parent.iterdir()] == ["111-main.zip.age"]
    assert encrypted_path(archive).is_dir()


def test_a_read_error_while_encrypting_leaves_nothing_behind(
    archive: Path, identity: x25519.Identity
) -> None:
    broken = archive.parent / "broken.zip"
    broken.symlink_to("/proc/self/mem")  # reading it at offset 0 fails with EIO

    with pytest.raises(EncryptionFailed, match=r"Encrypting broken\.zip failed"):
        encrypt_archive(broken, parse_recipients(str(identity.to_public())))

    assert sorted(p.name for p in archive.parent.iterdir()) == ["111-main.zip"]


def test_a_plaintext_that_cannot_be_deleted_is_reported(
    archive: Path, identity: x25519.Identity
) -> None:
    folder = archive.parent / "not-a-file.zip"
    folder.mkdir()

    with pytest.raises(EncryptionFailed, match=r"not-a-file\.zip could not be deleted"):
        encrypt_archive(folder, parse_recipients(str(identity.to_public())))


def test_an_archive_larger_than_the_writeback_step_decrypts_intact(
    tmp_path: Path, identity: x25519.Identity
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    big = make_archive(folder / "big.zip", size=2 * WRITEBACK + 12345, label="big")
    plaintext = sha256_of(big)

    encrypted = encrypt_archive(big, parse_recipients(str(identity.to_public())))

    restored = tmp_path / "restored.zip"
    pyrage.decrypt_file(str(encrypted.path), str(restored), [identity])
    assert sha256_of(restored) == plaintext
    assert encrypted.sha256 == sha256_of(encrypted.path)


def test_encrypting_from_a_temporary_name_writes_the_final_age_file_and_removes_it(
    archive: Path, identity: x25519.Identity
) -> None:
    temporary = archive.parent / f".{archive.name}.k3j9x0qa.part"
    archive.rename(temporary)
    plaintext = sha256_of(temporary)

    encrypted = encrypt_archive(
        temporary, parse_recipients(str(identity.to_public())), destination=encrypted_path(archive)
    )

    assert encrypted.path == encrypted_path(archive)
    assert [p.name for p in archive.parent.iterdir()] == ["111-main.zip.age"]
    restored = archive.parent / "restored.zip"
    pyrage.decrypt_file(str(encrypted.path), str(restored), [identity])
    assert sha256_of(restored) == plaintext


class _Interrupting:
    """A plaintext whose read is interrupted (what SIGINT raises; SIGTERM raises
    cli.Stopped, a BaseException too)."""

    def read(self, size: int = -1) -> bytes:
        raise KeyboardInterrupt


class _InterruptedRead(encrypt._Read):
    def __init__(self, file: BinaryIO) -> None:
        super().__init__(_Interrupting())  # type: ignore[arg-type]


class _InterruptedWrite(encrypt._Written):
    def _write(self, data: bytes) -> int:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("name", "replacement"), [("_Read", _InterruptedRead), ("_Written", _InterruptedWrite)]
)
def test_a_signal_inside_pyrages_callbacks_is_raised_as_itself_and_leaves_nothing(
    archive: Path,
    identity: x25519.Identity,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    replacement: type,
) -> None:
    monkeypatch.setattr(encrypt, name, replacement)

    with pytest.raises(KeyboardInterrupt):
        encrypt_archive(archive, parse_recipients(str(identity.to_public())))

    assert list(archive.parent.iterdir()) == []
