"""The README's "What it costs": its formula is scripts/costs.py's, and its worked example
is recomputed here from the example's own figures, so the text and the sums cannot drift."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

from playcanvas_backup.doctor import PLANS
from scripts import costs
from scripts.costs import (
    export_windows,
    nightly_upload_gb,
    run_gb_months,
    storage_gb,
    storage_gb_months,
)

ROOT = Path(__file__).resolve().parent.parent


def costs_section() -> str:
    """The section's text with its line breaks and runs of spaces as single spaces."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## What it costs\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "the README has no 'What it costs' section"
    return " ".join(match.group(1).split())


def example_figures() -> dict[str, int]:
    """The worked example's inputs, as the README states them."""
    text = costs_section()
    found = {
        "projects": re.search(r"(\d+) projects", text),
        "branches": re.search(r"(\d+) branches each", text),
        "archive_mb": re.search(r"(\d+) MB on average", text),
        "retention_days": re.search(r"`retention-days: (\d+)`", text),
    }
    missing = [name for name, match in found.items() if match is None]
    assert missing == [], f"the worked example does not state {missing}"
    return {name: int(match.group(1)) for name, match in found.items() if match}


def number(value: float) -> str:
    """How the README writes a figure: whole numbers bare, else one decimal."""
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def test_the_module_s_examples_hold() -> None:
    assert doctest.testmod(costs).failed == 0


def test_storage_is_nights_uploads_times_retention() -> None:
    assert nightly_upload_gb(projects=10, branches=3, archive_mb=100) == 3.0
    assert storage_gb(projects=10, branches=3, archive_mb=100, retention_days=30) == 90.0


def test_a_month_of_runs_adds_up_to_the_steady_storage_in_gb_months() -> None:
    per_run = run_gb_months(projects=7, branches=1.5, archive_mb=40, retention_days=90)
    month = storage_gb_months(projects=7, branches=1.5, archive_mb=40, retention_days=90)
    assert 30 * per_run == pytest.approx(month)


def test_exports_start_in_whole_windows() -> None:
    assert export_windows(exports=5, per_minute=5) == 1
    assert export_windows(exports=6, per_minute=5) == 2
    assert export_windows(exports=120, per_minute=10) == 12


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_a_figure_that_is_not_positive_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="archive_mb must be positive"):
        nightly_upload_gb(projects=1, branches=1, archive_mb=bad)


def test_the_readme_states_the_worked_storage_example_as_computed() -> None:
    figures = example_figures()
    text = costs_section()

    nightly = nightly_upload_gb(
        projects=figures["projects"], branches=figures["branches"], archive_mb=figures["archive_mb"]
    )
    assert f"{number(nightly)} GB a night" in text
    assert f"{number(storage_gb(**figures))} GB of artifacts" in text
    assert f"{number(storage_gb_months(**figures))} GB-months a month" in text
    assert f"{number(run_gb_months(**figures))} GB-months per run" in text


def test_the_readme_states_the_worked_export_windows_as_computed() -> None:
    figures = example_figures()
    exports = figures["projects"] * figures["branches"]
    text = costs_section()
    (free,) = [strict for (_normal, strict), plan in PLANS.items() if plan == "the free plan"]
    (paid,) = [strict for (_normal, strict), plan in PLANS.items() if plan == "a paid plan"]

    assert f"{exports} exports" in text
    assert f"{export_windows(exports=exports, per_minute=free)} windows on a free plan" in text
    assert f"{export_windows(exports=exports, per_minute=paid)} on a paid plan" in text
    assert f"{free} exports a minute on a free plan, {paid} on a paid one" in text
