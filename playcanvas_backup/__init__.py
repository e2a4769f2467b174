"""Back up PlayCanvas projects: export, wait, download, verify, publish.

The command line and the GitHub Action both enter through :func:`main`.
"""

from __future__ import annotations

__version__ = "1.0.0"


def main() -> int:
    """Run the command line (``playcanvas-backup``); return the exit status."""
    # Imported here so that importing the package stays cheap (no requests).
    from .cli import main as cli_main  # noqa: PLC0415

    return cli_main()


__all__ = ["__version__", "main"]
