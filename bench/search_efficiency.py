"""Search efficiency on the digits MLP: epochs needed to reach a good model.

Strategies: random, TPE, ASHA+random, ASHA+TPE, Hyperband+random (Sweeplab's own
searchers and schedulers, the very objects the runner uses) and, as the outside
peer, Optuna's TPESampler with its SuccessiveHalvingPruner on the same space and
budget. The task: a one-hidden-layer MLP (numpy, written for this benchmark) on
scikit-learn's bundled digits, trained on 600 images and validated on the other
1,197, up to 81 epochs (rungs at 1, 3, 9 and 27 with eta = 3). Each run spends a
fixed epoch budget with two trials at a time, as ``max_parallel: 2`` would: two
simulated workers, the one that has spent fewer epochs trains next, so results
do not depend on the machine's load.

Reported per strategy over the seeds: the median cumulative epochs (and the run's
wall and CPU seconds) until some trial first reaches the target validation
accuracy, and the median best accuracy at the end of the budget. The target is
the 90th percentile of the best accuracies of every fully trained random-search
trial in the same benchmark (all seeds: the long random search).

Trials run in-process, not as processes on the local executor: a full trial
trains in ~0.1 s and most pruned ones in ~1 ms, far less than starting a Python
process, so processes would measure start-up instead of search. The (strategy,
seed) runs are spread over ``--jobs`` processes; each run is deterministic.

    .venv/bin/python bench/search_efficiency.py [--seeds 20] [--first-seed 0]
        [--budget 2430] [--quick] [--jobs 2] [--plot docs/search_efficiency.png]
        [--strategies asha+tpe,optuna] [--random-start N] [--optuna-random-start 10]
        [--ranking 300] [--epoch-cost]

The random-start study of docs/PERFORMANCE.md is ``--strategies asha+tpe
--random-start N`` over ``--first-seed 0`` and ``--first-seed 20`` (random always runs:
it sets the target). ``--ranking N`` trains N random trials to the full 81 epochs and
prints how their accuracy at epochs 1, 3 and 9 ranks them against their best (Spearman)
and at which epoch those reaching the target first do; ``--epoch-cost`` times one epoch
of this MLP against scikit-learn's ``MLPClassifier.partial_fit`` + ``score``.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine.experiment import default_random_start
from app.engine.params import flatten
from app.engine.schedulers import Decision, SchedulerConfig, SchedulerName, make_scheduler
from app.engine.search import Algorithm, Goal, make_searcher
from app.engine.space import space_from_dict
from app.engine.trial import TrialState

MAX_EPOCHS = 81  # rungs at 1, 3, 9, 27 with eta = 3
WORKERS = 2
OPTUNA_INITIAL_RANDOM = 10  # TPESampler's default n_startup_trials
TRAIN = 600  # of the 1,797 digits; the rest validate
SPACE = {"version": 1, "space": [
    {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
        {"name": "sgd", "type": "group", "children": [
            {"name": "learning_rate", "type": "number", "auto": True,
             "distribution": "loguniform", "min": 1e-4, "max": 0.3, "default": 0.01},
            {"name": "momentum", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.5, "max": 0.99, "default": 0.9}]},
        {"name": "adam", "type": "group", "children": [
            {"name": "learning_rate", "type": "number", "auto": True,
             "distribution": "loguniform", "min": 1e-5, "max": 1e-2, "default": 1e-3},
            {"name": "beta_1", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.8, "max": 0.99, "default": 0.9}]}]},
    {"name": "units", "type": "number", "integer": True, "auto": True,
     "distribution": "quniform", "min": 8, "max": 64, "step": 8, "default": 32},
    {"name": "alpha", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-6, "max": 1e-1, "default": 1e-4},
    {"name": "batch_size", "type": "choice", "auto": True, "values": [16, 32, 64, 128],
     "default": 32},
]}


class Data:
    """The digits split once (seeded): 600 to train, 1,197 to validate."""

    def __init__(self) -> None:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(y))
        x = (x / 16.0).astype(np.float32)
        self.xt, self.yt = x[order[:TRAIN]], y[order[:TRAIN]]
        self.xv, self.yv = x[order[TRAIN:]], y[order[TRAIN:]]
        self.onehot = np.eye(10, dtype=np.float32)[self.yt]


class Trial:
    """A one-hidden-layer ReLU MLP with softmax, trained an epoch at a time.

    SGD with momentum or Adam, L2 penalty ``alpha``, shuffled minibatches; all
    randomness from ``seed``.
    """

    def __init__(self, data: Data, params: dict[str, Any], seed: int) -> None:
        flat = flatten(params)
        units = int(flat["units"])
        rng = np.random.default_rng(seed)
        self.weights = [
            (rng.standard_normal((64, units)) * math.sqrt(2 / 64)).astype(np.float32),
            np.zeros(units, np.float32),
            (rng.standard_normal((units, 10)) * math.sqrt(1 / units)).astype(np.float32),
            np.zeros(10, np.float32),
        ]
        self.first = [np.zeros_like(w) for w in self.weights]
        self.second = [np.zeros_like(w) for w in self.weights]
        self.adam = flat["optimizer"] == "adam"
        self.lr = float(flat["optimizer.learning_rate"])
        self.beta = float(flat["optimizer.beta_1" if self.adam else "optimizer.momentum"])
        self.alpha = float(flat["alpha"])
        self.batch = int(flat["batch_size"])
        self.rng = rng
        self.data = data
        self.updates = 0
        self.epoch = 0

    def step(self) -> float:
        """Train one epoch; the validation accuracy after it."""
        d = self.data
        w1, b1, w2, b2 = self.weights
        order = self.rng.permutation(len(d.yt))
        for start in range(0, len(order), self.batch):
            rows = order[start:start + self.batch]
            x, target = d.xt[rows], d.onehot[rows]
            hidden = np.maximum(x @ w1 + b1, 0)
            logits = hidden @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            delta = (prob - target) / len(rows)
            back = (delta @ w2.T) * (hidden > 0)
            grads = [x.T @ back + self.alpha * w1, back.sum(axis=0),
                     hidden.T @ delta + self.alpha * w2, delta.sum(axis=0)]
            self._update(grads)
        self.epoch += 1
        hidden = np.maximum(d.xv @ w1 + b1, 0)
        return float(np.mean((hidden @ w2 + b2).argmax(axis=1) == d.yv))

    def _update(self, grads: list[np.ndarray]) -> None:
        self.updates += 1
        if not self.adam:
            for w, m, g in zip(self.weights, self.first, grads, strict=True):
                m *= self.beta
                m -= self.lr * g
                w += m
            return
        c1 = 1 - self.beta**self.updates
        c2 = 1 - 0.999**self.updates
        for w, m, v, g in zip(self.weights, self.first, self.second, grads, strict=True):
            m *= self.beta
            m += (1 - self.beta) * g
            v *= 0.999
            v += 0.001 * g * g
            w -= self.lr * (m / c1) / (np.sqrt(v / c2) + 1e-8)


class Strategy(Protocol):
    """What to try and when to stop, driven ask/report/end by :func:`run_once`."""

    def ask(self) -> tuple[Any, dict[str, Any]]: ...
    def report(self, handle: Any, step: int, value: float) -> Decision: ...
    def end(self, handle: Any, value: float, pruned: bool) -> None: ...


class Ours:
    """Sweeplab's searcher + scheduler, told exactly what the runner tells them.

    TPE's random start is the engine's default for the scheduler (20 alone, 5
    under early stopping), as an experiment file that does not set it gets, unless
    ``random_start`` says otherwise.
    """

    def __init__(self, algorithm: Algorithm, scheduler: SchedulerName, seed: int,
                 random_start: int | None = None) -> None:
        start = default_random_start(scheduler) if random_start is None else random_start
        self.searcher = make_searcher(algorithm, space_from_dict(SPACE), Goal.MAX, seed,
                                      initial_random=start)
        self.scheduler = make_scheduler(SchedulerConfig(scheduler), Goal.MAX, MAX_EPOCHS, seed)
        self.number = 0

    def ask(self) -> tuple[Any, dict[str, Any]]:
        self.number += 1
        params = self.searcher.suggest(self.number)
        if params is None:
            raise RuntimeError("the searcher ran out of suggestions")
        return self.number, params

    def report(self, handle: Any, step: int, value: float) -> Decision:
        return self.scheduler.on_result(handle, step, value)

    def end(self, handle: Any, value: float, pruned: bool) -> None:
        self.scheduler.on_complete(handle, value)
        state = TrialState.PRUNED if pruned else TrialState.COMPLETED
        self.searcher.on_trial_complete(handle, value, state)


class OptunaPeer:
    """Optuna's TPESampler with SuccessiveHalvingPruner, ask/tell, on the same space."""

    def __init__(self, seed: int, random_start: int = OPTUNA_INITIAL_RANDOM) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=random_start),
            pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        branch: dict[str, Any] = {"_name": optimizer}
        if optimizer == "sgd":
            branch["learning_rate"] = trial.suggest_float("sgd_lr", 1e-4, 0.3, log=True)
            branch["momentum"] = trial.suggest_float("sgd_momentum", 0.5, 0.99)
        else:
            branch["learning_rate"] = trial.suggest_float("adam_lr", 1e-5, 1e-2, log=True)
            branch["beta_1"] = trial.suggest_float("adam_beta_1", 0.8, 0.99)
        params = {
            "optimizer": branch,
            "units": trial.suggest_int("units", 8, 64, step=8),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
        }
        return trial, params

    def report(self, handle: Any, step: int, value: float) -> Decision:
        handle.report(value, step)
        return Decision.STOP if handle.should_prune() else Decision.CONTINUE

    def end(self, handle: Any, value: float, pruned: bool) -> None:
        if pruned:
            self.study.tell(handle, state=self.optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(handle, value)


STRATEGIES: dict[str, tuple[str, str, str]] = {  # name: (RESULT key, label, plot colour)
    "random": ("random", "random", "#555555"),
    "tpe": ("tpe", "TPE", "#e69f00"),
    "asha+random": ("asha_random", "ASHA + random", "#009e73"),
    "asha+tpe": ("asha_tpe", "ASHA + TPE", "#0072b2"),
    "hyperband+random": ("hyperband_random", "Hyperband + random", "#8e44ad"),
    "optuna": ("optuna", "Optuna TPE + successive halving", "#d55e00"),
}


@dataclass(frozen=True)
class Starts:
    """The random start of each TPE: None for Sweeplab's default by scheduler."""

    ours: int | None = None
    optuna: int = OPTUNA_INITIAL_RANDOM


def make_strategy(name: str, seed: int, starts: Starts = Starts()) -> Strategy:
    """The strategy called ``name`` (a key of STRATEGIES) for one seed."""
    if name == "optuna":
        return OptunaPeer(seed, starts.optuna)
    scheduler, _, searcher = name.partition("+")  # "asha+tpe", or a searcher alone
    if not searcher:
        scheduler, searcher = "fifo", scheduler
    return Ours(Algorithm(searcher), SchedulerName(scheduler), seed, starts.ours)


@dataclass
class Run:
    """What one strategy did with one seed, after every epoch of the budget."""

    best: np.ndarray  # best accuracy so far
    wall: np.ndarray  # seconds since the run started
    cpu: np.ndarray  # CPU seconds of this process since the run started
    finals: list[float]  # each fully trained trial's best accuracy
    trials: int

    def reached(self, target: float) -> tuple[float, float, float]:
        """(cumulative epochs, wall s, CPU s) when some trial first reached ``target``.

        All three are infinite when no trial reached it within the budget.
        """
        hits = np.flatnonzero(self.best >= target)
        if not hits.size:
            return math.inf, math.inf, math.inf
        first = int(hits[0])
        return first + 1.0, float(self.wall[first]), float(self.cpu[first])


_DATA: Data | None = None


def run_once(name: str, seed: int, budget: int, starts: Starts = Starts()) -> Run:
    """Spend ``budget`` epochs of strategy ``name`` on two simulated workers."""
    global _DATA
    if _DATA is None:
        _DATA = Data()
    with threadpool_limits(1):  # tiny matrices: more BLAS threads only contend
        return _spend(make_strategy(name, seed, starts), _DATA, seed, budget)


def _spend(strategy: Strategy, data: Data, seed: int, budget: int) -> Run:
    best, wall, cpu = np.zeros(budget), np.zeros(budget), np.zeros(budget)
    finals: list[float] = []
    workers: list[tuple[Any, Trial, float] | None] = [None] * WORKERS
    clocks = [0] * WORKERS
    so_far = 0.0
    count = 0
    started, started_cpu = time.perf_counter(), time.process_time()
    for used in range(budget):
        for w in range(WORKERS):
            if workers[w] is None:
                handle, params = strategy.ask()
                count += 1
                workers[w] = (handle, Trial(data, params, seed * 100_000 + count), 0.0)
        w = min(range(WORKERS), key=lambda i: clocks[i])
        slot = workers[w]
        if slot is None:
            raise RuntimeError("a worker without a trial")
        handle, trial, trial_best = slot
        accuracy = trial.step()
        clocks[w] += 1
        trial_best = max(trial_best, accuracy)
        so_far = max(so_far, accuracy)
        decision = strategy.report(handle, trial.epoch, accuracy)
        workers[w] = (handle, trial, trial_best)
        if trial.epoch >= MAX_EPOCHS or decision is Decision.STOP:
            pruned = trial.epoch < MAX_EPOCHS
            strategy.end(handle, accuracy, pruned)
            if not pruned:
                finals.append(trial_best)
            workers[w] = None
        best[used] = so_far
        wall[used] = time.perf_counter() - started
        cpu[used] = time.process_time() - started_cpu
    return Run(best, wall, cpu, finals, count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=30 * MAX_EPOCHS, help="epochs per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (processes)")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 seeds, {6 * MAX_EPOCHS} epochs: a smoke run")
    parser.add_argument("--plot", type=Path, help="write best-so-far curves to this PNG")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed .. first-seed + seeds - 1 (default 0)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="comma-separated subset of: " + ", ".join(STRATEGIES)
                             + " (random always runs: it sets the target)")
    parser.add_argument("--random-start", type=int, default=None, metavar="N",
                        help="random trials before Sweeplab's TPE models (default: the "
                             "engine's, 20 alone and 5 under early stopping)")
    parser.add_argument("--optuna-random-start", type=int, default=OPTUNA_INITIAL_RANDOM,
                        metavar="N", help="Optuna TPESampler's n_startup_trials "
                                          f"(default {OPTUNA_INITIAL_RANDOM}, its own)")
    parser.add_argument("--ranking", type=int, default=0, metavar="N",
                        help="also train N random trials fully: Spearman of epochs 1/3/9 "
                             "against their best, the epoch they reach the target")
    parser.add_argument("--epoch-cost", action="store_true",
                        help="also time one epoch against scikit-learn's MLPClassifier")
    args = parser.parse_args(argv)
    seeds, budget = (2, 6 * MAX_EPOCHS) if args.quick else (args.seeds, args.budget)
    if seeds < 1 or budget < MAX_EPOCHS or args.jobs < 1:
        parser.error(f"--seeds and --jobs must be >= 1 and --budget >= {MAX_EPOCHS}")
    if args.first_seed < 0 or args.ranking < 0:
        parser.error("--first-seed and --ranking must be >= 0")
    for start in (args.random_start, args.optuna_random_start):
        if start is not None and start < 1:
            parser.error(f"a random start must be >= 1 trial, got {start}")
    chosen = [name.strip() for name in args.strategies.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(STRATEGIES))
    if unknown:
        parser.error(f"--strategies: unknown {', '.join(unknown)}; known: "
                     + ", ".join(STRATEGIES))
    names = [name for name in STRATEGIES if name == "random" or name in chosen]
    starts = Starts(args.random_start, args.optuna_random_start)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)

    started, started_cpu = time.perf_counter(), time.process_time()
    seed_list = range(args.first_seed, args.first_seed + seeds)
    jobs = [(name, seed) for seed in seed_list for name in names]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        futures = {job: pool.submit(run_once, *job, budget, starts) for job in jobs}
        results = {name: [futures[name, s].result() for s in seed_list] for name in names}
    elapsed = time.perf_counter() - started
    cpu_total = (time.process_time() - started_cpu
                 + sum(float(r.cpu[-1]) for runs in results.values() for r in runs))

    finals = [a for r in results["random"] for a in r.finals]
    target = float(np.percentile(finals, 90))
    print(f"digits MLP ({TRAIN} train / {1797 - TRAIN} validation), {seeds} seeds "
          f"({seed_list.start}-{seed_list.stop - 1}), {budget} "
          f"epochs per run, max {MAX_EPOCHS} epochs per trial, {WORKERS} workers; target "
          f"val_acc {target:.4f} (90th percentile of {len(finals)} fully trained random "
          f"trials); {elapsed:.0f} s wall, {cpu_total:.0f} s CPU, {args.jobs} jobs; TPE "
          f"random start {'default' if starts.ours is None else starts.ours}, Optuna's "
          f"{starts.optuna}")
    print(f"{'strategy':18} {'reached':>8} {'epochs':>7} {'wall s':>7} {'cpu s':>7} "
          f"{'trials':>7} {'best acc':>9} {'vs random':>10}")
    medians: dict[str, float] = {}
    for name, runs in results.items():
        # a run that never reached the target counts as more than its whole budget
        epochs, walls, cpus = zip(*(r.reached(target) for r in runs), strict=True)
        medians[name] = statistics.median(epochs)
        print(f"{name:18} {sum(map(math.isfinite, epochs)):>5}/{seeds:<2} "
              f"{_num(medians[name], 0):>7} {_num(statistics.median(walls), 2):>7} "
              f"{_num(statistics.median(cpus), 2):>7} "
              f"{statistics.median(r.trials for r in runs):>7.0f} "
              f"{statistics.median(float(r.best[-1]) for r in runs):9.4f} "
              f"{_ratio(medians['random'], medians[name]):>10}")
    figures = " ".join(f"{STRATEGIES[n][0]}_epochs={_num(v, 1)}" for n, v in medians.items())
    ratios = ""
    if "asha+tpe" in medians:
        ratios += f" asha_tpe_speedup={_ratio(medians['random'], medians['asha+tpe'])}"
        if "optuna" in medians:
            ratios += f" asha_tpe_vs_optuna={_ratio(medians['optuna'], medians['asha+tpe'])}"
    start_keys = (f"first_seed={seed_list.start} random_start="
                  f"{'default' if starts.ours is None else starts.ours} "
                  f"optuna_random_start={starts.optuna}")
    if args.ranking:
        ranking(args.ranking, target)
    if args.epoch_cost:
        epoch_cost()
    print(f"RESULT seeds={seeds} {start_keys} budget={budget} target={target:.4f} "
          f"{figures}{ratios}")
    if args.plot:
        plot(results, args.plot, target)
    return 0


