"""A local stand-in for the Dockerfile's base image, ``python:3.11-slim``, made with
debootstrap from Debian bookworm (Python 3.11) where no image registry is reachable.

It looks like the official slim image as far as the Dockerfile can tell: ``python3`` and
``python`` on the PATH, ``pip install`` allowed (no EXTERNALLY-MANAGED marker), no
compilers, no apt lists, docs or locales. It carries this machine's CA bundle, and the
package index settings of its pip, so that pip inside the build reaches the same index
through the same TLS middleboxes as pip on the host.

Two caches under the cache directory keep a second run fast: the debootstrapped root file
system as a tarball (keyed by the recipe) and the image itself in buildah's storage
(keyed by the recipe, the CA bundle and the pip settings).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .buildah import Buildah

SUITE = "bookworm"  # Debian 12, whose python3 is 3.11 like the official image's
PACKAGES = ("python3", "python3-pip", "python-is-python3")
RECIPE_VERSION = 2  # bump when the slimming below changes
REPOSITORY = "localhost/python-standin"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIP_INDEX_KEYS = ("index-url", "extra-index-url", "trusted-host")


@dataclass(frozen=True)
class PipSettings:
    """What the host's pip uses to reach its package index, as far as a build can use it."""

    ca_bundle: Path
    index: dict[str, str]  # pip.conf [global] keys -> values, http(s) only
    left_out: tuple[str, ...]  # settings that only make sense on this machine

    def pip_conf(self) -> str:
        if not self.index:
            return ""
        return "[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(self.index.items()))

    def describe(self) -> str:
        index = ", ".join(f"{k}={v}" for k, v in sorted(self.index.items())) or "PyPI (default)"
        text = f"pip index: {index}; CA bundle: {self.ca_bundle}"
        if self.left_out:
            text += f"; not carried (local to this machine): {', '.join(self.left_out)}"
        return text


def host_pip_settings() -> PipSettings:
    """Read ``pip config list`` (files and PIP_* variables) of the Python running this."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    ca_bundle = DEFAULT_CA_BUNDLE
    index: dict[str, str] = {}
    left_out: list[str] = []
    for line in listed.splitlines():
        match = re.fullmatch(r"[^.]*\.([a-z-]+)='(.*)'", line.strip())
        if not match:
            continue
        key, value = match.groups()
        if key == "cert" and Path(value).is_file():
            ca_bundle = Path(value)
        elif key in PIP_INDEX_KEYS:
            kept = [v for v in value.split() if key == "trusted-host" or _is_http(v)]
            left_out += [v for v in value.split() if v not in kept]
            if kept:
                index[key] = " ".join(kept)
        elif key in ("find-links", "constraint"):
            left_out.append(f"{key}={value}")
    return PipSettings(ca_bundle, index, tuple(dict.fromkeys(left_out)))


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class StandIn:
    image: str
    how: str  # "reused", "imported from cached tarball" or "made with debootstrap"
    seconds: float


def ensure_stand_in(
    buildah: Buildah, cache: Path, pip: PipSettings, *, rebuild: bool = False
) -> StandIn:
    """The stand-in's image name, made (or imported from the cached tarball) if missing."""
    started = time.monotonic()
    recipe = json.dumps([SUITE, "minbase", PACKAGES, RECIPE_VERSION])
    rootfs_key = _digest(recipe.encode())
    image_key = _digest(recipe.encode(), pip.ca_bundle.read_bytes(), pip.pip_conf().encode())
    image = f"{REPOSITORY}:3.11-slim-{image_key}"
    tarball = cache / f"standin-{SUITE}-{rootfs_key}.tar"

    if not rebuild and buildah.has_image(image):
        return StandIn(image, "reused", time.monotonic() - started)
    how = "imported from cached tarball"
    if rebuild or not tarball.exists():
        _debootstrap(tarball, cache)
        how = "made with debootstrap"
    _import(buildah, tarball, image, pip)
    return StandIn(image, how, time.monotonic() - started)


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def _debootstrap(tarball: Path, cache: Path) -> None:
    mirror = os.environ.get("DEBIAN_MIRROR", DEFAULT_MIRROR)
    log = cache / "debootstrap.log"
    with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        command = [
            "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
            SUITE, str(rootfs), mirror,
        ]  # fmt: skip
        print(f"  $ {' '.join(command)}   (log: {log})", flush=True)
        for attempt in (1, 2):  # one retry: a mirror hiccup should not fail the test
            with log.open("w") as out:
                status = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
            if status == 0:
                break
            shutil.rmtree(rootfs, ignore_errors=True)
            if attempt == 2:
                tail = "".join(log.read_text(errors="replace").splitlines(True)[-20:])
                raise RuntimeError(f"debootstrap failed (exit {status}); see {log}:\n{tail}")
        _slim(rootfs)
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(partial), "."],
            check=True,
        )
        for old in cache.glob(f"standin-{SUITE}-*.tar"):
            old.unlink()
        partial.rename(tarball)


def _slim(rootfs: Path) -> None:
    """What the official slim images leave out, pip's EXTERNALLY-MANAGED marker, and this
    machine's resolver and host name (buildah and docker mount their own)."""
    for pattern in (
        "etc/resolv.conf",
        "etc/hostname",
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/cache/debconf/*-old",
        "var/log/*.log",
        "var/log/apt/*",
        "usr/share/man/*",
        "usr/share/locale/*",
        "usr/share/info/*",
        "usr/lib/python3*/EXTERNALLY-MANAGED",
    ):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for doc in (rootfs / "usr/share/doc").glob("*/*"):  # keep only the copyright notices
        if doc.name != "copyright":
            if doc.is_dir() and not doc.is_symlink():
                shutil.rmtree(doc)
            else:
                doc.unlink()


def _import(buildah: Buildah, tarball: Path, image: str, pip: PipSettings) -> None:
    container = buildah("from", "--quiet", "scratch")
    try:
        buildah("add", "--quiet", container, str(tarball), "/")
        buildah("copy", "--quiet", container, str(pip.ca_bundle), str(DEFAULT_CA_BUNDLE))
        if pip.index:
            with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
                conf.write(pip.pip_conf())
            buildah("copy", "--quiet", container, conf.name, "/etc/pip.conf")
            Path(conf.name).unlink()
        buildah(
            "config",
            "--env", "LANG=C.UTF-8",
            "--cmd", "python3",
            "--label", "org.opencontainers.image.description="
            "Local stand-in for python:3.11-slim (Debian bookworm, debootstrap minbase)",
            container,
        )  # fmt: skip
        buildah("commit", "--quiet", "--rm", container, image)
    except BaseException:
        buildah.attempt("rm", container)
        raise
    for name in buildah("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}").split():
        if name.startswith(f"{REPOSITORY}:") and name != image:
            buildah.attempt("rmi", name)  # an older stand-in; in use by a build, it stays
