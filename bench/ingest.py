"""Metric ingest: points per second into the store, batched vs one commit per point.

Run from the repository root::

    .venv/bin/python bench/ingest.py                  # 200,000 points in batches of 1,000
    .venv/bin/python bench/ingest.py --quick          # smoke run: 5,000 points, 200 naive
    .venv/bin/python bench/ingest.py --points 500000 --batch 5000 --naive 5000
    .venv/bin/python bench/ingest.py --no-postgres    # SQLite only

For each backend a fresh database gets one experiment and two trials. Batched:
``Store.add_metrics`` with ``--batch`` points per call (one transaction, one
executemany each) until ``--points`` are in. Naive: ``add_metrics`` with one point
per call, i.e. one transaction and one commit per point, for ``--naive`` points
(fewer, it is slow). The ratio is batched rate / naive rate. Point construction is
outside the timers; the row counts are checked afterwards.

SQLite is a file in a temporary directory (WAL, synchronous=NORMAL, as the app
opens it). PostgreSQL is a throwaway local cluster (``devtools.pgcluster``) with
durable settings (fsync and synchronous_commit on), so a commit costs what it
costs on a lab server's disk.

The last line printed is machine-readable::

    RESULT sqlite_pts_per_s=.. sqlite_ratio=.. postgres_pts_per_s=.. postgres_ratio=..
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from app.engine.records import MetricPoint  # noqa: E402
from app.store.places import sqlite_url  # noqa: E402
from app.store.store import Store  # noqa: E402
from devtools.pgcluster import PgCluster  # noqa: E402


@dataclass(frozen=True)
class Result:
    """Rates measured on one backend."""

    backend: str
    points: int
    batch: int
    batched_s: float
    naive_points: int
    naive_s: float

    @property
    def batched_rate(self) -> float:
        """Points per second, batched."""
        return self.points / self.batched_s

    @property
    def naive_rate(self) -> float:
        """Points per second, one commit per point."""
        return self.naive_points / self.naive_s

    @property
    def ratio(self) -> float:
        """How many times faster batching is."""
        return self.batched_rate / self.naive_rate


def _points(trial_id: int, count: int, seed: int) -> list[MetricPoint]:
    rng = random.Random(seed)
    start = time.time()
    names = ("loss", "val_loss", "acc", "lr")
    return [
        MetricPoint(trial_id, names[i % 4], rng.random(), i // 4, start + i * 0.001)
        for i in range(count)
    ]


def measure(backend: str, url: str, points: int, batch: int, naive_points: int) -> Result:
    """Time batched and one-per-commit ingest into a fresh database at ``url``."""
    if points < 1 or batch < 1 or naive_points < 1:
        raise ValueError("--points, --batch and --naive must be at least 1")
    with Store(url) as store:
        experiment = store.create_experiment("ingest", {"bench": "ingest"})
        batched_trial = store.create_trial(experiment.id, {"mode": "batched"})
        naive_trial = store.create_trial(experiment.id, {"mode": "naive"})
        batched = _points(batched_trial.id, points, seed=1)
        naive = _points(naive_trial.id, naive_points, seed=2)

        started = time.perf_counter()
        for first in range(0, points, batch):
            store.add_metrics(batched[first:first + batch])
        batched_s = time.perf_counter() - started

        started = time.perf_counter()
        for point in naive:
            store.add_metrics([point])
        naive_s = time.perf_counter() - started

        stored = len(store.get_metrics(batched_trial.id)), len(store.get_metrics(naive_trial.id))
        if stored != (points, naive_points):
            raise RuntimeError(f"{backend}: expected {(points, naive_points)} rows, found {stored}")
    return Result(backend, points, batch, batched_s, naive_points, naive_s)


def _table(results: list[Result]) -> Table:
    table = Table(
        title="Metric ingest through Store.add_metrics",
        caption="naive = one point per call, one commit per point",
    )
    for column in ("backend", "points", "batch", "pts/s", "naive points", "naive pts/s",
                   "ratio"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.backend, f"{r.points:,}", f"{r.batch:,}", f"{r.batched_rate:,.0f}",
            f"{r.naive_points:,}", f"{r.naive_rate:,.0f}", f"{r.ratio:,.1f}x",
        )
    return table


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--naive", type=int, default=2_000, help="points for the naive baseline")
    parser.add_argument("--quick", action="store_true", help="5,000 points, 200 naive")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.naive = 5_000, 200
    if min(args.points, args.batch, args.naive) < 1:
        parser.error("--points, --batch and --naive must be at least 1")

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sweeplab-ingest-") as folder:
        url = sqlite_url(Path(folder) / "ingest.db")
        results.append(measure("sqlite", url, args.points, args.batch, args.naive))
    if not args.no_postgres:
        with PgCluster(durable=True) as cluster:
            url = cluster.create_database("ingest")
            results.append(measure("postgresql", url, args.points, args.batch, args.naive))

    console = Console()
    console.print(_table(results))
    console.print(
        f"Python {platform.python_version()}, {platform.machine()}; SQLite: WAL, "
        "synchronous=NORMAL; PostgreSQL: throwaway local cluster, fsync on"
    )
    by_backend = {r.backend: r for r in results}
    values: dict[str, float] = {}
    for backend in ("sqlite", "postgres"):
        result = by_backend.get("postgresql" if backend == "postgres" else backend)
        values[f"{backend}_pts_per_s"] = result.batched_rate if result else math.nan
        values[f"{backend}_ratio"] = result.ratio if result else math.nan
    print("RESULT " + " ".join(f"{key}={_fmt(value)}" for key, value in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
