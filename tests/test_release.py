"""Releases: what a tag publishes is worked out from CHANGELOG.md and the tag alone, and
refused when they disagree; every third-party action is pinned by commit; Dependabot
watches what a release is built from. Nothing here pushes or reaches a network."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from scripts.release import (
    CHANGELOG,
    ReleaseError,
    Version,
    image_paragraph,
    image_tags,
    main,
    major_git_tag,
    notes,
    parse_version,
)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
IMAGE = "ghcr.io/owner/playcanvas-backup"
DIGEST = "sha256:" + "0123456789abcdef" * 4

EXAMPLE = """# Changelog

## [Unreleased]

### Added

- Something not released yet.

## [1.1.0] - 2026-12-20

### Fixed

- The second release's fix.

## [1.0.0] - 2026-12-06

The first release.

[Unreleased]: https://example.invalid/compare/v1.1.0...HEAD
[1.1.0]: https://example.invalid/releases/tag/v1.1.0
"""


# -- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["v1.2.3", "1.2.3", "v10.0.20"])
def test_a_semver_release_tag_is_a_version(tag: str) -> None:
    assert str(parse_version(tag)) == tag.removeprefix("v")


@pytest.mark.parametrize(
    "tag", ["v1", "v1.2", "v1.2.3-rc.1", "v1.2.3+build.5", "v01.2.3", "release-1.2.3", ""]
)
def test_anything_but_major_minor_patch_is_refused(tag: str) -> None:
    with pytest.raises(ReleaseError, match=r"vMAJOR\.MINOR\.PATCH"):
        parse_version(tag)


# -- notes -----------------------------------------------------------------------------------


def test_the_notes_are_the_versions_section_only() -> None:
    assert notes(EXAMPLE, Version(1, 1, 0)) == "### Fixed\n\n- The second release's fix.\n"


def test_the_last_sections_notes_stop_at_the_link_references() -> None:
    assert notes(EXAMPLE, Version(1, 0, 0)) == "The first release.\n"


def test_a_version_missing_from_the_changelog_is_refused() -> None:
    with pytest.raises(ReleaseError, match=r"no section '## \[1.2.0\]"):
        notes(EXAMPLE, Version(1, 2, 0))


def test_an_undated_or_empty_section_is_refused() -> None:
    with pytest.raises(ReleaseError, match="no date"):
        notes("## [2.0.0]\n\n- x\n", Version(2, 0, 0))
    with pytest.raises(ReleaseError, match="empty"):
        notes("## [2.0.0] - 2027-01-01\n\n## [1.0.0] - 2026-12-06\n- x\n", Version(2, 0, 0))


def test_the_notes_end_with_the_image_by_digest() -> None:
    paragraph = image_paragraph("ghcr.io/Owner/playcanvas-backup", Version(1, 2, 3), DIGEST)
    assert paragraph == (
        f"### Image\n\n`docker://{IMAGE}@{DIGEST}` (linux/amd64, linux/arm64), also "
        "tagged `1.2.3`, `1.2`, `1`.\n"
    )


def test_a_digest_that_is_not_sha256_is_refused() -> None:
    with pytest.raises(ReleaseError, match="not an image digest"):
        image_paragraph(IMAGE, Version(1, 2, 3), "sha256:abc")


# -- tags ------------------------------------------------------------------------------------


def test_the_image_gets_the_version_and_its_moving_minor_and_major_tags() -> None:
    assert image_tags("ghcr.io/Owner/playcanvas-backup", Version(2, 3, 4)) == [
        f"{IMAGE}:2.3.4",
        f"{IMAGE}:2.3",
        f"{IMAGE}:2",
    ]


def test_the_major_git_tag_moves() -> None:
    assert major_git_tag(Version(2, 3, 4)) == "v2"


# -- the command the workflow runs, on this repository's files ------------------------------


def package_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def test_tags_prints_github_output_lines_for_the_packages_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    version = parse_version(package_version())
    assert main(["tags", f"v{version}", "--image", IMAGE]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines == {
        "image-tags": ",".join(image_tags(IMAGE, version)),
        "git-tag": f"v{version.major}",
    }


def test_notes_prints_the_packages_section_of_changelog_md(
    capsys: pytest.CaptureFixture[str],
) -> None:
    version = package_version()
    assert main(["notes", f"v{version}", "--image", IMAGE, "--digest", DIGEST]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(notes(CHANGELOG.read_text(), parse_version(version)))
    assert printed.endswith(f"`docker://{IMAGE}@{DIGEST}` (linux/amd64, linux/arm64), "
                            f"also tagged `{version}`, `{version.rsplit('.', 1)[0]}`, "
                            f"`{version.split('.')[0]}`.\n")  # fmt: skip


def test_a_tag_that_is_not_the_packages_version_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    version = parse_version(package_version())
    other = f"v{version.major}.{version.minor}.{version.patch + 1}"
    assert main(["tags", other, "--image", IMAGE]) == 1
    assert "pyproject.toml says" in capsys.readouterr().err


def test_a_non_semver_tag_is_refused_by_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notes", "v1"]) == 1
    assert "not a release version" in capsys.readouterr().err


def test_the_changelog_keeps_an_unreleased_section_and_dated_semver_versions() -> None:
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", CHANGELOG.read_text(), re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    versions = [parse_version(name) for name, _ in headings[1:]]
    assert all(re.fullmatch(r" - \d{4}-\d{2}-\d{2}", date) for _, date in headings[1:])
    keys = [(v.major, v.minor, v.patch) for v in versions]
    assert keys == sorted(keys, reverse=True)  # newest first
    assert str(versions[0]) == package_version()


# -- pinned actions --------------------------------------------------------------------------

SHA_PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}")


def unpinned(workflow: str) -> list[str]:
    """Every ``uses:`` of a workflow (steps and reusable-workflow jobs) that is not
    ``owner/repo@<40-hex commit>`` followed by a ``# vX.Y.Z`` comment on its line; a local
    ``./`` action and a ``docker://`` image are not third-party actions."""
    jobs = YAML(typ="safe").load(workflow)["jobs"].values()
    refs = [job["uses"] for job in jobs if "uses" in job]
    refs += [step["uses"] for job in jobs for step in job.get("steps", []) if "uses" in step]
    return [
        ref
        for ref in refs
        if not ref.startswith(("./", "docker://"))
        and not (
            SHA_PINNED.fullmatch(ref)
            and re.search(
                rf"uses:\s*{re.escape(ref)}\s+# v\d+\.\d+\.\d+\s*$", workflow, re.MULTILINE
            )
        )
    ]


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def test_the_repository_has_workflows_to_check() -> None:
    assert (WORKFLOWS / "release.yml") in workflow_files()


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_third_party_action_is_pinned_by_commit(path: Path) -> None:
    assert unpinned(path.read_text()) == []


