"""Smoke test of bench/ingest.py: it runs end to end and its RESULT line parses."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


@pytest.mark.slow
def test_ingest_bench_quick_run() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    values = dict(item.split("=") for item in last.split()[1:])
    assert list(values) == [
        "sqlite_pts_per_s", "sqlite_ratio", "postgres_pts_per_s", "postgres_ratio"
    ]
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in values.values())


def test_ingest_bench_rejects_bad_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-postgres", "--points", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode != 0
    assert "--points, --batch and --naive must be at least 1" in done.stderr
