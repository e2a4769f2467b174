"""``playcanvas-backup restore``: fetch a backup, check it, decrypt it, and leave a
verified zip for the PlayCanvas Projects Dashboard's import.

Two sources:

* ``--from s3://bucket/prefix/{project_id}/{branch}/{file}`` (the backup's ``s3-uri``):
  the objects under the template's prefix are listed; the newest whose recorded entry
  (object metadata, see :func:`s3.archive_metadata`) is of the project (and ``--branch``,
  ``--date``) is fetched; its SHA-256 must be the recorded one, and after decryption the
  plaintext's the recorded ``archive-sha256``.
* ``--from github:owner/repo``: the repository's artifacts named ``--artifact-name``
  (GitHub's REST API, with ``--github-token`` or ``GITHUB_TOKEN``); the newest (or of
  ``--date``) is downloaded; its SHA-256 must be the ``digest`` GitHub recorded at upload,
  and it must hold exactly one archive, which zipfile reads back (each member's CRC).

Then, for both: an ``.age`` archive is decrypted with ``--identity`` (an age identity
file or an SSH private key); ``--sha256`` (the backup's ``sha256`` output), when given,
must match the plaintext; the zip is checked member by member (:func:`zipcheck.check_file`);
and only then is it renamed into place in ``--output``. Exit status: 0 restored, 1 failed,
2 bad input (before any network call).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import string
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from . import http, s3uri, templates, untrusted
from .deadline import Deadline
from .errors import BackupError, InputError
from .files import move_into_place
from .finished import measure
from .units import human_size

if TYPE_CHECKING:
    import requests

    from .s3 import Listed, ObjectInfo, S3Store

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
MANUAL = "https://developer.playcanvas.com/user-manual/editor/projects/backup-and-export/"
DEFAULT_GITHUB_API = "https://api.github.com"
DEFAULT_ARTIFACT_NAME = "playcanvas-{project_id}-{branch}"
#: Objects looked at (HEAD) for their recorded entry, newest first.
MAX_CANDIDATES = 200
#: Objects listed under the prefix.
MAX_LISTED = 100_000
#: How long the whole restore may take, seconds.
TIMEOUT = 6 * 3600
_CHUNK = 1 << 20
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


Log = Callable[[str], None]
T = TypeVar("T")


class RestoreFailed(BackupError):
    title = "Restore failed"


@dataclass(frozen=True)
class Request:
    """What to restore, checked."""

    source: str
    project_id: int
    branch: str | None
    date: str | None
    identities: tuple[Path, ...]
    output: Path
    sha256: str | None
    s3_endpoint_url: str | None
    s3_region: str | None
    artifact_name: templates.Template
    github_api_url: str
    github_token: str | None


@dataclass(frozen=True)
class Fetched:
    """A backup fetched into a private part file, with what its source recorded."""

    part: Path
    name: str
    #: The plaintext archive's SHA-256 as recorded at backup time, when the source has it.
    archive_sha256: str | None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playcanvas-backup restore",
        description=(
            "Fetch the newest backup of a project (or of --branch, --date) from S3 or from "
            "a repository's artifacts, check its SHA-256 against what the backup recorded, "
            "decrypt it when it is .age, check the zip, and leave it ready for the "
            "PlayCanvas Projects Dashboard's import."
        ),
        epilog="Exit status: 0 restored, 1 failed, 2 invalid input.",
    )
    add = parser.add_argument
    add(
        "--from",
        dest="source",
        required=True,
        help="s3://bucket/... (the backup's s3-uri) or github:owner/repo (its artifacts).",
    )
    add("--project-id", required=True, help="The project to restore.")
    add("--branch", help="The branch's name (default: any; main in artifact names).")
    add("--date", help="The backup of this day (YYYY-MM-DD, UTC); default: the newest.")
    add(
        "--identity",
        action="append",
        default=[],
        help="age identity file or SSH private key for an .age backup (repeatable).",
    )
    add("--output", default=".", help="Directory for the restored zip (default: here).")
    add("--sha256", help="The backup's sha256 output: the restored zip must have it.")
    add("--s3-endpoint-url", help="Endpoint of an S3-compatible store; default AWS.")
    add("--s3-region", help="The bucket's region.")
    add(
        "--artifact-name",
        default=DEFAULT_ARTIFACT_NAME,
        help=f"Artifact name template (default: {DEFAULT_ARTIFACT_NAME}).",
    )
    add("--github-api-url", help=f"Default GITHUB_API_URL, else {DEFAULT_GITHUB_API}.")
    add(
        "--github-token",
        help="Token that can read the repository's Actions (default: GITHUB_TOKEN, GH_TOKEN).",
    )
    return parser


def main(argv: Sequence[str], env: Mapping[str, str], *, out: TextIO, err: TextIO) -> int:
    """Run ``restore`` with these arguments; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        request = parse(args, env)
    except InputError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INPUT
    try:
        # Progress on stderr, the restored zip alone on stdout (as the backup's logs and
        # outputs). Every line holds names from outside (keys, metadata, members): cleaned.
        restored = restore(request, env, log=lambda line: print(_shown(line), file=err))
    except BackupError as exc:
        print(f"error: {untrusted.clean(str(exc), limit=untrusted.MAX_MESSAGE)}", file=err)
        return EXIT_FAILED
    except OSError as exc:  # the disk: full, a file too large, the folder gone
        reason = exc.strerror or type(exc).__name__
        print(
            f"error: The restore could not write in {request.output} ({reason}); nothing "
            "was kept. Free some space or choose another --output.",
            file=err,
        )
        return EXIT_FAILED
    print(
        _shown(
            f"Restored {restored} ({human_size(restored.stat().st_size)}): a verified "
            "PlayCanvas archive."
        ),
        file=out,
    )
    print(
        "Next: on the PlayCanvas Projects Dashboard choose Import and pick this zip (it "
        f"creates a new project). What an export holds: {MANUAL}",
        file=out,
    )
    return EXIT_OK


