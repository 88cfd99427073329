"""bench/search_efficiency.py runs end to end in its quick mode and draws its plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_search_efficiency_prints_a_result_and_a_plot(tmp_path: Path) -> None:
    plot = tmp_path / "curves.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "search_efficiency.py"), "--quick",
         "--plot", str(plot)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    figures = dict(item.split("=") for item in result[0].split()[1:])
    assert figures["seeds"] == "2" and 0.5 < float(figures["target"]) <= 1.0
    for key in ("random", "tpe", "asha_random", "asha_tpe", "hyperband_random", "optuna"):
        assert f"{key}_epochs" in figures
    assert plot.stat().st_size > 1000
