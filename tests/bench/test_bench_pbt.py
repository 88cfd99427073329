"""bench/pbt.py: quick mode end to end through the real runner, and its study files."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.experiment import experiment_from_dict
from app.engine.schedulers import SchedulerName
from tests.helpers import load_bench, result_figures, run_bench


def test_quick_pbt_bench_prints_each_method_and_a_result(tmp_path: Path) -> None:
    plot = tmp_path / "schedule.png"
    proc = run_bench("pbt", "--quick", "--plot", str(plot), timeout=600,
                     env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    figures = result_figures(proc.stdout)
    assert (figures["seeds"], figures["budget"], figures["population"]) == ("2", "24", "4")
    for method in ("pbt", "random", "asha_tpe"):
        assert 0.1 < float(figures[f"{method}_median"]) <= 1.0, method
    assert figures["pbt_wins_vs_random"].endswith("/2")
    assert float(figures["best_schedule_lr_first"]) > 0 and plot.stat().st_size > 1000
    assert "best PBT schedule (seed " in proc.stdout
    for line in ("PBT ", "random search ", "ASHA + TPE "):
        assert any(row.startswith(line) for row in proc.stdout.splitlines()), line


@pytest.mark.parametrize("method", ["pbt", "random", "asha+tpe"])
def test_every_study_is_a_valid_experiment_at_the_same_parallelism(
        method: str, tmp_path: Path) -> None:
    bench = load_bench("pbt")
    sizes = bench.Sizes(population=4, epochs=24, interval=4)
    config = experiment_from_dict(bench.experiment_doc(method, 3, sizes, bench.EXAMPLE),
                                  bench.EXAMPLE)
    assert config.limits.max_parallel == 4 and config.limits.max_epochs == 24
    expected = {"pbt": SchedulerName.PBT, "random": SchedulerName.FIFO,
                "asha+tpe": SchedulerName.ASHA}[method]
    assert config.scheduler.name is expected


def test_bad_sizes_exit_2() -> None:
    proc = run_bench("pbt", "--interval", "30", timeout=60)
    assert proc.returncode == 2 and "--interval must be between" in proc.stderr
    proc = run_bench("pbt", "--methods", "grid", timeout=60)
    assert proc.returncode == 2 and "unknown grid" in proc.stderr