def _shown(line: str) -> str:
    return untrusted.clean(line, limit=None)


def parse(args: argparse.Namespace, env: Mapping[str, str]) -> Request:
    """The arguments, checked before any network call."""
    from .config import check_endpoint_url  # noqa: PLC0415 - the one rule for endpoint URLs

    source = str(args.source)
    if source.startswith("s3://"):
        s3uri.parse(source, "--from")
    elif not (source.startswith("github:") and _REPO.fullmatch(source[7:])):
        raise InputError("--from", f"'{source}' is neither s3://bucket/... nor github:owner/repo.")
    if not re.fullmatch(r"[1-9][0-9]{0,17}", str(args.project_id)):
        raise InputError("--project-id", f"'{args.project_id}' is not a project id.")
    if args.date is not None and not _DATE.fullmatch(args.date):
        raise InputError("--date", f"'{args.date}' is not a date (YYYY-MM-DD).")
    if args.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        raise InputError("--sha256", "is not a SHA-256 (64 hexadecimal digits).")
    identities = tuple(Path(i).expanduser() for i in args.identity)
    for identity in identities:
        if not identity.is_file():
            raise InputError("--identity", f"'{identity}' is not a file.")
    token = args.github_token or env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if source.startswith("github:") and not token:
        raise InputError(
            "--github-token",
            "reading a repository's artifacts needs a token that can read its Actions: "
            "--github-token, or GITHUB_TOKEN / GH_TOKEN.",
        )
    api = args.github_api_url or env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API
    endpoint = args.s3_endpoint_url
    return Request(
        source=source,
        project_id=int(args.project_id),
        branch=args.branch or None,
        date=args.date,
        identities=identities,
        output=_output(Path(args.output).expanduser()),
        sha256=args.sha256.lower() if args.sha256 else None,
        s3_endpoint_url=check_endpoint_url("--s3-endpoint-url", endpoint, "AWS")
        if endpoint
        else None,
        s3_region=args.s3_region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        artifact_name=templates.parse("--artifact-name", args.artifact_name),
        github_api_url=check_endpoint_url("--github-api-url", api, DEFAULT_GITHUB_API),
        github_token=token,
    )


def _output(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--output", f"'{folder}' cannot be created ({exc.strerror}).") from exc
    return folder


def restore(
    request: Request,
    env: Mapping[str, str],
    *,
    log: Log = print,
    clock: Callable[[], float] = time.time,
) -> Path:
    """Fetch, check, decrypt and place the backup; return the restored zip's path."""
    deadline = Deadline.after(TIMEOUT, clock=clock)
    with _workspace(request.output) as work:
        if request.source.startswith("s3://"):
            fetched = from_s3(request, env, work, log=log, deadline=deadline)
        else:
            fetched = from_artifacts(request, env, work, log=log, deadline=deadline)
        return finish(request, fetched, work, log=log)


@contextlib.contextmanager
def _workspace(output: Path) -> Iterator[Path]:
    """A private folder beside the output for the part files, removed in every case."""
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=output) as folder:
        yield Path(folder)


