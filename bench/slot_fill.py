"""Slot-fill latency: from a trial's end to the next trial's start, with TPE at 1,000
and 2,000 finished trials, against Optuna's ask at the same history, in one run.

Run from the repository root::

    .venv/bin/python bench/slot_fill.py                # sizes 1000 2000, 8 trials each
    .venv/bin/python bench/slot_fill.py --quick        # smoke run: sizes 20 50, 3 trials
    .venv/bin/python bench/slot_fill.py --sizes 1000 --trials 12 --seconds 1.5

For each history size N, the real :class:`~app.engine.runner.Runner` runs ``--trials``
trials one at a time (max parallel 1) on the real local executor and a SQLite store;
each trial sleeps ``--seconds`` and reports a random loss. Its TPE searcher (seed
``--seed``, the space of ``bench/suggest.py``) is first told the same N completed
trials that ``bench/suggest.py`` draws. The runner runs twice:

- ``ahead``: as shipped: the next suggestion is drawn while the trials run
  (:mod:`app.engine.search.ahead`);
- ``sync``: the same searcher behind a wrapper that cannot draw ahead, so each
  suggestion is drawn when the slot frees (Sweeplab before suggest-ahead).

Slot fill is timed inside the runner's process by a thin wrapper around the local
executor: from the moment ``poll`` hands the runner the trial's EXITED event (the
runner learns the trial ended) to the moment the runner calls ``submit`` for the next
trial (the next trial starts: stored QUEUED, handed to the executor). It is what the
searcher, the store write of the new trial and the runner's own work cost; the
executor's process start after ``submit`` is the same in both modes and is measured
by ``bench/dispatch.py``. The first trial of a run has no predecessor and is not
counted. Optuna: the median of ``--trials`` asks (``study.ask()`` plus the
define-by-run ``suggest_*`` calls) after the same N trials, as ``bench/suggest.py``
times them. Goal: the median slot fill with suggest-ahead <= 10 % of Optuna's ask.

The last line printed is machine-readable, milliseconds::

    RESULT ahead_ms_1000=.. sync_ms_1000=.. optuna_ask_ms_1000=.. ahead_vs_optuna_1000=..
           ahead_max_ms_1000=.. ahead_end_ms_1000=.. ahead_searcher_ms_1000=..
           ahead_store_ms_1000=.. ended_store_ms_1000=.. ...
           (one line; the same for each size)

A fill with suggest-ahead is, in order, timed by subclasses (medians):
``ahead_end_ms``, the runner's handling of the trial's end, from the EXITED event to
the searcher being asked for the next trial (its last output read, the scheduler and
the searcher told, the run's failure check: nothing is stored there);
``ahead_searcher_ms``, the searcher's own part, the hand-out of the point drawn ahead
(``accept``); ``ahead_store_ms``, the store's write of the new trial
(``create_trial``), on a loaded machine most of a fill. What is left is picking the
executor and building the trial's spec. Off the path, after the next trial is
submitted: ``ended_store_ms``, the one transaction that stores the ended trial (its
last output and its end, ``end_trial``).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (REPO_ROOT, REPO_ROOT / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import optuna  # noqa: E402
from suggest import SPACE_DOCUMENT, history, time_optuna  # noqa: E402

from app.engine.experiment import experiment_from_dict  # noqa: E402
from app.engine.ports import Executor  # noqa: E402
from app.engine.records import (  # noqa: E402
    MetricPoint,
    ProcessEvent,
    ProcessEventKind,
    TrialRecord,
    TrialSpec,
)
from app.engine.runner import Runner  # noqa: E402
from app.engine.search import Algorithm, Goal, HyperoptSearcher, Searcher  # noqa: E402
from app.engine.space import Space, space_from_dict  # noqa: E402
from app.engine.trial import EarlyStopping, TrialState  # noqa: E402
from app.remote.local import LocalExecutor  # noqa: E402
from app.remote.snapshot import take_snapshot  # noqa: E402
from app.store.store import Store  # noqa: E402
from devtools.passing_on import PassingOn  # noqa: E402

DEFAULT_SIZES = (1000, 2000)
DEFAULT_TRIALS = 8
DEFAULT_SECONDS = 1.0
QUICK_SIZES = (20, 50)
QUICK_TRIALS = 3
QUICK_SECONDS = 0.3
HISTORY_IDS = 1_000_000
"""The searcher's ids of the history trials: far above the run's own trial numbers."""
MODES = ("ahead", "sync")
GOAL = 0.10

TRIAL = ("import random, time; time.sleep({seconds}); "
         "print('#sweeplab {{\"metric\": \"loss\", \"value\": %r}}' % random.random())")


class TimedExecutor(PassingOn):
    """The local executor, with the runner's view of each trial's end and start timed."""

    def __init__(self, inner: LocalExecutor) -> None:
        super().__init__(inner)
        self.ended: list[float] = []
        """When the runner was handed each EXITED event (perf_counter)."""
        self.submitted: list[float] = []
        """When the runner submitted each trial (perf_counter)."""

    def submit(self, spec: TrialSpec) -> None:
        self.submitted.append(time.perf_counter())
        super().submit(spec)

    def poll(self, timeout: float) -> list[ProcessEvent]:
        events = super().poll(timeout)
        seen = time.perf_counter()
        self.ended.extend(seen for event in events if event.kind is ProcessEventKind.EXITED)
        return events

    def fills(self) -> list[float]:
        """Milliseconds from each trial's end to the next one's submission."""
        return [(start - end) * 1000.0 for end, start in zip(self.ended, self.submitted[1:],
                                                              strict=False)]


class TimedStore(Store):
    """The store, with the time of each new trial's write kept (part of each fill)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.creates: list[float] = []
        """Milliseconds of each ``create_trial``."""
        self.ends: list[float] = []
        """Milliseconds of each ``end_trial`` (off the path: after the next start)."""

    def end_trial(self, trial_id: int, fields: Mapping[str, object],
                  points: Sequence[MetricPoint] = (), log: str | None = None) -> TrialRecord:
        start = time.perf_counter()
        try:
            return super().end_trial(trial_id, fields, points, log)
        finally:
            self.ends.append((time.perf_counter() - start) * 1000.0)

    def create_trial(self, experiment_id: int, params: dict[str, Any],
                     state: TrialState = TrialState.QUEUED, *,
                     rerun_of: int | None = None,
                     early_stopping: EarlyStopping = EarlyStopping.SCHEDULED) -> TrialRecord:
        start = time.perf_counter()
        try:
            return super().create_trial(experiment_id, params, state, rerun_of=rerun_of,
                                        early_stopping=early_stopping)
        finally:
            self.creates.append((time.perf_counter() - start) * 1000.0)


