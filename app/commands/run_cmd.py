"""``sweeplab run`` and ``sweeplab resume``: an optimisation in the foreground."""

from __future__ import annotations

import argparse

from rich.markup import escape

from app.application.definitions import checked_config
from app.application.wiring import open_store
from app.application.workspace import NameTaken, Workspace
from app.commands.console import RunDisplay, best_line, best_trials, console, trials_table
from app.engine.errors import Problem
from app.engine.experiment import ExperimentError, load_experiment
from app.engine.names import name_problem
from app.engine.records import ExperimentRecord
from app.engine.trial import ExperimentState

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
        workspace = Workspace(store, driver="sweeplab run")
        try:  # checks all, then stores
            experiment = workspace.create_to_run(name, config)
        except NameTaken:
            raise ValueError(
                f"an experiment named {name!r} already exists in {store.url}: "
                f"continue it with `sweeplab resume {name}`, or pass --name NEW") from None
        return _drive(workspace, experiment)


def _resume(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        workspace = Workspace(store, driver="sweeplab resume")
        experiment = workspace.experiment(args.experiment)
        workspace.check_not_driven(experiment.id)
        if experiment.state is ExperimentState.RUNNING:
            console.print(f"{escape(experiment.name)} was left running by a program that is gone: "
                          "its running trials are followed again here")
        return _drive(workspace, experiment)


def _requeue_failed(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        workspace = Workspace(store, driver="sweeplab requeue-failed")
        experiment = workspace.experiment(args.experiment)
        reruns = workspace.failed_to_requeue(experiment.id)
        if not reruns:
            console.print(f"{escape(experiment.name)}: no failed trial to run again")
            return 0
        numbers = ", ".join(str(rerun.of) for rerun in reruns)
        console.print(f"{escape(experiment.name)}: running trial(s) {numbers} again")
        return _drive(workspace, experiment, requeue_failed=True)


def _drive(workspace: Workspace, experiment: ExperimentRecord, *,
           requeue_failed: bool = False) -> int:
    """Run the experiment through ``workspace`` in the foreground with a progress bar
    until it ends; Ctrl-C stops its trials, a second Ctrl-C leaves them running."""
    config = checked_config(experiment)
    display = RunDisplay(config, workspace.trials(experiment.id))
    workspace.subscribe(display)
    if requeue_failed:
        workspace.requeue_failed(experiment.id)
    else:
        workspace.start(experiment.id, fresh_snapshot=False)
    console.print(f"experiment [bold]{escape(experiment.name)}[/] (id {experiment.id}) in "
                  f"{escape(workspace.store.url)}")
    stops = 0
    try:
        with display.progress:
            while not workspace.wait(experiment.id, 0.2):
                pass
    except KeyboardInterrupt:
        stops += 1
        console.print("[yellow]stopping: SIGINT to every trial, then SIGTERM, then SIGKILL "
                      "(Ctrl-C again to leave them running)")
        workspace.stop(experiment.id)
        try:
            while not workspace.wait(experiment.id, 0.2):
                pass
        except KeyboardInterrupt:
            stops += 1
    finally:
        workspace.abandon()
    trials = workspace.trials(experiment.id)
    best = best_trials(trials, config, 5)
    if best:
        console.print(trials_table(best, config.kpi.name, f"best trials of {experiment.name}"))
    final = workspace.experiment(experiment.id).state
    console.print(f"{escape(experiment.name)}: {final.value}, {len(trials)} trials, "
                  f"{escape(best_line(trials, config))}")
    if stops:
        return EXIT_STOPPED
    return EXIT_FAILED if final is ExperimentState.FAILED else 0
