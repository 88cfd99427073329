"""bench/gui_load_store.py runs offscreen on a real SQLite store, tiny, and prints its
RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

import math
import os

import pytest

from tests.helpers import result_figures, run_bench

KEYS = ["sqlite_50x20_stall_ms", "sqlite_50x20_first_s", "sqlite_50x20_all_s",
        "sqlite_50x20_read_s", "sqlite_50x20_all_per_read", "sqlite_goals_met"]


def test_tiny_store_backed_gui_load_benchmark_prints_its_figures() -> None:
    proc = run_bench("gui_load_store", "--trials", "50", "--points", "20", "--sqlite-only",
                     timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    figures = {k: float(v) for k, v in result_figures(proc.stdout).items()}
    assert list(figures) == KEYS
    first, done = figures["sqlite_50x20_first_s"], figures["sqlite_50x20_all_s"]
    assert math.isfinite(first) and math.isfinite(done), "every curve was drawn"
    assert 0 < first <= done
    # a 5 ms timer cannot tick faster than every 5 ms
    assert figures["sqlite_50x20_stall_ms"] >= 4.0
    assert figures["sqlite_goals_met"] in (0.0, 1.0)
    # the baseline: the same reads with no window
    assert figures["sqlite_50x20_read_s"] > 0
    assert figures["sqlite_50x20_all_per_read"] == pytest.approx(
        done / figures["sqlite_50x20_read_s"], rel=0.1)  # as printed, rounded
    assert "stored 50 trials x 20 points" in proc.stdout