class Synchronous:
    """The searcher without ``propose``/``accept``: the runner cannot draw ahead."""

    def __init__(self, inner: Searcher) -> None:
        self._inner = inner

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        return self._inner.suggest(trial_id)

    def on_trial_complete(self, trial_id: int, value: float | None, state: TrialState) -> None:
        self._inner.on_trial_complete(trial_id, value, state)

    def restore(self, trial_id: int, params: dict[str, Any], value: float | None,
                state: TrialState) -> None:
        self._inner.restore(trial_id, params, value, state)


class TimedTPE(HyperoptSearcher):
    """Sweeplab's TPE, with the time of each hand-out of a point drawn ahead kept
    (``accept``: the searcher's whole part of a fill with suggest-ahead)."""

    def __init__(self, space: Space, seed: int) -> None:
        super().__init__(space, Algorithm.TPE, Goal.MIN, seed=seed)
        self.accepts: list[float] = []
        """Milliseconds of each ``accept``."""
        self.asked: list[float] = []
        """When each ``accept`` began (perf_counter)."""

    def accept(self, trial_id: int, raw: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        self.asked.append(start)
        try:
            return super().accept(trial_id, raw)
        finally:
            self.accepts.append((time.perf_counter() - start) * 1000.0)


def warmed(space: Space, points: Sequence[tuple[dict[str, Any], float]], seed: int
           ) -> TimedTPE:
    """Sweeplab's TPE told ``points`` as completed trials."""
    searcher = TimedTPE(space, seed)
    for offset, (params, value) in enumerate(points):
        searcher.restore(HISTORY_IDS + offset, params, value, TrialState.COMPLETED)
    return searcher


@dataclass(frozen=True)
class Run:
    """One runner's fills and their parts, in ms (see the module's text)."""

    fills: list[float]
    ends: list[float]
    """The runner's handling of each ended trial before the searcher is asked (only
    with suggest-ahead: empty otherwise)."""
    creates: list[float]
    ended_stores: list[float]


def run_once(root: Path, searcher: Searcher, trials: int, seconds: float) -> Run:
    """One runner of ``trials`` trials: its slot fills and their parts."""
    code = root / "code"
    code.mkdir(parents=True)
    command = (shlex.quote(sys.executable) + " -S -c "
               + shlex.quote(TRIAL.format(seconds=seconds)))
    config = experiment_from_dict({
        "version": 1, "name": "slot-fill", "code_dir": str(code),
        "command": command.replace("{", "{{").replace("}", "}}"),
        "kpi": {"name": "loss", "goal": "min"}, "algorithm": {"name": "tpe"},
        "space": SPACE_DOCUMENT, "limits": {"max_trials": trials, "max_parallel": 1},
    }, code)
    store = TimedStore(f"sqlite:///{root / 'bench.db'}")
    with store:
        experiment = store.create_experiment(config.name, config.to_dict())
        snapshot = take_snapshot(code, root / "snapshots")
        executor = TimedExecutor(LocalExecutor(root / "trials", gpus=[], cpu_slots=1))
        timed: Executor = executor
        runner = Runner(store, experiment.id, config, [timed], searcher, snapshot)
        try:
            runner.run()
        finally:
            executor.close()
        done = store.list_trials(experiment.id)
        bad = [t for t in done if t.state is not TrialState.COMPLETED]
        if len(done) != trials or bad:
            log = "\n".join(e.message for e in store.list_events(experiment.id))
            raise SystemExit(f"slot fill: {len(done)} trials, {len(bad)} not completed\n{log}")
    asked = searcher.asked[1:] if isinstance(searcher, TimedTPE) else []
    ends = [(ask - end) * 1000.0 for end, ask in zip(executor.ended, asked, strict=False)]
    return Run(executor.fills(), ends, store.creates[1:], store.ends)


@dataclass(frozen=True)
class Row:
    """One history size: slot fills in both modes, Optuna's asks, in ms."""

    size: int
    fills: dict[str, list[float]]
    stores: dict[str, list[float]]
    accepts: list[float]
    optuna: list[float]
    ends: list[float]
    """With suggest-ahead: the runner's handling of each end before the searcher."""
    ended_stores: list[float]
    """With suggest-ahead: each ended trial's transaction (off the path)."""

    def median(self, mode: str) -> float:
        return statistics.median(self.fills[mode])

    @property
    def optuna_median(self) -> float:
        return statistics.median(self.optuna)

    @property
    def ratio(self) -> float:
        return self.median("ahead") / self.optuna_median


def measure(size: int, points: Sequence[tuple[dict[str, Any], float]], trials: int,
            seconds: float, seed: int, workdir: Path) -> Row:
    """Both modes and Optuna at history ``size``."""
    space = space_from_dict(SPACE_DOCUMENT)
    fills: dict[str, list[float]] = {}
    stores: dict[str, list[float]] = {}
    accepts: list[float] = []
    ends: list[float] = []
    ended_stores: list[float] = []
    for mode in MODES:
        tpe = warmed(space, points[:size], seed)
        searcher: Searcher = Synchronous(tpe) if mode == "sync" else tpe
        run = run_once(workdir / f"{size}-{mode}", searcher, trials, seconds)
        fills[mode], stores[mode] = run.fills, run.creates
        if mode == "ahead":
            accepts, ends, ended_stores = tpe.accepts[1:], run.ends, run.ended_stores
    optuna_ms = [sample.wall for sample in time_optuna(points[:size], trials, seed)]
    return Row(size, fills, stores, accepts, optuna_ms, ends, ended_stores)


def result_line(rows: Sequence[Row]) -> str:
    """The machine-readable summary."""
    parts: list[str] = []
    for row in rows:
        n = row.size
        parts += [f"ahead_ms_{n}={row.median('ahead'):.2f}",
                  f"sync_ms_{n}={row.median('sync'):.2f}",
                  f"optuna_ask_ms_{n}={row.optuna_median:.2f}",
                  f"ahead_vs_optuna_{n}={row.ratio:.3f}",
                  f"ahead_max_ms_{n}={max(row.fills['ahead']):.2f}",
                  f"ahead_end_ms_{n}={statistics.median(row.ends):.3f}",
                  f"ahead_searcher_ms_{n}={statistics.median(row.accepts):.3f}",
                  f"ahead_store_ms_{n}={statistics.median(row.stores['ahead']):.2f}",
                  f"ended_store_ms_{n}={statistics.median(row.ended_stores):.2f}"]
    return "RESULT " + " ".join(parts)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides sizes, trials and seconds."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=_positive, nargs="+", default=list(DEFAULT_SIZES),
                        help="history sizes N (completed trials the searcher knows)")
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                        help="trials run per size and mode (>= 2: the first is not counted)")
    parser.add_argument("--seconds", type=_seconds, default=DEFAULT_SECONDS,
                        help="how long each trial runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of every searcher")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: sizes {QUICK_SIZES}, {QUICK_TRIALS} trials of "
                             f"{QUICK_SECONDS} s")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the stores and trial folders go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.trials, args.seconds = list(QUICK_SIZES), QUICK_TRIALS, QUICK_SECONDS
    if args.trials < 2:
        parser.error(f"--trials must be >= 2 (the first trial is not counted), "
                     f"got {args.trials}")
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir} is not a directory")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print a table and the RESULT line."""
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    points = history(space_from_dict(SPACE_DOCUMENT), max(args.sizes), args.seed)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = [measure(size, points, args.trials, args.seconds, args.seed, Path(tmp))
                for size in args.sizes]
    print(f"python {platform.python_version()}, optuna {optuna.__version__}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {args.trials} trials of "
          f"{args.seconds:g} s per size and mode, max parallel 1, seed {args.seed}")
    print(f"{'N':>6} {'ahead ms (median/max)':>22} {'end':>6} {'searcher':>9} "
          f"{'store':>6} {'ended store':>12} "
          f"{'sync ms (median/max)':>21} {'optuna ask ms':>14} {'ahead/optuna':>13}")
    for row in rows:
        ahead, sync = row.fills["ahead"], row.fills["sync"]
        print(f"{row.size:>6} {row.median('ahead'):>12.2f} / {max(ahead):>7.2f} "
              f"{statistics.median(row.ends):>6.3f} "
              f"{statistics.median(row.accepts):>9.3f} "
              f"{statistics.median(row.stores['ahead']):>6.2f} "
              f"{statistics.median(row.ended_stores):>12.2f} "
              f"{row.median('sync'):>11.2f} / {max(sync):>7.2f} "
              f"{row.optuna_median:>14.2f} {row.ratio:>13.3f}")
    met = all(row.ratio <= GOAL for row in rows)
    print(f"goal: slot fill <= {GOAL:.0%} of Optuna's ask: {'met' if met else 'NOT met'}")
    print(result_line(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
