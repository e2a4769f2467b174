"""The differential fuzz of the zip check (tests/fuzz_zip.py), a short seeded run of it;
``make fuzz`` runs 20,000 cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playcanvas_backup.errors import VerificationFailed
from playcanvas_backup.zipcheck import Verdict
from tests.fuzz_zip import run


def test_a_short_seeded_fuzz_finds_no_false_accept_and_no_crash(tmp_path: Path) -> None:
    counts = run(300, seed=20261206, work=tmp_path)

    assert counts.false_accepts == []
    assert counts.crashes == []
    assert counts.accepted > 50 and counts.rejected > 50, counts.summary()


def test_the_fuzz_catches_a_verifier_that_accepts_everything(tmp_path: Path) -> None:
    def credulous(path: Path, **options: Any) -> Verdict:
        return Verdict(1, 0, b"", None)

    counts = run(40, seed=1, work=tmp_path, verify=credulous)

    assert len(counts.false_accepts) >= 10


def test_the_fuzz_counts_a_crash_apart_from_a_refusal(tmp_path: Path) -> None:
    def crashing(path: Path, **options: Any) -> Verdict:
        if path.stat().st_size % 2:
            raise KeyError("a bug")
        raise VerificationFailed("refused")

    counts = run(20, seed=1, work=tmp_path, verify=crashing)

    assert counts.crashes and counts.rejected and counts.false_accepts == []
