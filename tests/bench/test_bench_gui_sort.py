"""bench/gui_sort.py runs in its quick mode and prints its RESULT line."""

from __future__ import annotations

import os

from tests.helpers import result_figures, run_bench


def test_quick_gui_sort_prints_positive_figures() -> None:
    proc = run_bench("gui_sort", "--quick", timeout=120,
                     env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert figures and all(float(v) > 0 for v in figures.values())
    assert "grid_paint_ms_1000" in figures  # the grid's full repaint, 1,000 tiles here
