"""Search efficiency on the digits MLP: epochs needed to reach a good model.

Strategies: random, TPE, ASHA+random, ASHA+TPE, Hyperband+random (Sweeplab's own
searchers and schedulers, the very objects the runner uses) and, as the outside
peer, Optuna's TPESampler with its SuccessiveHalvingPruner on the same space and
budget. Each run trains scikit-learn MLPs on the bundled digits data epoch by
epoch, two trials at a time (simulated parallel workers: the worker that has
spent the fewest epochs goes next), until the run's epoch budget is spent.

Reported per strategy over the seeds: the median cumulative epochs (and wall
seconds) until some trial first reaches the target validation accuracy (the
90th percentile of the final accuracies of every fully trained random-search
trial in the same run), and the median best accuracy within the budget.

Trials run in-process rather than as processes on the local executor: importing
scikit-learn costs ~2.6 s per process here, which would dwarf the training and
measure process start-up instead of search efficiency.

    .venv/bin/python bench/search_efficiency.py [--seeds 10] [--budget 160] [--quick]
        [--plot docs/search_efficiency.png]
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine.params import flatten
from app.engine.schedulers import Decision, SchedulerConfig, SchedulerName, make_scheduler
from app.engine.search import Algorithm, Goal, make_searcher
from app.engine.space import space_from_dict
from app.engine.trial import TrialState

MAX_EPOCHS = 9  # rungs at 1 and 3 with eta = 3
WORKERS = 2
SPACE = {"version": 1, "space": [
    {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
        {"name": "sgd", "type": "group", "children": [
            {"name": "learning_rate_init", "type": "number", "auto": True,
             "distribution": "loguniform", "min": 1e-3, "max": 0.3, "default": 0.01},
            {"name": "momentum", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.5, "max": 0.99, "default": 0.9}]},
        {"name": "adam", "type": "group", "children": [
            {"name": "learning_rate_init", "type": "number", "auto": True,
             "distribution": "loguniform", "min": 1e-5, "max": 1e-2, "default": 1e-3},
            {"name": "beta_1", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.8, "max": 0.99, "default": 0.9}]}]},
    {"name": "units", "type": "number", "integer": True, "auto": True,
     "distribution": "quniform", "min": 8, "max": 64, "step": 8, "default": 32},
    {"name": "alpha", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-6, "max": 1e-1, "default": 1e-4},
    {"name": "batch_size", "type": "choice", "auto": True, "values": [64, 128, 256],
     "default": 128},
]}


class Data:
    """The digits split once: 75 % train, 25 % validation."""

    def __init__(self) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        x, y = load_digits(return_X_y=True)
        self.xt, self.xv, self.yt, self.yv = train_test_split(
            x / 16.0, y, test_size=0.25, random_state=0)
        self.classes = np.arange(10)


class Trial:
    """One MLP trained an epoch at a time."""

    def __init__(self, data: Data, params: dict[str, Any], seed: int) -> None:
        from sklearn.neural_network import MLPClassifier

        flat = flatten(params)
        options: dict[str, Any] = {"solver": flat["optimizer"],
                                   "learning_rate_init": flat["optimizer.learning_rate_init"]}
        if flat["optimizer"] == "sgd":
            options["momentum"] = flat["optimizer.momentum"]
        else:
            options["beta_1"] = flat["optimizer.beta_1"]
        self.model = MLPClassifier(hidden_layer_sizes=(int(flat["units"]),),
                                   alpha=flat["alpha"], batch_size=int(flat["batch_size"]),
                                   random_state=seed, **options)
        self.data = data
        self.epoch = 0

    def step(self) -> float:
        """Train one epoch; the validation accuracy after it."""
        data = self.data
        self.model.partial_fit(data.xt, data.yt, classes=data.classes)
        self.epoch += 1
        return float(self.model.score(data.xv, data.yv))


@dataclass
class Run:
    """What one strategy did with one seed."""

    curve: list[tuple[int, float, float]] = field(default_factory=list)
    """(cumulative epochs, best accuracy so far, wall seconds) after every epoch."""
    finals: list[float] = field(default_factory=list)  # accuracies of fully trained trials

    @property
    def best(self) -> float:
        return self.curve[-1][1] if self.curve else 0.0

    def reached(self, target: float) -> tuple[int, float] | None:
        """(epochs, wall seconds) when some trial first reached ``target``."""
        return next(((e, w) for e, b, w in self.curve if b >= target), None)


# A strategy: given (seed), yields ask() -> (handle, params) and tell(handle, step, acc) ->
# Decision, end(handle, acc, pruned)
@dataclass
class Strategy:
    name: str
    start: Callable[[int], Any]


class Ours:
    """Sweeplab's searcher + scheduler."""

    def __init__(self, algorithm: Algorithm, scheduler: SchedulerName, seed: int) -> None:
        self.searcher = make_searcher(algorithm, space_from_dict(SPACE), Goal.MAX, seed,
                                      initial_random=10)
        self.scheduler = make_scheduler(SchedulerConfig(scheduler), Goal.MAX, MAX_EPOCHS, seed)
        self.number = 0

    def ask(self) -> tuple[Any, dict[str, Any]]:
        self.number += 1
        params = self.searcher.suggest(self.number)
        assert params is not None
        return self.number, params

    def report(self, handle: Any, step: int, value: float) -> Decision:
        return self.scheduler.on_result(handle, step, value)

    def end(self, handle: Any, value: float, pruned: bool) -> None:
        self.scheduler.on_complete(handle, value)
        state = TrialState.PRUNED if pruned else TrialState.COMPLETED
        self.searcher.on_trial_complete(handle, value, state)


