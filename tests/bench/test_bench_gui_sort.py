"""bench/gui_sort.py runs in its quick mode and prints its RESULT line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_gui_sort_prints_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gui_sort.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    figures = dict(item.split("=") for item in result[0].split()[1:])
    assert figures and all(float(v) > 0 for v in figures.values())
