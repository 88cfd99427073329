"""Rebuilding a run from the database: the searcher's history and leftover trials."""

from __future__ import annotations

import logging

from app.engine.experiment import ExperimentConfig
from app.engine.live import searcher_value
from app.engine.ports import TrialRepository
from app.engine.schedulers import Scheduler, make_scheduler
from app.engine.search import Searcher, make_searcher
from app.engine.space.sampling import ParamsMismatch
from app.engine.trial import TrialState

log = logging.getLogger(__name__)


def build_searcher(config: ExperimentConfig, repo: TrialRepository, experiment_id: int) -> Searcher:
    """A searcher for ``config`` told every stored trial, so it continues where it was.

    Trials whose params no longer fit the space (it was edited) are skipped with a
    stored warning.
    """
    searcher = make_searcher(config.algorithm, config.space, config.kpi.goal, config.seed,
                             config.initial_random)
    for trial in repo.list_trials(experiment_id):
        try:
            searcher.restore(trial.number, trial.params,
                             searcher_value(trial.state, trial.kpi), trial.state)
        except ParamsMismatch as exc:
            repo.add_event(experiment_id, "warning",
                           f"trial {trial.number} does not fit the space any more ({exc}); "
                           "the searcher ignores it", trial_id=trial.id)
    return searcher


def build_scheduler(config: ExperimentConfig, repo: TrialRepository,
                    experiment_id: int) -> Scheduler:
    """The experiment's scheduler, fed the stored KPI values of every finished trial.

    Values go in trial order, each trial's by step, so rung contents are the same
    as in an uninterrupted run whose trials finished in that order.
    """
    scheduler = make_scheduler(config.scheduler, config.kpi.goal, config.limits.max_epochs,
                               config.seed)
    for trial in repo.list_trials(experiment_id):
        if not trial.state.is_finished():
            continue
        points = repo.get_metrics(trial.id, config.kpi.name)
        for count, point in enumerate(points, start=1):
            scheduler.on_result(trial.number, point.step if point.step is not None else count,
                                point.value)
        scheduler.on_complete(trial.number, trial.kpi)
    return scheduler


def close_leftovers(repo: TrialRepository, experiment_id: int) -> int:
    """End trials an earlier run left unfinished; returns how many.

    Queued trials never started: STOPPED. Running ones lost their runner: LOST
    (re-attaching to a live process comes with crash recovery).
    """
    count = 0
    for trial in repo.list_trials(experiment_id):
        if trial.state in (TrialState.CREATED, TrialState.QUEUED):
            repo.update_trial(trial.id, state=TrialState.STOPPED,
                              error="never started: the run was interrupted")
        elif trial.state is TrialState.RUNNING:
            repo.update_trial(trial.id, state=TrialState.LOST,
                              error="the app stopped while this trial ran")
        else:
            continue
        count += 1
    return count
