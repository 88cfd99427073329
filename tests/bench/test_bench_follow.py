"""bench/follow.py runs in its quick mode and prints its RESULT line."""

from __future__ import annotations

from tests.helpers import result_figures, run_bench


def test_quick_follow_prints_positive_figures() -> None:
    proc = run_bench("follow", "--quick", timeout=120)
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert set(figures) == {"trials", "running", "full_ms", "follow_ms", "ratio"}
    assert all(float(v) > 0 for v in figures.values())
