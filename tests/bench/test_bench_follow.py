"""bench/follow.py runs in its quick mode and prints its RESULT line."""

from __future__ import annotations

from tests.helpers import result_figures, run_bench


def test_quick_follow_prints_positive_figures() -> None:
    proc = run_bench("follow", "--quick", timeout=120)
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert list(figures) == ["running", "full_ms_500", "follow_ms_500", "ratio_500"]
    assert all(float(v) > 0 for v in figures.values())
    # the ratio follows from the row it is printed with
    ratio = float(figures["full_ms_500"]) / float(figures["follow_ms_500"])
    assert abs(ratio - float(figures["ratio_500"])) <= 0.05 + 0.01 * ratio
