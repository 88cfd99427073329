"""Population-based training against random search and ASHA + TPE, at the same total
epochs and the same parallelism, on a task where the schedule matters.

The task is ``examples/pbt_mlp``: a numpy MLP trained by plain SGD on seeded synthetic
data, whose best learning rate decays over training (a constant rate reaches about
0.80 validation accuracy in 24 epochs, a rate decaying from 1.0 about 0.84). Each
study runs through the real thing: an experiment stored in a SQLite file, the
:class:`~app.application.workspace.Workspace` (as ``sweeplab run`` drives it), its
runner and the local executor, every trial a Python process of the example script
that checkpoints through the SDK (and, under PBT, restores a donor's checkpoint).

Per seed and method, the same budget: ``population x epochs`` epochs (a trial's
reported ``val_acc`` is one epoch) with ``population`` trials at a time:

- ``pbt``: ``scheduler: pbt`` with that population, interval ``--interval``, the
  bottom quarter copying the top quarter, ``lr`` perturbed x0.8/x1.2 (resampled with
  probability 0.25), seeded by the seed;
- ``random``: random search, ``population`` trials of ``epochs`` epochs, seeded;
- ``asha+tpe``: TPE (its default random start under early stopping) with ASHA (grace
  1, eta 3, rungs at 1, 3, 9), as many trials as the budget allows.

A study is stopped once its trials have reported the budget's epochs, and only the
first ``budget`` epochs reported (in time order) count: its **best accuracy** is the
highest ``val_acc`` among them. Its **final** accuracy is the KPI of its best completed
trial (the one rule, :func:`app.engine.best.best_trial`: the last ``val_acc`` of a trial
trained to the end), what a user takes away; the best accuracy also counts noisy peaks
of trials that did not keep them, so more trials give it more chances. Printed: per
method the median (and quartiles) of the best accuracy over the seeds, the median final
accuracy, epochs trained and trials; the best PBT
trial's schedule (the ``lr`` over the steps that trained its final weights, walked
back through its donors: :func:`app.application.lineage.best_schedule`); and last::

    RESULT seeds=.. budget=.. population=.. pbt_median=.. random_median=..
           asha_tpe_median=.. pbt_final=.. random_final=.. asha_tpe_final=..
           pbt_minus_random=.. pbt_wins_vs_random=.. pbt_minus_asha_tpe=.. ...

Studies run one after another (``--jobs`` at a time), each with ``population``
trials at once. An epoch of this MLP takes 10-20 ms, less than the runner takes to
act on a report (a SIGINT, a process start): each epoch is made to last at least
``--epoch-seconds`` (0.25 s, the example's ``PBT_MLP_EPOCH_SECONDS``), so PBT's
decisions, taken while trials run, land between epochs as on a real model; the
accuracy reached does not depend on it. ``--plot PATH`` writes the best schedule as
a PNG.

    .venv/bin/python bench/pbt.py [--seeds 10] [--first-seed 0] [--population 4]
        [--epochs 24] [--interval 4] [--epoch-seconds 0.25] [--jobs 1]
        [--methods pbt,random,asha+tpe] [--plot docs/pbt_schedule.png] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.application.lineage import Schedule, best_schedule  # noqa: E402
from app.engine.best import best_trial  # noqa: E402
from app.engine.events import RunnerEvent, RunnerEventKind  # noqa: E402
from app.engine.experiment import experiment_from_dict  # noqa: E402
from app.engine.search.base import Goal  # noqa: E402

EXAMPLE = ROOT / "examples" / "pbt_mlp"
KPI = "val_acc"
METHODS = {  # name: (label, colour)
    "pbt": ("PBT", "#d55e00"),
    "random": ("random search", "#0072b2"),
    "asha+tpe": ("ASHA + TPE", "#009e73"),
}


@dataclass(frozen=True)
class Sizes:
    """One study's size: ``population`` trials at a time, ``epochs`` per trial."""

    population: int
    epochs: int
    interval: int
    epoch_seconds: float = 0.25

    @property
    def budget(self) -> int:
        """Epochs per study: a population trained to the end once."""
        return self.population * self.epochs


@dataclass(frozen=True)
class Study:
    """What one method did with one seed."""

    method: str
    seed: int
    best: float  # highest val_acc within the budget
    final: float  # the best completed trial's KPI (its last val_acc): what the user gets
    epochs: int  # epochs reported within the budget
    reported: int  # epochs reported in all (a stop lets a few more through)
    trials: int
    wall: float
    schedule: Schedule | None  # PBT: the best trial's


