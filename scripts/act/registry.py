"""The prebuilt image, as a workflow gets it: built from the Dockerfile, pushed to a
registry on loopback, and gone from local storage, so that act (through podman) must pull
it for ``uses: docker://127.0.0.1:<port>/playcanvas-backup:act-test``.

The registry is Debian's ``docker-registry`` (the CNCF distribution server), which
scripts/act-test configures (127.0.0.1, a free port, storage under build/act-test,
its access log in ``registry.log``), starts and stops; podman may use it over plain
HTTP through the ``[[registry]] insecure`` entry of act-test's registries.conf.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts.container.buildah import Buildah

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "playcanvas-backup"
TAG = "act-test"
#: What the workflow template says where the registry goes (see runner.make_repository).
PLACEHOLDER = "127.0.0.1:REGISTRY_PORT"


@dataclass(frozen=True)
class Registry:
    """A registry at ``host:port`` on loopback, whose access log is ``log``."""

    address: str
    log: Path

    def wait_until_ready(self, timeout: float = 30) -> None:
        """Until ``GET /v2/`` answers 200 (the registry API's base check)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the registry on {self.address} did not answer within {timeout:.0f} s")

    def manifest_reads(self) -> int:
        """GETs of the image's manifest in the access log (a push only HEADs and PUTs it)."""
        if not self.log.exists():
            return 0
        needle = f'"GET /v2/{REPOSITORY}/manifests/'
        return sum(needle in line for line in self.log.read_text(errors="replace").splitlines())


@dataclass(frozen=True)
class Pushed:
    reference: str
    digest: str
    build_seconds: float
    push_seconds: float


def build_and_push(buildah: Buildah, base_image: str, registry: Registry, out: Path) -> Pushed:
    """Build the Dockerfile on ``base_image``, push it to ``registry``, then remove the
    local image, so that the only copy is the registry's."""
    reference = f"{registry.address}/{REPOSITORY}:{TAG}"
    build_seconds = buildah.streamed(
        "bud", "--isolation", "chroot", "--pull=never", "--layers",
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--tag", reference, "--file", str(ROOT / "Dockerfile"), str(ROOT),
        log=out / "prebuilt-build.log",
    )  # fmt: skip
    digest_file = out / "prebuilt.digest"
    push_seconds = buildah.streamed(
        "push", "--tls-verify=false", "--digestfile", str(digest_file),
        reference, f"docker://{reference}",
        log=out / "prebuilt-push.log",
    )  # fmt: skip
    buildah("rmi", reference)
    return Pushed(reference, digest_file.read_text().strip(), build_seconds, push_seconds)


def remove_pulled(buildah: Buildah, reference: str) -> None:
    """The copy act pulled (vfs keeps a full copy of every image)."""
    buildah.attempt("rmi", "--force", reference)
