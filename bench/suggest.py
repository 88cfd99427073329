"""How long one suggestion takes: hyperopt (through Sweeplab's searcher) vs Optuna.

Run from the repository root::

    .venv/bin/python bench/suggest.py                 # sizes 100 500 1000 2000, 15 repeats
    .venv/bin/python bench/suggest.py --quick         # smoke run: sizes 20 50, 3 repeats
    .venv/bin/python bench/suggest.py --sizes 100 300 --repeats 30 --seed 7

For each history size N every searcher is warmed with the same N completed
trials: random points drawn once by Sweeplab's RANDOM searcher over the space
below, each with a synthetic objective value. Sweeplab's hyperopt searchers get
them through ``restore()``; Optuna gets them through ``study.add_trials`` of
``optuna.trial.create_trial`` (no sampling, exactly N completed trials).

Then ``--repeats`` single suggestions are timed with ``time.perf_counter`` (and
``time.process_time``, which a busy machine disturbs less) around the suggestion
only: Sweeplab's ``suggest()``; Optuna's ``study.ask()`` plus the define-by-run
``suggest_*`` calls, since Optuna samples a point only when it is asked for. Each
is then told its objective value outside the timer, so the history grows by one
per repeat (N, N+1, ..., N+repeats-1).

The last line printed is machine-readable, medians in milliseconds::

    RESULT tpe_ms_100=.. tpe_ms_500=.. ... optuna_ms_100=.. ... anneal_ms_..=..
           random_ms_..=.. tpe_vs_optuna_100=.. ... (one line)
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import hyperopt  # noqa: E402
import optuna  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from app.engine.search import Algorithm, Goal, make_searcher  # noqa: E402
from app.engine.space import Space, space_from_dict  # noqa: E402
from app.engine.trial import TrialState  # noqa: E402

T = TypeVar("T")

DEFAULT_SIZES = (100, 500, 1000, 2000)
DEFAULT_REPEATS = 15
QUICK_SIZES = (20, 50)
QUICK_REPEATS = 3

# Ten searched parameters are active in every trial: eight at the top level
# (optimizer included) and two under whichever optimizer branch is taken.
SPACE_DOCUMENT: dict[str, Any] = {
    "version": 1,
    "space": [
        {"name": "lr", "type": "number", "auto": True, "distribution": "loguniform",
         "min": 1e-5, "max": 1e-1, "default": 1e-3},
        {"name": "weight_decay", "type": "number", "auto": True, "distribution": "loguniform",
         "min": 1e-6, "max": 1e-2, "default": 1e-4},
        {"name": "batch_size", "type": "choice", "auto": True, "values": [16, 32, 64, 128],
         "default": 32},
        {"name": "dropout", "type": "number", "auto": True, "distribution": "quniform",
         "min": 0.0, "max": 0.5, "step": 0.05, "default": 0.1},
        {"name": "layers", "type": "number", "integer": True, "auto": True,
         "distribution": "quniform", "min": 1, "max": 8, "default": 2},
        {"name": "use_bn", "type": "boolean", "auto": True, "default": False},
        {"name": "activation", "type": "choice", "auto": True,
         "values": ["relu", "tanh", "gelu", "silu"], "default": "relu"},
        {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
            {"name": "sgd", "type": "group", "children": [
                {"name": "momentum", "type": "number", "auto": True, "distribution": "uniform",
                 "min": 0.0, "max": 0.99, "default": 0.9},
                {"name": "nesterov", "type": "boolean", "auto": True, "default": False},
            ]},
            {"name": "adam", "type": "group", "children": [
                {"name": "beta1", "type": "number", "auto": True, "distribution": "uniform",
                 "min": 0.8, "max": 0.99, "default": 0.9},
                {"name": "beta2", "type": "number", "auto": True, "distribution": "uniform",
                 "min": 0.9, "max": 0.9999, "default": 0.999},
            ]},
        ]},
    ],
}

HYPEROPT_ALGORITHMS = (Algorithm.TPE, Algorithm.ANNEAL, Algorithm.RANDOM)
OPTUNA = "optuna"
COLUMNS = ("tpe", OPTUNA, "anneal", "random")


def objective(params: dict[str, Any]) -> float:
    """A smooth synthetic loss over the space (lower is better)."""
    opt = params["optimizer"]
    branch = (1.0 - opt["momentum"]) + (0.2 if opt["nesterov"] else 0.3) \
        if opt["_name"] == "sgd" else (opt["beta1"] - 0.9) ** 2 * 10 + (0.999 - opt["beta2"])
    return float(
        (math.log10(params["lr"]) + 3.0) ** 2
        + 0.1 * (math.log10(params["weight_decay"]) + 4.0) ** 2
        + abs(math.log2(params["batch_size"]) - 5.0) * 0.1
        + (params["dropout"] - 0.2) ** 2
        + abs(params["layers"] - 4) * 0.05
        + (0.0 if params["use_bn"] else 0.1)
        + {"relu": 0.0, "gelu": -0.05}.get(params["activation"], 0.1)
        + branch
    )


def optuna_point(trial: optuna.Trial) -> dict[str, Any]:
    """The same space, define-by-run; returns Sweeplab's nested form of the point."""
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5, step=0.05),
        "layers": trial.suggest_int("layers", 1, 8),
        "use_bn": trial.suggest_categorical("use_bn", [False, True]),
        "activation": trial.suggest_categorical("activation", ["relu", "tanh", "gelu", "silu"]),
    }
    name = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    if name == "sgd":
        params["optimizer"] = {
            "_name": "sgd",
            "momentum": trial.suggest_float("sgd_momentum", 0.0, 0.99),
            "nesterov": trial.suggest_categorical("sgd_nesterov", [False, True]),
        }
    else:
        params["optimizer"] = {
            "_name": "adam",
            "beta1": trial.suggest_float("adam_beta1", 0.8, 0.99),
            "beta2": trial.suggest_float("adam_beta2", 0.9, 0.9999),
        }
    return params