def experiment_doc(method: str, seed: int, sizes: Sizes, code: Path) -> dict[str, Any]:
    """The experiment file of one study (``code``: a copy of the example)."""
    doc: dict[str, Any] = {
        "version": 1, "name": f"{method.replace('+', '-')}-{seed}", "code_dir": str(code),
        "command": "{python} train.py", "kpi": {"name": KPI, "goal": "max", "use": "last"},
        "space": str(code / "space.yaml"),
        "limits": {"max_trials": sizes.population, "max_parallel": sizes.population,
                   "max_epochs": sizes.epochs, "max_trial_seconds": 600},
        "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "PBT_MLP_EPOCH_SECONDS": str(sizes.epoch_seconds)},
    }
    if method == "pbt":
        doc["algorithm"] = {"name": "random", "seed": seed}
        doc["scheduler"] = {"name": "pbt", "population": sizes.population,
                            "interval": sizes.interval, "quantile": 0.25,
                            "mutations": {"lr": {"kind": "perturb"}},
                            "resample_probability": 0.25, "seed": seed}
        del doc["limits"]["max_parallel"]
    elif method == "random":
        doc["algorithm"] = {"name": "random", "seed": seed}
    elif method == "asha+tpe":
        doc["algorithm"] = {"name": "tpe", "seed": seed}
        doc["scheduler"] = {"name": "asha", "grace_period": 1, "reduction_factor": 3}
        doc["limits"]["max_trials"] = sizes.budget  # the budget stops it first
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    return doc


def run_study(method: str, seed: int, sizes: Sizes, work: Path) -> Study:
    """Run one study in its own database under ``work`` and read what it did."""
    from app.application.workspace import Workspace
    from app.store.store import Store

    folder = work / f"{method.replace('+', '-')}-{seed}"
    code = folder / "code"
    shutil.copytree(EXAMPLE, code, ignore=shutil.ignore_patterns("checkpoint*", "__pycache__"))
    config = experiment_from_dict(experiment_doc(method, seed, sizes, code), code)
    started = time.perf_counter()
    with Store(f"sqlite:///{folder / 'study.db'}") as store:
        workspace = Workspace(store, driver="bench/pbt.py")
        experiment = workspace.create_to_run(config.name, config)
        counted = _BudgetStop(workspace, experiment.id, sizes.budget)
        workspace.subscribe(counted)
        workspace.start(experiment.id, fresh_snapshot=False)
        try:
            while not workspace.wait(experiment.id, 0.2):
                pass
        finally:
            workspace.close()
        wall = time.perf_counter() - started
        trials = store.list_trials(experiment.id)
        points = sorted((p for t in trials for p in store.get_metrics(t.id, KPI)
                         if p.step is not None), key=lambda p: p.time)
        within = points[:sizes.budget]
        schedule = None
        if method == "pbt":
            try:
                schedule = best_schedule(store.segments(experiment.id), trials, Goal.MAX,
                                         ["lr"])
            except ValueError:
                schedule = None
    best = max((p.value for p in within), default=float("nan"))
    winner = best_trial(trials, Goal.MAX)
    final = float("nan") if winner is None or winner.kpi is None else winner.kpi
    return Study(method, seed, best, final, len(within), len(points), len(trials), wall,
                 schedule)


class _BudgetStop:
    """Counts the KPI's reports; asks the run to stop once the budget is reached."""

    def __init__(self, workspace: Any, experiment_id: int, budget: int) -> None:
        self._workspace = workspace
        self._experiment_id = experiment_id
        self._budget = budget
        self._count = 0
        self._stopped = False
        self._lock = threading.Lock()

    def __call__(self, event: RunnerEvent) -> None:
        if event.kind is not RunnerEventKind.METRICS or event.experiment_id != self._experiment_id:
            return
        with self._lock:
            self._count += sum(1 for p in event.metrics if p.name == KPI)
            if self._stopped or self._count < self._budget:
                return
            self._stopped = True
        threading.Thread(target=self._workspace.stop, args=(self._experiment_id,),
                         daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--population", type=int, default=4, help="trials at a time")
    parser.add_argument("--epochs", type=int, default=24, help="epochs per trial")
    parser.add_argument("--interval", type=int, default=4, help="PBT's interval in epochs")
    parser.add_argument("--epoch-seconds", type=float, default=0.25,
                        help="each epoch lasts at least this long (PBT_MLP_EPOCH_SECONDS)")
    parser.add_argument("--jobs", type=int, default=1, help="studies at a time")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--plot", type=Path, help="write the best PBT schedule to this PNG")
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, population 4, 6 epochs, interval 2, 0.1 s epochs: "
                             "a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.population, args.epochs, args.interval = 2, 4, 6, 2
        args.epoch_seconds = 0.1
    if args.seeds < 1 or args.jobs < 1 or args.population < 2 or args.epochs < 2:
        parser.error("--seeds and --jobs must be >= 1, --population and --epochs >= 2")
    if args.epoch_seconds < 0:
        parser.error(f"--epoch-seconds must be >= 0, got {args.epoch_seconds}")
    if not 1 <= args.interval < args.epochs:
        parser.error(f"--interval must be between 1 and --epochs - 1, got {args.interval}")
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        parser.error(f"--methods: unknown {', '.join(unknown) or '(none given)'}; known: "
                     + ", ".join(METHODS))
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    sizes = Sizes(args.population, args.epochs, args.interval, args.epoch_seconds)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="sweeplab-bench-pbt-") as temp:
        work = Path(temp)
        os.environ["SWEEPLAB_HOME"] = str(work / "home")  # snapshots and trial folders
        # the whole population at once, whatever the core count (results count epochs)
        os.environ["SWEEPLAB_LOCAL_SLOTS"] = str(sizes.population * args.jobs)
        jobs = [(method, seed) for seed in seeds for method in methods]
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = {job: pool.submit(run_study, *job, sizes, work) for job in jobs}
            studies = {job: future.result() for job, future in futures.items()}
    elapsed = time.perf_counter() - started
    report(studies, methods, list(seeds), sizes, elapsed, time.process_time() - cpu,
           args.jobs, args.plot)
    return 0