def ranking(trials: int, target: float) -> None:
    """Train ``trials`` random configurations (seeds 0..) for all 81 epochs: how well the
    accuracy at epochs 1, 3 and 9 ranks them against their best (Spearman), and at which
    epoch of its own each one that reaches ``target`` first does."""
    data = Data()
    searcher = make_searcher(Algorithm.RANDOM, space_from_dict(SPACE), Goal.MAX, 0)
    curves = np.zeros((trials, MAX_EPOCHS))
    with threadpool_limits(1):
        for number in range(1, trials + 1):
            params = searcher.suggest(number)
            if params is None:
                raise RuntimeError("the random searcher ran out of suggestions")
            trial = Trial(data, params, number)
            for epoch in range(MAX_EPOCHS):
                curves[number - 1, epoch] = trial.step()
    best = curves.max(axis=1)
    rho = {epoch: _spearman(curves[:, epoch - 1], best) for epoch in (1, 3, 9)}
    reached = [int(np.flatnonzero(row >= target)[0]) + 1 for row in curves
               if row.max() >= target]
    span = (f"epochs {min(reached)}-{max(reached)}, median {statistics.median(reached):g}"
            if reached else "none")
    print(f"ranking: {trials} random trials x {MAX_EPOCHS} epochs; Spearman against the "
          f"trial's best: epoch 1 {rho[1]:.2f}, 3 {rho[3]:.2f}, 9 {rho[9]:.2f}; "
          f"{len(reached)} reach the target at {span}")
    print(f"RESULT ranking_trials={trials} spearman_1={rho[1]:.2f} spearman_3={rho[3]:.2f} "
          f"spearman_9={rho[9]:.2f} reaching={len(reached)} "
          f"target_epoch_min={min(reached, default=0)} "
          f"target_epoch_median={statistics.median(reached) if reached else 0:g} "
          f"target_epoch_max={max(reached, default=0)}")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def epoch_cost(epochs: int = 30) -> None:
    """CPU ms per epoch (train + validate) of this MLP and of scikit-learn's
    ``MLPClassifier.partial_fit`` + ``score`` on the same data, 32 units, batch 32."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    data = Data()
    params = {"optimizer": {"_name": "adam", "learning_rate": 1e-3, "beta_1": 0.9},
              "units": 32, "alpha": 1e-4, "batch_size": 32}
    with threadpool_limits(1):
        trial = Trial(data, params, 1)
        trial.step()  # warm
        started = time.process_time()
        for _ in range(epochs):
            trial.step()
        ours = (time.process_time() - started) / epochs * 1000
        model = MLPClassifier(hidden_layer_sizes=(32,), batch_size=32, alpha=1e-4,
                              learning_rate_init=1e-3, random_state=1)
        classes = np.unique(data.yt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(data.xt, data.yt, classes=classes)
            started = time.process_time()
            for _ in range(epochs):
                model.partial_fit(data.xt, data.yt)
                model.score(data.xv, data.yv)
        theirs = (time.process_time() - started) / epochs * 1000
    print(f"epoch cost (CPU, {epochs} epochs, 32 units, batch 32): this MLP {ours:.2f} ms, "
          f"scikit-learn MLPClassifier {theirs:.2f} ms")
    print(f"RESULT epoch_ms={ours:.2f} sklearn_epoch_ms={theirs:.2f}")


def _num(value: float, digits: int) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def _ratio(baseline: float, value: float) -> str:
    """How many times fewer epochs than the baseline ("inf"/"nan" when unreached)."""
    if math.isinf(value):
        return "nan" if math.isinf(baseline) else "0.00"
    return "inf" if math.isinf(baseline) else f"{baseline / value:.2f}"


def plot(results: dict[str, list[Run]], path: Path, target: float) -> None:
    """Median best-so-far accuracy against cumulative epochs (log), one line per strategy."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    import pyqtgraph.exporters

    app = pg.mkQApp()
    widget = pg.PlotWidget(background="w")
    widget.resize(900, 560)
    widget.addLegend(offset=(-10, -10))
    widget.setLogMode(x=True)
    widget.setLabel("bottom", "cumulative epochs (log scale)")
    widget.setLabel("left", "best validation accuracy so far (median over seeds)")
    dashed = pg.QtCore.Qt.PenStyle.DashLine
    for name, runs in results.items():
        ys = np.median(np.array([r.best for r in runs]), axis=0)
        xs = np.arange(1, len(ys) + 1)
        _, label, colour = STRATEGIES[name]
        style = dashed if name in ("tpe", "asha+tpe") else pg.QtCore.Qt.PenStyle.SolidLine
        widget.plot(xs, ys, pen=pg.mkPen(colour, width=2.5, style=style), name=label)
    widget.addLine(y=target, pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DotLine))
    widget.setXRange(0, math.log10(len(ys)), padding=0.02)  # log10 units in log mode
    widget.getAxis("left").enableAutoSIPrefix(False)
    widget.setYRange(max(0.5, target - 0.12), min(1.0, target + 0.015), padding=0)
    widget.setTitle(f"target {target:.4f} (dotted): 90th percentile of long random search")
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = pyqtgraph.exporters.ImageExporter(widget.plotItem)
    exporter.parameters()["width"] = 1000
    exporter.export(str(path))


if __name__ == "__main__":
    sys.exit(main())
