"""What every benchmark shares: the sizes, the run counts, a scratch folder, the
emulator process, and the action run the way the GitHub runner runs it."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import MIB, PYTHON, ROOT, Measured, run_process
from bench.server import Served, serving

ENTRYPOINT = ROOT / "entrypoint.py"


@dataclass
class Context:
    """``quick`` shrinks every size 16-fold and the run counts to 3: for trying the
    benchmark out, not for publishing."""

    quick: bool = False
    work: Path = ROOT / "build" / "bench"
    _stack: ExitStack = field(default_factory=ExitStack)
    _served: Served | None = None

    def __post_init__(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)

    def runs(self, wanted: int) -> int:
        return 3 if self.quick else wanted

    def size(self, wanted: int) -> int:
        return wanted // 16 if self.quick else wanted

    # -- the emulator process, with one project per archive size ---------------------------

    #: A tiny archive: running the action on it measures the action's fixed overhead.
    TINY = 64 << 10

    def sizes(self) -> list[int]:
        """Every archive size a benchmark of this context uses (made once, at start)."""
        return [self.TINY] + [self.size(s) for s in (16 * MIB, 256 * MIB, 512 * MIB, 1024 * MIB)]

    def project(self, size: int) -> int:
        return 900_000 + self.sizes().index(size)

    def served(self) -> Served:
        if self._served is None:
            print(f"making the archives ({', '.join(_short(s) for s in self.sizes())}) ...")
            projects = {self.project(size): size for size in self.sizes()}
            self._served = self._stack.enter_context(serving(projects))
        return self._served

    def close(self) -> None:
        self._stack.close()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- the action --------------------------------------------------------------------------

    def run_action(self, size: int, name: str) -> Measured:
        """``entrypoint.py`` in a process of its own, with the runner's environment, saving
        the archive of this size as ``<work>/<name>/out/archive.zip`` (export job complete
        at once, verify on, no artifact upload)."""
        served = self.served()
        root = self.work / name
        shutil.rmtree(root, ignore_errors=True)
        (root / "out").mkdir(parents=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(root),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(root),
            "GITHUB_OUTPUT": str(root / "set_output"),
            "GITHUB_STEP_SUMMARY": str(root / "step_summary"),
            "INPUT_ACCESS-TOKEN": served.token,
            "INPUT_PROJECT-ID": str(self.project(size)),
            "INPUT_API-URL": served.api_url,
            "INPUT_PATH": "out",
            "INPUT_FILENAME": "archive.zip",
            "INPUT_UPLOAD-ARTIFACT": "false",
        }
        measured = run_process([PYTHON, str(ENTRYPOINT)], env=env, cwd=root)
        saved = (root / "out" / "archive.zip").stat().st_size
        if saved != self.bytes(size):
            raise RuntimeError(f"the action saved {saved} bytes, not {self.bytes(size)}")
        return measured

    def bytes(self, size: int) -> int:
        """The exact size of the archive made for ``size``."""
        return self.served().sizes[self.project(size)]

    def url(self, size: int) -> str:
        """A signed URL of that archive (reusable: no fault is set)."""
        return self.served().urls[self.project(size)]


def _short(size: int) -> str:
    return f"{size >> 20} MiB" if size >= MIB else f"{size >> 10} KiB"