class OptunaPeer:
    """Optuna's TPESampler with SuccessiveHalvingPruner, ask/tell, on the same space."""

    def __init__(self, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10),
            pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        branch: dict[str, Any] = {"_name": optimizer}
        if optimizer == "sgd":
            branch["learning_rate_init"] = trial.suggest_float("sgd_lr", 1e-3, 0.3, log=True)
            branch["momentum"] = trial.suggest_float("sgd_momentum", 0.5, 0.99)
        else:
            branch["learning_rate_init"] = trial.suggest_float("adam_lr", 1e-5, 1e-2, log=True)
            branch["beta_1"] = trial.suggest_float("adam_beta_1", 0.8, 0.99)
        params = {
            "optimizer": branch,
            "units": trial.suggest_int("units", 8, 64, step=8),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        }
        return trial, params

    def report(self, handle: Any, step: int, value: float) -> Decision:
        handle.report(value, step)
        return Decision.STOP if handle.should_prune() else Decision.CONTINUE

    def end(self, handle: Any, value: float, pruned: bool) -> None:
        state = self.optuna.trial.TrialState.PRUNED if pruned else None
        if pruned:
            self.study.tell(handle, state=state)
        else:
            self.study.tell(handle, value)


STRATEGIES: dict[str, Callable[[int], Any]] = {
    "random": lambda s: Ours(Algorithm.RANDOM, SchedulerName.FIFO, s),
    "tpe": lambda s: Ours(Algorithm.TPE, SchedulerName.FIFO, s),
    "asha+random": lambda s: Ours(Algorithm.RANDOM, SchedulerName.ASHA, s),
    "asha+tpe": lambda s: Ours(Algorithm.TPE, SchedulerName.ASHA, s),
    "hyperband+random": lambda s: Ours(Algorithm.RANDOM, SchedulerName.HYPERBAND, s),
    "optuna tpe+sha": OptunaPeer,
}