def finish(request: Request, fetched: Fetched, work: Path, *, log: Log) -> Path:
    """Decrypt when ``.age``, check the SHA-256s and the zip, rename into place."""
    from .zipcheck import check_file  # noqa: PLC0415

    part, name = fetched.part, fetched.name
    if name.endswith(".age"):
        part, name = _decrypt(request, part, work), name.removesuffix(".age")
        log(f"decrypted {name}")
    plaintext = measure(part)
    for expected, what in (
        (fetched.archive_sha256, "the SHA-256 the backup recorded"),
        (request.sha256, "--sha256"),
    ):
        if expected is not None and plaintext.sha256 != expected:
            raise RestoreFailed(
                f"The restored archive's SHA-256 is {plaintext.sha256}, not {what} "
                f"({expected}): it is not the archive that was backed up. Nothing was kept."
            )
    check_file(part)
    log(f"checked {name}: sha256 {plaintext.sha256}, every member's CRC")
    destination = request.output / templates.clean(name)
    _sync(part)  # on disk before it has its name: a crash leaves no empty zip there
    move_into_place(part, destination)
    return destination


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _decrypt(request: Request, encrypted: Path, work: Path) -> Path:
    import pyrage  # noqa: PLC0415
    from pyrage import ssh, x25519  # noqa: PLC0415

    if not request.identities:
        raise RestoreFailed(
            f"{encrypted.name} is age-encrypted: give the identity that can decrypt it with "
            "--identity (an age identity file, or the SSH private key of an ssh recipient)."
        )
    identities: list[x25519.Identity | ssh.Identity] = []
    for path in request.identities:
        text = path.read_text(errors="replace")
        keys = [line.strip() for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-")]
        try:
            if keys:
                identities += [x25519.Identity.from_str(key) for key in keys]
            else:
                identities.append(ssh.Identity.from_buffer(path.read_bytes()))
        except pyrage.IdentityError as exc:
            raise RestoreFailed(
                f"{path} is neither an age identity file nor an SSH private key "
                "pyrage can read (a passphrase-protected key is not)."
            ) from exc
    plaintext = work / "decrypted.zip"
    try:
        pyrage.decrypt_file(str(encrypted), str(plaintext), identities)
    except pyrage.DecryptError as exc:
        raise RestoreFailed(
            f"The backup could not be decrypted with the given identities ({exc}): "
            "none of them is a recipient it was encrypted to, or the file is damaged."
        ) from exc
    return plaintext


# -- S3 ---------------------------------------------------------------------------------------


def from_s3(
    request: Request, env: Mapping[str, str], work: Path, *, log: Log, deadline: Deadline
) -> Fetched:
    from .s3 import S3Store  # noqa: PLC0415 - boto3 only for S3

    uri = s3uri.parse(request.source, "--from")
    store = S3Store(
        endpoint_url=request.s3_endpoint_url, region=request.s3_region, env=env, log=log
    )
    prefix = listing_prefix(uri, request.project_id, request.branch)
    listed = store.list(uri.bucket, prefix, deadline=deadline, limit=MAX_LISTED)
    log(f"s3://{uri.bucket}/{prefix}: {len(listed)} objects")
    newest_first = sorted(listed, key=lambda o: o.modified, reverse=True)
    key, info = _choose(
        store,
        request,
        bucket=uri.bucket,
        prefix=prefix,
        newest_first=newest_first,
        deadline=deadline,
    )
    object_uri = f"s3://{uri.bucket}/{key}"
    log(f"restoring {object_uri} ({human_size(info.size)}, made {info.metadata.get('created')})")
    part = work / "fetched"
    with part.open("wb") as file:
        store.download(object_uri, file, version_id=info.version_id, deadline=deadline)
    fetched = measure(part)
    if fetched.sha256 != info.metadata.get("sha256") or fetched.size != info.size:
        raise RestoreFailed(
            f"{object_uri} read back with SHA-256 {fetched.sha256} ({fetched.size} bytes), "
            f"not the recorded {info.metadata.get('sha256')} ({info.size} bytes): the stored "
            "object is damaged. Try an older backup (--date)."
        )
    log(f"fetched {object_uri}: sha256 {fetched.sha256} as recorded")
    return Fetched(part, key.rsplit("/", 1)[-1], info.metadata.get("archive-sha256"))


def listing_prefix(uri: s3uri.S3Uri, project_id: int, branch: str | None) -> str:
    """The key's start up to its first field not known here (``project_id``, ``branch``).

    >>> listing_prefix(s3uri.parse("s3://bkt/pc/{project_id}/{branch}/"), 7, None)
    'pc/7/'
    >>> listing_prefix(s3uri.parse("s3://bkt/pc/{project_id}/{branch}/"), 7, "a/b")
    'pc/7/a-b/'
    """
    known: dict[str, str] = {"project_id": str(project_id)}
    if branch is not None:
        known["branch"] = templates.clean(branch)
    prefix = ""
    for literal, name, _, _ in string.Formatter().parse(uri.key):
        prefix += literal
        if name is None:
            continue
        if name not in known:
            break
        prefix += known[name]
    return prefix


def _choose(
    store: S3Store,
    request: Request,
    *,
    bucket: str,
    prefix: str,
    newest_first: list[Listed],
    deadline: Deadline,
) -> tuple[str, ObjectInfo]:
    """The newest object whose recorded entry is the one asked for."""
    for listed in newest_first[:MAX_CANDIDATES]:
        info = store.head(f"s3://{bucket}/{listed.key}", deadline=deadline, what="looking at")
        if info is not None and _matches(request, info.metadata):
            return listed.key, info
    wanted = _wanted(request)
    raise RestoreFailed(
        f"No backup of {wanted} among the newest {min(len(newest_first), MAX_CANDIDATES)} "
        f"objects under s3://{bucket}/{prefix}."
    )


def _matches(request: Request, metadata: Mapping[str, str]) -> bool:
    from .s3 import recorded_branch  # noqa: PLC0415

    return (
        metadata.get("project-id") == str(request.project_id)
        and "sha256" in metadata
        and (request.branch is None or recorded_branch(metadata) == request.branch)
        and (request.date is None or metadata.get("created", "").startswith(request.date))
    )


def _wanted(request: Request) -> str:
    return (
        f"project {request.project_id}"
        + (f", branch {request.branch!r}" if request.branch else "")
        + (f", made on {request.date}" if request.date else "")
    )


# -- GitHub artifacts -------------------------------------------------------------------------


def from_artifacts(
    request: Request, env: Mapping[str, str], work: Path, *, log: Log, deadline: Deadline
) -> Fetched:
    """The archive of the newest (or ``--date``) artifact; every request and read is
    bounded by ``deadline``, and a network failure is a :class:`RestoreFailed`."""
    if not request.github_token:
        raise RestoreFailed(
            "Reading a repository's artifacts needs a token that can read its Actions: "
            "--github-token, or GITHUB_TOKEN / GH_TOKEN."
        )
    name = request.artifact_name.render(
        {"project_id": request.project_id, "branch": request.branch or "main"}
    )
    network = http.Network.from_env(env)
    with http.session(network) as session:
        session.headers.update(
            {
                "Authorization": f"Bearer {request.github_token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )
        artifact = _asking_github(
            lambda: _newest_artifact(session, request, name, deadline), "listing", deadline
        )
        made = untrusted.clean(str(artifact.get("created_at")), limit=40)
        log(f"restoring artifact '{name}' {artifact['id']} of {made}")
        downloaded = work / "artifact.zip"
        # Built here, not taken from the answer: the token goes to the API host only.
        repo = request.source.removeprefix("github:")
        url = f"{request.github_api_url}/repos/{repo}/actions/artifacts/{artifact['id']}/zip"
        _asking_github(
            lambda: _download(session, url, downloaded, network, deadline),
            "downloading the artifact",
            deadline,
        )
    got = measure(downloaded)
    digest = str(artifact.get("digest") or "")
    if digest.startswith("sha256:") and digest[7:] != got.sha256:
        raise RestoreFailed(
            f"Artifact {artifact['id']} downloaded with SHA-256 {got.sha256}, not the "
            f"{digest[7:]} GitHub recorded at upload: it is damaged. Try again."
        )
    return _unpack(downloaded, work)


def _asking_github(request: Callable[[], T], doing: str, deadline: Deadline) -> T:
    """``request``, its network failures and the restore's time running out (a socket
    timeout clamped to it) as :class:`RestoreFailed`."""
    import requests  # noqa: PLC0415

    try:
        return request()
    except (requests.RequestException, ValueError) as exc:
        if deadline.expired():
            raise RestoreFailed(
                f"{doing.capitalize()} did not finish within the restore's time "
                f"({TIMEOUT:g} s). Try again."
            ) from exc
        raise RestoreFailed(
            f"GitHub could not be reached for {doing} ({type(exc).__name__}). Try again."
        ) from exc


def _newest_artifact(
    session: requests.Session, request: Request, name: str, deadline: Deadline
) -> dict[str, object]:
    repo = request.source.removeprefix("github:")
    url = f"{request.github_api_url}/repos/{repo}/actions/artifacts"
    found: list[dict[str, object]] = []
    for page in range(1, 11):
        answer = session.get(
            url,
            params={"name": name, "per_page": "100", "page": str(page)},
            timeout=_timeout(deadline, 60),
        )
        if answer.status_code != 200:
            raise RestoreFailed(
                f"GitHub answered {answer.status_code} to the artifacts of {repo}: "
                + untrusted.clean(answer.text, limit=200)
                + ". Check the repository and that the token can read its Actions."
            )
        artifacts = _artifact_list(answer.json(), repo)
        found += [
            a
            for a in artifacts
            if a.get("name") == name and not a.get("expired") and isinstance(a.get("id"), int)
        ]
        if len(artifacts) < 100:
            break
    if request.date is not None:
        found = [a for a in found if str(a.get("created_at", "")).startswith(request.date)]
    if not found:
        raise RestoreFailed(
            f"{repo} has no unexpired artifact named '{name}'"
            + (f" made on {request.date}" if request.date else "")
            + "."
        )
    return max(found, key=lambda a: str(a.get("created_at", "")))


def _artifact_list(payload: object, repo: str) -> list[dict[str, object]]:
    """The ``artifacts`` of GitHub's answer, each an object; anything else is a failure."""
    artifacts = payload.get("artifacts") if isinstance(payload, dict) else None
    if not isinstance(artifacts, list):
        raise RestoreFailed(
            f"GitHub's answer to the artifacts of {repo} is not an artifact list; check "
            "--github-api-url."
        )
    return [a for a in artifacts if isinstance(a, dict)]


def _timeout(deadline: Deadline, read: float) -> tuple[float, float]:
    """(connect, read) socket timeouts, never past ``deadline`` (then a
    ``requests.Timeout`` ends the wait)."""
    if deadline.expired():
        raise RestoreFailed(f"The restore did not finish within its time ({TIMEOUT:g} s).")
    return deadline.timeout(15), deadline.timeout(read)


def _download(
    session: requests.Session,
    url: str,
    into: Path,
    network: http.Network,
    deadline: Deadline,
) -> None:
    """The artifact's zip; its redirect (a signed blob URL) goes through a session of its
    own (the one factory's: no Authorization, no ``.netrc``)."""
    timeout = _timeout(deadline, 120)
    with session.get(url, stream=True, timeout=timeout, allow_redirects=False) as first:
        location = first.headers.get("Location") if first.status_code in {301, 302, 307} else None
        if location is None:
            _save(first, into, deadline)
            return
    with (
        http.session(network) as blob,
        blob.get(location, stream=True, timeout=_timeout(deadline, 120)) as answer,
    ):
        _save(answer, into, deadline)


def _save(answer: requests.Response, into: Path, deadline: Deadline) -> None:
    if answer.status_code != 200:
        raise RestoreFailed(f"The artifact's download answered {answer.status_code}.")
    with into.open("wb") as file:
        for chunk in answer.iter_content(_CHUNK):
            file.write(chunk)
            _timeout(deadline, 0)  # the whole download, not each read, is bounded


def _unpack(downloaded: Path, work: Path) -> Fetched:
    """The one archive an artifact holds (zipfile checks its CRC while reading it)."""
    try:
        with zipfile.ZipFile(downloaded) as artifact:
            members = [m for m in artifact.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise RestoreFailed(
                    f"The artifact holds {len(members)} files, not one archive; restore it by hand."
                )
            part = work / "member"
            with artifact.open(members[0]) as source, part.open("wb") as target:
                while chunk := source.read(_CHUNK):
                    target.write(chunk)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RestoreFailed(f"The artifact's zip cannot be read: {exc}") from exc
    return Fetched(part, members[0].filename.rsplit("/", 1)[-1], None)
