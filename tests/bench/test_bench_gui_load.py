"""bench/gui_load.py runs offscreen and prints its RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

import os

from tests.helpers import result_figures, run_bench

KEYS = ["p99_stall_ms", "max_stall_ms", "frame_ms", "idle_p99_stall_ms", "idle_max_stall_ms"]


def test_quick_gui_load_benchmark_prints_its_figures() -> None:
    proc = run_bench("gui_load", "--quick", timeout=180,
                     env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    figures = {k: float(v) for k, v in result_figures(proc.stdout).items()}
    assert list(figures)[:5] == KEYS
    assert all(figures[key] > 0 for key in KEYS)
    # a 10 ms timer cannot tick faster than every 10 ms, idle or not
    assert figures["idle_max_stall_ms"] >= 9.0 and figures["max_stall_ms"] >= 9.0
    assert "trials finished" in proc.stdout
