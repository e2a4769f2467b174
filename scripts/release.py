"""What a release tag publishes, worked out before anything is pushed.

``.github/workflows/release.yml`` runs this on a ``vX.Y.Z`` tag; tests call the functions.

* ``notes VERSION [--image IMAGE --digest sha256:...]``: that version's section of
  CHANGELOG.md (Keep a Changelog), the GitHub release's notes; with the image pushed,
  a last paragraph naming it by digest, the one reference that never moves.
* ``tags VERSION --image IMAGE``: ``name=value`` lines for ``$GITHUB_OUTPUT``: the image
  tags to push (``X.Y.Z``, ``X.Y``, ``X``, comma-separated) and the major git tag to move
  (``vX``) to the release's commit.

Both refuse a version that is not ``X.Y.Z`` (SemVer without pre-release or build parts:
those would move ``v1`` and ``:1`` under every user's feet), one that CHANGELOG.md has no
section for (or an empty one), and one that is not the package's own version (pyproject).
Standard library only: the release job runs it with the runner's Python.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = ROOT / "CHANGELOG.md"
PYPROJECT = ROOT / "pyproject.toml"
#: A release tag: ``v`` then SemVer's ``MAJOR.MINOR.PATCH``, no leading zeros.
_VERSION = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
#: A version's heading in CHANGELOG.md: ``## [1.2.3] - 2026-12-06``.
_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")


class ReleaseError(Exception):
    """A tag or changelog that must not be released; the message says how to fix it."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> Version:
    """``v1.2.3`` or ``1.2.3``; anything else (``v1``, ``v1.2.3-rc.1``, ``01.2.3``) is refused."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise ReleaseError(
            f"'{text}' is not a release version: tag releases vMAJOR.MINOR.PATCH "
            "(SemVer, e.g. v1.2.3; no pre-release or build suffix)."
        )
    return Version(*(int(part) for part in match.groups()))


def notes(changelog: str, version: Version) -> str:
    """The body of ``version``'s section: from after its heading to the next ``## ``
    heading or the link references at the end, trimmed."""
    lines = changelog.splitlines()
    start = None
    for index, line in enumerate(lines):
        heading = _HEADING.match(line)
        if heading and heading["name"] == str(version):
            if not heading["date"]:
                raise ReleaseError(f"CHANGELOG.md: the heading of {version} has no date.")
            start = index + 1
            break
    if start is None:
        raise ReleaseError(
            f"CHANGELOG.md has no section '## [{version}] - YYYY-MM-DD': move the "
            "Unreleased entries under it before tagging."
        )
    end = next(
        (
            index
            for index in range(start, len(lines))
            if lines[index].startswith("## ") or re.match(r"^\[[^\]]+\]: ", lines[index])
        ),
        len(lines),
    )
    body = "\n".join(lines[start:end]).strip()
    if not body:
        raise ReleaseError(f"CHANGELOG.md: the section of {version} is empty.")
    return body + "\n"


def image_tags(image: str, version: Version) -> list[str]:
    """The image's tags: the exact version, then the ones that move (``X.Y``, ``X``).
    Registries take lower-case names only (a GitHub owner may have capitals)."""
    image = image.lower()
    return [
        f"{image}:{version}",
        f"{image}:{version.major}.{version.minor}",
        f"{image}:{version.major}",
    ]


def major_git_tag(version: Version) -> str:
    """The git tag that follows the newest release of a major version: ``v1``."""
    return f"v{version.major}"


def image_paragraph(image: str, version: Version, digest: str) -> str:
    """The release notes' last paragraph: the image by digest, and its moving tags."""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise ReleaseError(f"'{digest}' is not an image digest (sha256:<64 hex digits>).")
    image = image.lower()
    tags = ", ".join(f"`{tag.rsplit(':', 1)[1]}`" for tag in image_tags(image, version))
    return (
        f"### Image\n\n`docker://{image}@{digest}` (linux/amd64, linux/arm64), also "
        f"tagged {tags}.\n"
    )


def check_package_version(pyproject: str, version: Version) -> None:
    """The tag must be the version the package says it is."""
    declared = tomllib.loads(pyproject)["project"]["version"]
    if declared != str(version):
        raise ReleaseError(
            f"the tag says {version} but pyproject.toml says {declared}: set the version "
            "in pyproject.toml and playcanvas_backup/__init__.py, then tag again."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    notes_command = commands.add_parser("notes", help="print the version's CHANGELOG section")
    notes_command.add_argument("version")
    notes_command.add_argument("--image", help="the image pushed (with --digest)")
    notes_command.add_argument("--digest", help="its digest, sha256:...")
    tags = commands.add_parser("tags", help="print image-tags= and git-tag= lines")
    tags.add_argument("version")
    tags.add_argument("--image", required=True, help="e.g. ghcr.io/owner/playcanvas-backup")
    args = parser.parse_args(argv)
    if args.command == "notes" and bool(args.image) != bool(args.digest):
        parser.error("give --image and --digest together")
    try:
        version = parse_version(args.version)
        check_package_version(PYPROJECT.read_text(), version)
        text = notes(CHANGELOG.read_text(encoding="utf-8"), version)
        if args.command == "notes":
            if args.digest:
                text += "\n" + image_paragraph(args.image, version, args.digest)
            sys.stdout.write(text)
        else:
            print(f"image-tags={','.join(image_tags(args.image, version))}")
            print(f"git-tag={major_git_tag(version)}")
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
