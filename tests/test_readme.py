"""The README as a user reads it: the quick start comes first and pins a release with the
permissions it needs, every link inside the page lands on a heading, and no internal
benchmark target leaks into it."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings() -> list[str]:
    outside_code = re.sub(r"^```.*?^```", "", README, flags=re.S | re.M)
    return re.findall(r"^#{1,6} (.+)$", outside_code, re.M)


def test_the_anchor_rule_matches_github_s() -> None:
    assert anchor("Try it locally / develop") == "try-it-locally--develop"
    assert anchor("Checking a token: `doctor`") == "checking-a-token-doctor"


def test_every_link_inside_the_readme_lands_on_a_heading() -> None:
    anchors = {anchor(h) for h in headings()}
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert links, "the README links to none of its sections"
    assert sorted(links - anchors) == []


def test_the_quick_start_is_the_first_section_and_its_workflow_is_pinned() -> None:
    assert headings()[1] == "Quick start"
    block = re.search(r"^```yaml\n(.*?)^```", README, re.S | re.M)
    assert block
    workflow = YAML(typ="safe").load(block.group(1))
    assert workflow["permissions"] == {"contents": "read"}
    (step,) = [s for s in workflow["jobs"]["backup"]["steps"] if "uses" in s]
    assert step["uses"] == "playcanvas-backup/playcanvas-backup@v1"


def test_the_table_of_contents_follows_the_quick_start() -> None:
    assert headings()[2] == "Contents"


def test_the_readme_shows_no_benchmark_targets() -> None:
    assert not re.search(r"\b(missed|met)\b \(", README)
