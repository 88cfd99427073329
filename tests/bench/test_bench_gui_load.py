"""bench/gui_load.py runs offscreen and prints its RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["p99_stall_ms", "max_stall_ms", "frame_ms", "idle_p99_stall_ms", "idle_max_stall_ms"]


def test_quick_gui_load_benchmark_prints_its_figures() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gui_load.py"), "--quick"],
                          capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    figures = {k: float(v) for k, v in (item.split("=") for item in result[0].split()[1:])}
    assert list(figures)[:5] == KEYS
    assert all(figures[key] > 0 for key in KEYS)
    # a 10 ms timer cannot tick faster than every 10 ms, idle or not
    assert figures["idle_max_stall_ms"] >= 9.0 and figures["max_stall_ms"] >= 9.0
    assert "trials finished" in proc.stdout
