"""What a backup schedule costs: the arithmetic behind the README's "What it costs".

Two sums, both pure, so that the README's worked example is recomputed by a test
(tests/test_costs.py) and cannot drift from the formula:

* **Artifact storage.** A run every night uploads one artifact per project and branch,
  each kept ``retention_days``. From the ``retention_days``-th night on, the storage holds
  ``retention_days`` nights of artifacts at once, so a 30-day month is billed about
  ``projects x branches x archive size x retention days`` GB-months; each night's run adds
  ``1/30`` of that.
* **PlayCanvas's strict limit.** Every export is a strict-limit request, counted per token
  (5 a minute on a free plan, 10 on a paid one: :data:`playcanvas_backup.doctor.PLANS`),
  so a night's exports start in ``ceil(exports / limit)`` one-minute windows, however many
  jobs (a matrix) share the token.

    >>> storage_gb_months(projects=12, branches=2, archive_mb=250, retention_days=14)
    84.0
    >>> export_windows(exports=120, per_minute=5)
    24
"""

from __future__ import annotations

import math

#: Days in the month GitHub's storage is billed over (a GB kept 30 days is one GB-month).
DAYS_PER_MONTH = 30
#: Megabytes in a gigabyte (decimal units, as the README states sizes).
MB_PER_GB = 1000


def nightly_upload_gb(*, projects: int, branches: float, archive_mb: float) -> float:
    """Gigabytes of artifacts one nightly run uploads: one archive per project and branch
    (``branches`` is the average number of branches exported per project)."""
    _check_positive(projects=projects, branches=branches, archive_mb=archive_mb)
    return projects * branches * archive_mb / MB_PER_GB


def storage_gb(*, projects: int, branches: float, archive_mb: float, retention_days: int) -> float:
    """Gigabytes the artifacts take once the schedule is steady (from the
    ``retention_days``-th night on): ``retention_days`` nights' uploads, one run a night."""
    _check_positive(retention_days=retention_days)
    nightly = nightly_upload_gb(projects=projects, branches=branches, archive_mb=archive_mb)
    return nightly * retention_days


def storage_gb_months(
    *, projects: int, branches: float, archive_mb: float, retention_days: int
) -> float:
    """GB-months billed for a 30-day month of the steady schedule: the steady storage
    (:func:`storage_gb`) kept the whole month, one GB-month per GB."""
    return storage_gb(
        projects=projects, branches=branches, archive_mb=archive_mb, retention_days=retention_days
    )


def run_gb_months(
    *, projects: int, branches: float, archive_mb: float, retention_days: int
) -> float:
    """GB-months one nightly run adds: its uploads, each kept ``retention_days`` of a 30-day
    month. Thirty of them make :func:`storage_gb_months`."""
    kept = storage_gb(
        projects=projects, branches=branches, archive_mb=archive_mb, retention_days=retention_days
    )
    return kept / DAYS_PER_MONTH


def export_windows(*, exports: int, per_minute: int) -> int:
    """One-minute rate-limit windows a night's ``exports`` start in, at ``per_minute``
    exports a minute per token: the last export starts about one minute less than this
    after the first, then still has to be built, downloaded and checked."""
    _check_positive(exports=exports, per_minute=per_minute)
    return math.ceil(exports / per_minute)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}")
