"""``sweeplab run`` and ``sweeplab resume``: an optimisation in the foreground."""

from __future__ import annotations

import argparse

from rich.markup import escape

from app.application.definitions import checked_config
from app.application.wiring import build_runner, open_store, store_new_experiment
from app.commands.console import RunDisplay, best_line, best_trials, console, trials_table
from app.engine.errors import Problem
from app.engine.experiment import ExperimentError, load_experiment
from app.engine.lease import check_not_driven
from app.engine.names import name_problem
from app.engine.records import ExperimentRecord
from app.engine.reruns import Rerun, failed_to_requeue
from app.engine.trial import ExperimentState
from app.store.store import Store

EXIT_STOPPED = 130
EXIT_FAILED = 3
"""The experiment ended FAILED: no trial completed and at least one failed."""


def _run(args: argparse.Namespace) -> int:
    config = load_experiment(args.file)
    name = config.name
    if args.name is not None:
        problem = name_problem(args.name)
        if problem is not None:
            raise ExperimentError([Problem("--name", problem)])
        name = args.name
    with open_store(args.db) as store:
        names = {e.name for e in store.list_experiments()}
        if name in names:
            raise ValueError(
                f"an experiment named {name!r} already exists in {store.url}: "
                f"continue it with `sweeplab resume {name}`, or pass --name NEW")
        experiment = store_new_experiment(store, name, config)  # checks all, then stores
        return _drive(store, experiment, "sweeplab run", fresh_snapshot=False)


def _resume(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        experiment = store.get_experiment(args.experiment)
        check_not_driven(store, experiment.id, experiment.name)
        if experiment.state is ExperimentState.RUNNING:
            console.print(f"{escape(experiment.name)} was left running by a program that is gone: "
                          "its running trials are followed again here")
        return _drive(store, experiment, "sweeplab resume", fresh_snapshot=False)


def _requeue_failed(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        experiment = store.get_experiment(args.experiment)
        reruns = failed_to_requeue(store.list_trials(experiment.id))
        if not reruns:
            console.print(f"{escape(experiment.name)}: no failed trial to run again")
            return 0
        numbers = ", ".join(str(rerun.of) for rerun in reruns)
        console.print(f"{escape(experiment.name)}: running trial(s) {numbers} again")
        return _drive(store, experiment, "sweeplab requeue-failed", fresh_snapshot=False,
                      reruns=reruns)


def _drive(store: Store, experiment: ExperimentRecord, driver: str, *, fresh_snapshot: bool,
           reruns: list[Rerun] | None = None) -> int:
    config = checked_config(experiment)
    runner, executor = build_runner(store, experiment, fresh_snapshot=fresh_snapshot,
                                    reruns=reruns or (), driver=driver)
    display = RunDisplay(config, store.list_trials(experiment.id))
    runner.subscribe(display)
    console.print(f"experiment [bold]{escape(experiment.name)}[/] (id {experiment.id}) in "
                  f"{escape(store.url)}")
    stops = 0
    try:
        with display.progress:
            runner.start()
            while not runner.wait(0.2):
                pass
    except KeyboardInterrupt:
        stops += 1
        console.print("[yellow]stopping: SIGINT to every trial, then SIGTERM, then SIGKILL "
                      "(Ctrl-C again to leave them running)")
        runner.stop()
        try:
            while not runner.wait(0.2):
                pass
        except KeyboardInterrupt:
            stops += 1
    finally:
        executor.close()
    trials = store.list_trials(experiment.id)
    best = best_trials(trials, config, 5)
    if best:
        console.print(trials_table(best, config.kpi.name, f"best trials of {experiment.name}"))
    final = store.get_experiment(experiment.id).state
    console.print(f"{escape(experiment.name)}: {final.value}, {len(trials)} trials, "
                  f"{escape(best_line(trials, config))}")
    if stops:
        return EXIT_STOPPED
    return EXIT_FAILED if final is ExperimentState.FAILED else 0
