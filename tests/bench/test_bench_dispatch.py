"""bench/dispatch.py runs and prints its RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_dispatch_benchmark_prints_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "dispatch.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    figures = dict(item.split("=") for item in result[0].split()[1:])
    assert figures["trials"] == "20"
    assert all(float(v) > 0 for v in figures.values())