def _optuna_distributions(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optuna's flat params and distributions for one nested point of the space."""
    dist = optuna.distributions
    flat = {k: v for k, v in params.items() if k != "optimizer"}
    dists: dict[str, Any] = {
        "lr": dist.FloatDistribution(1e-5, 1e-1, log=True),
        "weight_decay": dist.FloatDistribution(1e-6, 1e-2, log=True),
        "batch_size": dist.CategoricalDistribution([16, 32, 64, 128]),
        "dropout": dist.FloatDistribution(0.0, 0.5, step=0.05),
        "layers": dist.IntDistribution(1, 8),
        "use_bn": dist.CategoricalDistribution([False, True]),
        "activation": dist.CategoricalDistribution(["relu", "tanh", "gelu", "silu"]),
        "optimizer": dist.CategoricalDistribution(["sgd", "adam"]),
    }
    opt = params["optimizer"]
    flat["optimizer"] = opt["_name"]
    if opt["_name"] == "sgd":
        flat.update(sgd_momentum=opt["momentum"], sgd_nesterov=opt["nesterov"])
        dists["sgd_momentum"] = dist.FloatDistribution(0.0, 0.99)
        dists["sgd_nesterov"] = dist.CategoricalDistribution([False, True])
    else:
        flat.update(adam_beta1=opt["beta1"], adam_beta2=opt["beta2"])
        dists["adam_beta1"] = dist.FloatDistribution(0.8, 0.99)
        dists["adam_beta2"] = dist.FloatDistribution(0.9, 0.9999)
    return flat, dists


def history(space: Space, count: int, seed: int) -> list[tuple[dict[str, Any], float]]:
    """``count`` random points of ``space`` with their synthetic objective values."""
    searcher = make_searcher(Algorithm.RANDOM, space, Goal.MIN, seed=seed + 1)
    out: list[tuple[dict[str, Any], float]] = []
    for trial_id in range(count):
        params = searcher.suggest(trial_id)
        if params is None:  # pragma: no cover - random search never runs out
            raise RuntimeError("the random searcher ran out of points")
        out.append((params, objective(params)))
    return out


@dataclass(frozen=True)
class Sample:
    """One timed suggestion in milliseconds: wall clock and this process's CPU time."""

    wall: float
    cpu: float


def _timed(call: Callable[[], T]) -> tuple[T, Sample]:
    """Run ``call`` once under both clocks."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return out, Sample(wall * 1000.0, cpu * 1000.0)


def time_hyperopt(
    space: Space,
    algorithm: Algorithm,
    points: Sequence[tuple[dict[str, Any], float]],
    repeats: int,
    seed: int,
) -> list[Sample]:
    """Timings of ``suggest()`` of Sweeplab's hyperopt searcher after ``points``."""
    searcher = make_searcher(algorithm, space, Goal.MIN, seed=seed)
    for trial_id, (params, value) in enumerate(points):
        searcher.restore(trial_id, params, value, TrialState.COMPLETED)
    times: list[Sample] = []
    for offset in range(repeats):
        trial_id = len(points) + offset
        suggested, sample = _timed(functools.partial(searcher.suggest, trial_id))
        times.append(sample)
        searcher.on_trial_complete(trial_id, objective(_must(suggested)), TrialState.COMPLETED)
    return times


def time_optuna(
    points: Sequence[tuple[dict[str, Any], float]], repeats: int, seed: int
) -> list[Sample]:
    """Timings of ask-and-sample of Optuna's TPE after ``points``."""
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    frozen = []
    for params, value in points:
        flat, dists = _optuna_distributions(params)
        frozen.append(optuna.trial.create_trial(params=flat, distributions=dists, value=value))
    study.add_trials(frozen)
    if len(study.trials) != len(points):  # pragma: no cover - guards the warm-up itself
        raise RuntimeError(f"optuna holds {len(study.trials)} trials, expected {len(points)}")
    times: list[Sample] = []
    for _ in range(repeats):
        (trial, params), sample = _timed(functools.partial(_ask_point, study))
        times.append(sample)
        study.tell(trial, objective(params))
    return times


def _ask_point(study: optuna.Study) -> tuple[optuna.Trial, dict[str, Any]]:
    trial = study.ask()
    return trial, optuna_point(trial)


def _must(params: dict[str, Any] | None) -> dict[str, Any]:
    if params is None:  # pragma: no cover - hyperopt searchers never run out
        raise RuntimeError("the searcher ran out of points")
    return params


class Clock(Enum):
    """Which time a table shows."""

    WALL = "wall"
    CPU = "cpu"


@dataclass(frozen=True)
class Stats:
    """Median and 95th percentile of one algorithm at one history size, in ms."""

    median: float
    p95: float


def _stats(values: Sequence[float]) -> Stats:
    if len(values) == 1:
        return Stats(values[0], values[0])
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18]
    return Stats(statistics.median(values), p95)


