"""Files written the safe way: a private ``.part`` file beside the target, renamed into
place only when it is whole (shared by the download and the encryption), and the clean-up
of the part files a killed run left behind, which touches nothing a live run still uses.

While an archive's part files may exist, a lock file beside them names the process that
owns them (:func:`claimed`): it is written before the first part file is made and removed
after the last one is gone. A part file is then removed only when it is

* proven abandoned: every lock whose archive name it starts with belongs to a process of
  this machine and PID namespace that is no longer alive (the same PID with another start
  time is another process); or
* older than the longest an archive's files can live (the archive's deadline plus
  :data:`STALE_MARGIN`), unless a lock shows its owner still running.

A lock from another machine or container proves nothing either way; its part files wait
for the age rule. :func:`remove_stale_parts` lists the part files before reading the
locks, so a part file it sees had its owner's lock written already.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

PART_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"
#: Added to ``timeout`` for the age past which any part file is stale: a verified archive
#: waits at its temporary name while it is encrypted, after its deadline was checked.
STALE_MARGIN = 3600.0
#: What marks a lock file as ours (a ``.lock`` file of anyone else is never read as one).
_LOCK_KIND = "playcanvas-backup part files"


@dataclass(frozen=True)
class Owner:
    """A process, as a lock file names it: enough to tell later whether it still runs."""

    pid: int
    #: The process's start time (``/proc/<pid>/stat``, clock ticks since boot).
    started: str
    #: ``/proc/sys/kernel/random/boot_id``: another value is another machine or boot.
    boot: str
    #: The PID namespace (``/proc/self/ns/pid``): PIDs mean nothing across containers.
    namespace: str


def this_process() -> Owner:
    """The running process as a lock names it."""
    pid = os.getpid()
    return Owner(pid, _start_time(pid) or "", _read("/proc/sys/kernel/random/boot_id"), _ns())


def alive(owner: Owner, here: Owner) -> bool | None:
    """Whether ``owner`` still runs, as seen from ``here``; ``None`` when this process
    cannot tell (another machine, boot or PID namespace, or no ``/proc``)."""
    if not (owner.boot and owner.namespace) or (owner.boot, owner.namespace) != (
        here.boot,
        here.namespace,
    ):
        return None
    started = _start_time(owner.pid)
    if started is None:
        return False
    return started == owner.started if owner.started else None


def move_into_place(part: Path, destination: Path) -> None:
    """Give the finished (and fsynced) ``part`` file the mode any new file would get,
    rename it to ``destination`` and make the rename durable.

    ``mkstemp`` makes part files private (0600); an archive must be readable by later
    steps (the runner's own user, outside the container).
    """
    part.chmod(0o666 & ~_umask())
    part.replace(destination)
    sync_folder(destination.parent)


def sync_folder(folder: Path) -> None:
    """Make the renames and removals in ``folder`` durable (where the system allows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def claimed(folder: Path, name: str) -> Iterator[Path]:
    """A lock naming this process beside the part files of the archive ``name`` (the
    download's ``.<name>.*.part``, the encryption's ``.<name>.age.*.part``), for as long
    as the block runs; the block must leave no part file behind when it ends."""
    folder.mkdir(parents=True, exist_ok=True)  # the download would make it; the lock comes first
    lock = folder / f".{name}.{secrets.token_hex(4)}{LOCK_SUFFIX}"
    record = json.dumps({"kind": _LOCK_KIND, **asdict(this_process())})
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, record.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Lock:
    path: Path
    #: The archive's file name the lock covers.
    name: str
    owner: Owner


def remove_stale_parts(
    folder: Path,
    *,
    max_age: float,
    log: Callable[[str], None],
    clock: Callable[[], float] = time.time,
) -> None:
    """Remove the part files killed runs left in ``folder`` (see the module's docstring),
    saying which and why, then the locks of dead processes."""
    parts = sorted(p for p in folder.glob(f".*{PART_SUFFIX}") if p.is_file())
    locks = _locks(folder)  # after listing the parts: see the module's docstring
    here, now = this_process(), clock()
    state = {lock.path: alive(lock.owner, here) for lock in locks}
    dead = {path for path, running in state.items() if running is False}
    for part in parts:
        owners = [lock for lock in locks if part.name.startswith(f".{lock.name}.")]
        try:
            if any(state[lock.path] for lock in owners):
                continue  # a process known to be running may still use it, however old
            if owners and all(lock.path in dead for lock in owners):
                why = "left behind by a run that was stopped (its process is gone)"
            elif part.stat().st_mtime < now - max_age:
                why = f"left behind by an earlier run (untouched for over {max_age:g} s)"
            else:
                continue
            part.unlink()
            log(f"removed {part.name}, {_kind(part)} {why}")
        except FileNotFoundError:
            continue  # finished (renamed into place) or removed meanwhile
        except OSError as exc:
            log(f"could not remove {part.name}, left behind by an earlier run: {exc.strerror}")
    for lock in locks:
        if lock.path in dead:
            with contextlib.suppress(OSError):
                lock.path.unlink()


def _kind(part: Path) -> str:
    stem = part.name[: -len(PART_SUFFIX)].rpartition(".")[0]  # less the random tag
    if stem.endswith(".age"):
        return "a partial encrypted archive"
    return "an unfinished or unencrypted archive"


def _locks(folder: Path) -> list[_Lock]:
    """The lock files of this program in ``folder`` (anything else ending in ``.lock`` is
    left alone)."""
    found = []
    for path in folder.glob(f".*{LOCK_SUFFIX}"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.pop("kind") != _LOCK_KIND:
                continue
            owner = Owner(
                int(record["pid"]),
                str(record["started"]),
                str(record["boot"]),
                str(record["namespace"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        # ".<name>.<token>.lock"
        name = path.name[1 : -len(LOCK_SUFFIX)].rpartition(".")[0]
        if name:
            found.append(_Lock(path, name, owner))
    return found


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid``, or ``None`` when there is no such process."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # "pid (comm) state ppid ...": comm may hold anything, so split after its ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def _ns() -> str:
    try:
        return str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        return ""


def _read(path: str) -> str:
    try:
        with Path(path).open(encoding="ascii", errors="replace") as file:
            return file.read().strip()
    except OSError:
        return ""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
