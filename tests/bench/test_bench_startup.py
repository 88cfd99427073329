"""bench/startup.py runs once per command and prints its RESULT line."""

from __future__ import annotations

import os

from tests.helpers import result_figures, run_bench


def test_one_run_prints_positive_figures() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = run_bench("startup", "--runs", "1", "--stops", "1", timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert set(figures) == {"baseline_ms", "help_ms", "help_ratio", "ls_ms", "ls_ratio",
                            "baseline_cpu_ms", "help_cpu_ms", "ls_cpu_ms", "ls_cpu_ratio",
                            "ls_store_ms", "ls_store_cpu_ms",
                            "paint_ms", "paint_cpu_ms", "stop_ms", "stop_after_answer_ms",
                            "filled_ms", "filled_cpu_ms", "paint_existing_ms",
                            "paint_existing_cpu_ms", "filled_existing_ms",
                            "filled_existing_cpu_ms"}
    assert all(float(v) > 0 for v in figures.values())