@dataclass(frozen=True)
class Cell:
    """Wall-clock and CPU statistics of one algorithm at one history size."""

    wall: Stats
    cpu: Stats

    def of(self, clock: Clock) -> Stats:
        """The statistics for ``clock``."""
        return self.wall if clock is Clock.WALL else self.cpu


def summarise(samples: Sequence[Sample]) -> Cell:
    """Median and p95 (inclusive interpolation) of wall and CPU times."""
    if not samples:
        raise ValueError("no timings to summarise")
    return Cell(_stats([s.wall for s in samples]), _stats([s.cpu for s in samples]))


def run(sizes: Sequence[int], repeats: int, seed: int,
        progress: Callable[[str], None]) -> dict[int, dict[str, Cell]]:
    """Every algorithm at every size: ``{size: {column: Cell}}``."""
    space = space_from_dict(SPACE_DOCUMENT)
    points = history(space, max(sizes), seed)
    results: dict[int, dict[str, Cell]] = {}
    for size in sizes:
        row: dict[str, Cell] = {}
        for algorithm in HYPEROPT_ALGORITHMS:
            progress(f"N={size} hyperopt {algorithm.value}")
            gc.collect()
            row[algorithm.value] = summarise(
                time_hyperopt(space, algorithm, points[:size], repeats, seed)
            )
        progress(f"N={size} optuna tpe")
        gc.collect()
        row[OPTUNA] = summarise(time_optuna(points[:size], repeats, seed))
        results[size] = row
    return results


def _fmt(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def table(results: dict[int, dict[str, Cell]], repeats: int, clock: Clock) -> Table:
    """The results as a rich table: median / p95 ms per column, then the TPE ratio."""
    what = "wall-clock" if clock is Clock.WALL else "process CPU"
    out = Table(title=f"{what} ms per suggestion, median / p95 of {repeats} "
                      f"(history N completed)")
    out.add_column("N", justify="right")
    for column in COLUMNS:
        label = "optuna tpe" if column == OPTUNA else f"hyperopt {column}"
        out.add_column(label, justify="right")
    out.add_column("tpe / optuna", justify="right")
    for size, row in results.items():
        stats = {c: row[c].of(clock) for c in COLUMNS}
        cells = [f"{_fmt(stats[c].median)} / {_fmt(stats[c].p95)}" for c in COLUMNS]
        ratio = stats["tpe"].median / stats[OPTUNA].median
        out.add_row(str(size), *cells, f"{ratio:.2f}")
    return out


def result_line(results: dict[int, dict[str, Cell]]) -> str:
    """The machine-readable summary: wall-clock medians in ms and the TPE ratio per size."""
    parts = [
        f"{column}_ms_{size}={row[column].wall.median:.3f}"
        for column in COLUMNS
        for size, row in results.items()
    ]
    for size, row in results.items():
        ratio = row["tpe"].wall.median / row[OPTUNA].wall.median
        parts.append(f"tpe_vs_optuna_{size}={ratio:.3f}")
    return "RESULT " + " ".join(parts)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides sizes and repeats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=_positive, nargs="+", default=list(DEFAULT_SIZES),
                        help="history sizes N (completed trials before timing)")
    parser.add_argument("--repeats", type=_positive, default=DEFAULT_REPEATS,
                        help="timed suggestions per size and algorithm")
    parser.add_argument("--seed", type=int, default=0, help="seed of every searcher")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: sizes {QUICK_SIZES}, {QUICK_REPEATS} repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = list(QUICK_SIZES), QUICK_REPEATS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table and the RESULT line."""
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    console = Console(width=120, highlight=False)
    console.print(
        f"python {platform.python_version()}, {platform.machine()}, "
        f"hyperopt {hyperopt.__version__}, optuna {optuna.__version__}, "
        f"sizes {args.sizes}, repeats {args.repeats}, seed {args.seed}"
    )
    results = run(args.sizes, args.repeats, args.seed,
                  lambda msg: console.print(f"  timing {msg}", style="dim"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(table(results, args.repeats, Clock.WALL))
    console.print(table(results, args.repeats, Clock.CPU))
    console.print(f"{os.cpu_count()} CPUs, 1-minute load average at the end {load:.2f} "
                  "(wall-clock times suffer when the load exceeds the CPUs; CPU times less)")
    print(result_line(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