def test_the_pin_check_finds_tags_branches_and_missing_comments() -> None:
    workflow = """
jobs:
  reuse:
    uses: owner/repo/.github/workflows/x.yml@v1
  build:
    steps:
      - uses: actions/checkout@v4
      - uses: docker/login-action@main
      - uses: actions/cache@0123456789abcdef0123456789abcdef01234567
      - uses: actions/setup-node@0123456789abcdef0123456789abcdef01234567 # v4.1.0
      - uses: ./
      - uses: docker://ghcr.io/owner/image:1
        with:
          uses: not-a-step
"""
    assert unpinned(workflow) == [
        "owner/repo/.github/workflows/x.yml@v1",
        "actions/checkout@v4",
        "docker/login-action@main",
        "actions/cache@0123456789abcdef0123456789abcdef01234567",
    ]


# -- Dependabot ------------------------------------------------------------------------------


def test_dependabot_watches_pip_docker_and_github_actions() -> None:
    config = YAML(typ="safe").load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {entry["package-ecosystem"]: entry["directory"] for entry in config["updates"]}
    assert ecosystems == {
        "pip": "/",
        "docker": "/.github/dependabot/base-image",
        "github-actions": "/",
    }


def test_dependabots_base_image_is_the_dockerfiles() -> None:
    watched = re.findall(
        r"^FROM (\S+)$",
        (ROOT / ".github" / "dependabot" / "base-image" / "Dockerfile").read_text(),
        re.MULTILINE,
    )
    used = re.findall(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert watched == used and len(used) == 1