def run_once(strategy: Any, data: Data, seed: int, budget: int) -> Run:
    """Spend ``budget`` epochs on two simulated workers."""
    run = Run()
    workers: list[tuple[Any, Trial] | None] = [None] * WORKERS
    clocks = [0] * WORKERS
    used = 0
    best = 0.0
    started = time.perf_counter()
    count = 0
    while used < budget:
        for w in range(WORKERS):
            if workers[w] is None:
                handle, params = strategy.ask()
                count += 1
                workers[w] = (handle, Trial(data, params, seed * 1000 + count))
        w = min(range(WORKERS), key=lambda i: clocks[i])
        slot = workers[w]
        assert slot is not None
        handle, trial = slot
        accuracy = trial.step()
        used += 1
        clocks[w] += 1
        best = max(best, accuracy)
        run.curve.append((used, best, time.perf_counter() - started))
        decision = strategy.report(handle, trial.epoch, accuracy)
        if trial.epoch >= MAX_EPOCHS or decision is Decision.STOP:
            pruned = trial.epoch < MAX_EPOCHS
            strategy.end(handle, accuracy, pruned)
            if not pruned:
                run.finals.append(accuracy)
            workers[w] = None
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=160, help="epochs per run")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 epochs: a smoke run")
    parser.add_argument("--plot", type=Path, help="write best-so-far curves to this PNG")
    args = parser.parse_args(argv)
    seeds, budget = (2, 40) if args.quick else (args.seeds, args.budget)
    if seeds < 1 or budget < MAX_EPOCHS:
        parser.error(f"--seeds must be >= 1 and --budget >= {MAX_EPOCHS}")
    warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning for one-epoch fits
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    data = Data()

    results: dict[str, list[Run]] = {}
    for name, make in STRATEGIES.items():
        results[name] = [run_once(make(s), data, s, budget) for s in range(seeds)]
        print(f"  {name}: done", file=sys.stderr)
    # the target: what a long random search reaches with its fully trained trials
    finals = sorted(a for r in results["random"] for a in r.finals)
    target = float(np.percentile(finals, 90))

    print(f"digits MLP, {seeds} seeds, {budget} epochs per run, max {MAX_EPOCHS} epochs per "
          f"trial, {WORKERS} workers; target val_acc {target:.4f} (90th percentile of "
          f"{len(finals)} fully trained random trials)")
    print(f"{'strategy':18} {'reached':>8} {'epochs':>8} {'wall s':>8} {'best acc':>9} "
          f"{'vs random':>10}")
    medians: dict[str, float] = {}
    for name, runs in results.items():
        hits = [r.reached(target) for r in runs]
        # a run that never reached the target counts as more than its whole budget
        epochs = [h[0] if h else math.inf for h in hits]
        walls = [h[1] for h in hits if h]
        medians[name] = statistics.median(epochs)
        best = statistics.median(r.best for r in runs)
        wall = f"{statistics.median(walls):8.1f}" if walls else f"{'—':>8}"
        over = ">" + str(budget)
        shown = f"{medians[name]:8.0f}" if math.isfinite(medians[name]) else f"{over:>8}"
        print(f"{name:18} {len(walls):>5}/{seeds:<2} {shown} {wall} {best:9.4f} "
              f"{_ratio(medians['random'], medians[name]):>10}")
    if args.plot:
        plot(results, args.plot, target)
    key = {"random": "random", "tpe": "tpe", "asha+random": "asha_random",
           "asha+tpe": "asha_tpe", "hyperband+random": "hyperband_random",
           "optuna tpe+sha": "optuna"}
    figures = " ".join(f"{key[n]}_epochs={v:.0f}" for n, v in medians.items())
    print(f"RESULT seeds={seeds} budget={budget} target={target:.4f} {figures} "
          f"asha_tpe_speedup={_ratio(medians['random'], medians['asha+tpe'])}")
    return 0


def _ratio(baseline: float, value: float) -> str:
    """How many times fewer epochs than the baseline ("inf"/"nan" when unreached)."""
    if math.isinf(value):
        return "nan" if math.isinf(baseline) else "0.00"
    return "inf" if math.isinf(baseline) else f"{baseline / value:.2f}"


def plot(results: dict[str, list[Run]], path: Path, target: float) -> None:
    """Median best-so-far accuracy against cumulative epochs, one line per strategy."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    import pyqtgraph.exporters

    app = pg.mkQApp()
    widget = pg.PlotWidget(background="w")
    widget.resize(900, 560)
    widget.addLegend(offset=(-10, -10))
    widget.setLabel("bottom", "cumulative epochs")
    widget.setLabel("left", "best validation accuracy so far (median over seeds)")
    for i, (name, runs) in enumerate(results.items()):
        length = min(len(r.curve) for r in runs)
        xs = np.arange(1, length + 1)
        ys = np.median(np.array([[b for _, b, _ in r.curve[:length]] for r in runs]), axis=0)
        widget.plot(xs, ys, pen=pg.mkPen(pg.intColor(i, len(results)), width=2), name=name)
    widget.addLine(y=target, pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
    widget.setYRange(max(0.5, target - 0.25), 1.0)
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    pyqtgraph.exporters.ImageExporter(widget.plotItem).export(str(path))


if __name__ == "__main__":
    sys.exit(main())
