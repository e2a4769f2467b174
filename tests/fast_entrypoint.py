"""``entrypoint.py`` with the retry policies' testing switch on (``retries.set_testing``):
every backoff wait is computed and announced as in production, but not slept. Waits that
are not backoff (rate-limit windows, job polls) stay real."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from playcanvas_backup import retries

    retries.set_testing(True)
    runpy.run_path(str(ROOT / "entrypoint.py"), run_name="__main__")