def report(studies: dict[tuple[str, int], Study], methods: list[str], seeds: list[int],
           sizes: Sizes, elapsed: float, cpu: float, jobs: int, plot_path: Path | None) -> None:
    """Print the table, the best schedule and the RESULT line; write the plot."""
    print(f"pbt_mlp: {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), population {sizes.population}"
          f", {sizes.epochs} epochs per trial of at least {sizes.epoch_seconds:g} s, budget "
          f"{sizes.budget} epochs per study, PBT interval {sizes.interval}; real runner, "
          f"local executor, one process per trial segment; {elapsed:.0f} s wall, "
          f"{cpu:.0f} s CPU in this process, {jobs} stud{'y' if jobs == 1 else 'ies'} "
          "at a time")
    print(f"{'method':14} {'median best':>11} {'q1':>7} {'q3':>7} {'final':>7} {'epochs':>7} "
          f"{'trials':>7} {'wall s':>7}")
    medians: dict[str, float] = {}
    finals: dict[str, float] = {}
    for method in methods:
        runs = [studies[method, seed] for seed in seeds]
        bests = [r.best for r in runs]
        medians[method] = statistics.median(bests)
        q1, q3 = _quartiles(bests)
        finals[method] = statistics.median(r.final for r in runs)
        print(f"{METHODS[method][0]:14} {medians[method]:11.4f} {q1:7.4f} {q3:7.4f} "
              f"{finals[method]:7.4f} {statistics.median(r.epochs for r in runs):7.0f} "
              f"{statistics.median(r.trials for r in runs):7.0f} "
              f"{statistics.median(r.wall for r in runs):7.1f}")
    figures = [f"seeds={len(seeds)}", f"budget={sizes.budget}",
               f"population={sizes.population}", f"epochs={sizes.epochs}",
               f"interval={sizes.interval}"]
    figures += [f"{m.replace('+', '_')}_median={v:.4f}" for m, v in medians.items()]
    figures += [f"{m.replace('+', '_')}_final={v:.4f}" for m, v in finals.items()]
    best_study = None
    if "pbt" in medians:
        for other in (m for m in methods if m != "pbt"):
            key = other.replace("+", "_")
            figures.append(f"pbt_minus_{key}={medians['pbt'] - medians[other]:+.4f}")
            wins = sum(studies["pbt", s].best > studies[other, s].best for s in seeds)
            figures.append(f"pbt_wins_vs_{key}={wins}/{len(seeds)}")
        scheduled = [studies["pbt", s] for s in seeds if studies["pbt", s].schedule]
        best_study = max(scheduled, key=lambda s: s.best, default=None)
    if best_study is not None and best_study.schedule is not None:
        schedule = best_study.schedule
        steps, values = schedule.steps("lr")
        text = ", ".join(f"{v:.3g} from {s}" for s, v in zip(steps, values, strict=True))
        print(f"best PBT schedule (seed {best_study.seed}, trial {schedule.trial}, "
              f"final {KPI} {schedule.kpi}): lr {text}, to step {schedule.end}")
        figures.append(f"best_schedule_lr_first={values[0]:.3g}")
        figures.append(f"best_schedule_lr_last={values[-1]:.3g}")
        figures.append(f"best_schedule_changes={len(values) - 1}")
        if plot_path is not None:
            plot(schedule, best_study, plot_path)
    print("RESULT " + " ".join(figures))


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def plot(schedule: Schedule, study: Study, path: Path) -> None:
    """The best PBT trial's learning rate over its training steps, as a PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    import pyqtgraph.exporters

    from app.views.pbt.geometry import schedule_lines

    app = pg.mkQApp()
    widget = pg.PlotWidget(background="w")
    widget.resize(800, 420)
    xs, ys = schedule_lines(schedule, "lr")
    widget.plot(xs, ys, pen=pg.mkPen(METHODS["pbt"][1], width=3))
    widget.setLogMode(y=bool(np.all(ys > 0)))
    widget.setLabel("bottom", "training step (epoch)")
    widget.setLabel("left", "learning rate (log scale)")
    widget.getAxis("left").enableAutoSIPrefix(False)
    widget.setTitle(f"best PBT schedule: seed {study.seed}, trial {schedule.trial}, "
                    f"best {KPI} {study.best:.4f}")
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = pyqtgraph.exporters.ImageExporter(widget.plotItem)
    exporter.parameters()["width"] = 900
    exporter.export(str(path))


if __name__ == "__main__":
    sys.exit(main())
