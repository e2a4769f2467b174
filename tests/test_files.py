"""The clean-up of part files: only our own leftovers, only once they are proven abandoned
or older than any run could be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from playcanvas_backup.files import (
    Owner,
    alive,
    claimed,
    remove_stale_parts,
    this_process,
)

NAME = "111111-main-20261206T000000Z.zip"
MAX_AGE = 600.0


def part(folder: Path, stem: str = NAME, *, age: float = 0.0) -> Path:
    path = folder / f".{stem}.k3j9x0qa.part"
    path.write_bytes(b"half an archive")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def lock(folder: Path, owner: Owner, name: str = NAME) -> Path:
    path = folder / f".{name}.0badc0de.lock"
    path.write_text(json.dumps({"kind": "playcanvas-backup part files", **asdict(owner)}))
    return path


def dead_owner() -> Owner:
    """A process of this machine and namespace that has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return replace(this_process(), pid=int(child.stdout), started="1")


def clean(folder: Path) -> list[str]:
    lines: list[str] = []
    remove_stale_parts(folder, max_age=MAX_AGE, log=lines.append)
    return lines


def test_a_part_file_older_than_the_longest_run_is_removed(tmp_path: Path) -> None:
    old = part(tmp_path, age=MAX_AGE + 60)

    log = clean(tmp_path)

    assert not old.exists()
    assert log == [
        f"removed {old.name}, an unfinished or unencrypted archive left behind by an "
        f"earlier run (untouched for over {MAX_AGE:g} s)"
    ]


def test_a_young_part_file_without_a_lock_is_kept(tmp_path: Path) -> None:
    young = part(tmp_path, age=MAX_AGE - 60)

    assert clean(tmp_path) == []
    assert young.exists()


def test_part_files_whose_owner_died_are_removed_at_once(tmp_path: Path) -> None:
    plaintext, encrypted = part(tmp_path), part(tmp_path, f"{NAME}.age")
    owner_lock = lock(tmp_path, dead_owner())

    log = clean(tmp_path)

    assert not plaintext.exists() and not encrypted.exists() and not owner_lock.exists()
    assert f"removed {encrypted.name}, a partial encrypted archive left behind" in log[0]
    assert f"removed {plaintext.name}, an unfinished or unencrypted archive" in log[1]
    assert all("its process is gone" in line for line in log)


def test_a_part_file_of_a_running_process_is_kept_however_old(tmp_path: Path) -> None:
    live = part(tmp_path, age=MAX_AGE * 10)
    owner_lock = lock(tmp_path, this_process())

    assert clean(tmp_path) == []
    assert live.exists() and owner_lock.exists()


def test_one_live_owner_among_dead_ones_keeps_the_part_file(tmp_path: Path) -> None:
    live = part(tmp_path)
    lock(tmp_path, dead_owner())
    (tmp_path / f".{NAME}.11111111.lock").write_text(
        json.dumps({"kind": "playcanvas-backup part files", **asdict(this_process())})
    )

    clean(tmp_path)

    assert live.exists()


def test_a_lock_from_another_container_proves_nothing(tmp_path: Path) -> None:
    young = part(tmp_path)
    elsewhere = replace(dead_owner(), namespace="pid:[4026531999]")
    lock(tmp_path, elsewhere)

    assert clean(tmp_path) == []
    assert young.exists()


def test_a_reused_pid_is_another_process() -> None:
    here = this_process()

    assert alive(here, here) is True
    assert alive(replace(here, started=str(int(here.started) + 1)), here) is False


def test_a_lock_that_is_not_ours_is_ignored_and_kept(tmp_path: Path) -> None:
    young = part(tmp_path)
    foreign = tmp_path / f".{NAME}.0badc0de.lock"
    foreign.write_text(json.dumps({"kind": "someone else", **asdict(dead_owner())}))

    assert clean(tmp_path) == []
    assert young.exists() and foreign.exists()


def test_a_claim_names_this_process_while_it_lasts_and_is_removed_after(
    tmp_path: Path,
) -> None:
    with claimed(tmp_path, NAME) as held:
        record = json.loads(held.read_text())
        assert record["pid"] == os.getpid()
        young = part(tmp_path)
        assert clean(tmp_path) == []
        young.unlink()
    assert not held.exists()


@pytest.mark.parametrize("stem", [NAME, f"{NAME}.age"])
def test_a_claim_covers_the_download_and_the_encryption_part_files(
    tmp_path: Path, stem: str
) -> None:
    leftover = part(tmp_path, stem)
    lock(tmp_path, dead_owner())

    clean(tmp_path)

    assert not leftover.exists()
