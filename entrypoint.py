#!/usr/bin/env python3
"""Entry point of the Docker action and of local runs: ``python entrypoint.py --help``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playcanvas_backup.cli import main

if __name__ == "__main__":
    sys.exit(main())
