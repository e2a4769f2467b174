"""The one client of buildah: its own storage, vfs and chroot isolation (no daemon, no
kernel overlay or user namespaces needed), and nothing ever pulled from a registry."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BuildahError(RuntimeError):
    """A buildah command failed; the message carries its command line and output."""


@dataclass(frozen=True)
class Buildah:
    """buildah with a storage of its own under ``root`` (kept apart from any other)."""

    root: Path
    runroot: Path

    def _command(self, args: Sequence[str]) -> list[str]:
        return [
            "buildah",
            "--root", str(self.root),
            "--runroot", str(self.runroot),
            "--storage-driver", "vfs",
            *args,
        ]  # fmt: skip

    def __call__(self, *args: str) -> str:
        """Run a buildah command and return its standard output (errors raise)."""
        done = subprocess.run(self._command(args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildahError(
                f"buildah {' '.join(args)} failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout.strip()

    def attempt(self, *args: str) -> bool:
        """Run a buildah command whose failure is acceptable; return whether it worked."""
        done = subprocess.run(self._command(args), capture_output=True, check=False)
        return done.returncode == 0

    def streamed(self, *args: str, log: Path) -> float:
        """Run a long buildah command with its output sent to ``log``; return seconds taken."""
        started = time.monotonic()
        with log.open("w") as out:
            status = subprocess.call(self._command(args), stdout=out, stderr=subprocess.STDOUT)
        if status != 0:
            tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-40:])
            raise BuildahError(f"buildah {args[0]} failed (exit {status}); see {log}:\n{tail}")
        return time.monotonic() - started

    def run_in(
        self,
        container: str,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        volumes: dict[Path, str] | None = None,
        workdir: str | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in a working container on the host's network; never raises on
        the command's own exit status (the caller judges it)."""
        args = ["run", "--isolation", "chroot", "--network", "host"]
        for name, value in (env or {}).items():
            args += ["--env", f"{name}={value}"]
        for host, inside in (volumes or {}).items():
            args += ["--volume", f"{host}:{inside}"]
        if workdir:
            args += ["--workingdir", workdir]
        return subprocess.run(
            self._command([*args, container, "--", *command]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def has_image(self, name: str) -> bool:
        return self.attempt("inspect", "--type", "image", name)

    def image_config(self, name: str) -> dict[str, Any]:
        """The image's OCI config (``Entrypoint``, ``Cmd``, ``User``, ``WorkingDir``, ...)."""
        inspected = json.loads(self("inspect", "--type", "image", name))
        config: dict[str, Any] = inspected["OCIv1"].get("config") or {}
        return config

    def working_container(self, image: str) -> str:
        return self("from", "--pull=never", "--quiet", image)

    def mount(self, container: str) -> Path:
        return Path(self("mount", container))

    def remove_container(self, container: str) -> None:
        self("rm", container)

    def prune_images(self) -> None:
        """Remove images without a name and without children: earlier builds' layers."""
        self("rmi", "--prune")


def tree_size(root: Path) -> int:
    """Bytes in the files under ``root`` (each hard-linked file counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in root.rglob("*"):
        info = path.lstat()
        key = (info.st_dev, info.st_ino)
        if key not in seen:
            seen.add(key)
            total += info.st_size
    return total
