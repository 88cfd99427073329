"""bench/search_efficiency.py: quick mode end to end, deterministic runs, real pruning."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.helpers import load_bench, result_figures, run_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("search_efficiency")


def test_quick_search_efficiency_prints_a_result_and_a_plot(tmp_path: Path) -> None:
    plot = tmp_path / "curves.png"
    proc = run_bench("search_efficiency", "--quick", "--plot", str(plot), timeout=180,
                     env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert figures["seeds"] == "2" and 0.9 < float(figures["target"]) <= 1.0
    for key in ("random", "tpe", "asha_random", "asha_tpe", "hyperband_random", "optuna"):
        epochs = figures[f"{key}_epochs"]
        assert epochs == "inf" or 1 <= float(epochs) <= int(figures["budget"]), key
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize("name", ["asha+tpe", "optuna"])
def test_a_run_is_the_same_for_the_same_seed(bench: ModuleType, name: str) -> None:
    first, second = (bench.run_once(name, 3, 3 * bench.MAX_EPOCHS) for _ in range(2))
    assert np.array_equal(first.best, second.best)
    assert (first.trials, first.finals) == (second.trials, second.finals)
    other = bench.run_once(name, 4, 3 * bench.MAX_EPOCHS)
    assert not np.array_equal(first.best, other.best)


def test_asha_prunes_so_it_tries_more_trials_in_the_same_budget(bench: ModuleType) -> None:
    budget = 4 * bench.MAX_EPOCHS
    random = bench.run_once("random", 1, budget)
    asha = bench.run_once("asha+random", 1, budget)
    assert random.trials <= 4 + bench.WORKERS  # full-length trials only
    assert asha.trials > 3 * random.trials
    assert len(asha.finals) < asha.trials  # most of them were pruned
    assert np.all(np.diff(asha.best) >= 0) and 0.1 < asha.best[-1] <= 1.0


def test_the_mlp_learns_and_a_tiny_learning_rate_does_not(bench: ModuleType) -> None:
    data = bench.Data()

    def params(lr: float) -> dict[str, object]:
        return {"optimizer": {"_name": "adam", "learning_rate": lr, "beta_1": 0.9},
                "units": 32, "alpha": 1e-4, "batch_size": 32}

    good = bench.Trial(data, params(3e-3), seed=0)
    slow = bench.Trial(data, params(1e-5), seed=0)
    good_acc = [good.step() for _ in range(10)]
    slow_acc = [slow.step() for _ in range(10)]
    assert good_acc[-1] > 0.9 > slow_acc[-1]
    assert good.epoch == 10


def test_a_budget_below_one_trial_is_refused_naming_the_option(
        bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--budget", "10"])
    assert exit_info.value.code == 2
    assert f"--budget >= {bench.MAX_EPOCHS}" in capsys.readouterr().err


def test_the_studies_options_reach_the_result(tmp_path: Path) -> None:
    """The random-start study's options: a subset of strategies (random always runs: it
    sets the target), the first seed, TPE's and Optuna's random start."""
    proc = run_bench("search_efficiency", "--quick", "--strategies", "asha+tpe,optuna",
                     "--first-seed", "20", "--random-start", "3", "--optuna-random-start",
                     "5", timeout=180, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert (figures["first_seed"], figures["random_start"],
            figures["optuna_random_start"]) == ("20", "3", "5")
    assert {key for key in figures if key.endswith("_epochs")} == {
        "random_epochs", "asha_tpe_epochs", "optuna_epochs"}
    assert "2 seeds (20-21)" in proc.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (["--strategies", "asha+grid"], "--strategies: unknown asha+grid"),
    (["--random-start", "0"], "a random start must be >= 1 trial, got 0"),
    (["--first-seed", "-1"], "--first-seed and --ranking must be >= 0"),
])
def test_bad_study_options_are_named(bench: ModuleType, argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
