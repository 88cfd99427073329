"""Rebuilding a run from the database: the searcher's history and leftover trials."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.engine.experiment import ExperimentConfig
from app.engine.live import searcher_value
from app.engine.ports import TrialRepository
from app.engine.records import TrialRecord
from app.engine.schedulers import Scheduler, make_scheduler
from app.engine.search import Searcher, make_searcher
from app.engine.space.sampling import ParamsMismatch
from app.engine.trial import TrialState

log = logging.getLogger(__name__)


def check_buildable(config: ExperimentConfig) -> None:
    """Build the experiment's searcher and scheduler once, to be thrown away: what
    cannot be built (grid search over a continuous number) is refused here, before a
    new run stores anything.

    Raises:
        ValueError: the searcher or the scheduler refuses the experiment.
    """
    _new_searcher(config)
    _new_scheduler(config)


def _new_searcher(config: ExperimentConfig) -> Searcher:
    return make_searcher(config.algorithm, config.space, config.kpi.goal, config.seed,
                         config.random_start)


def _new_scheduler(config: ExperimentConfig) -> Scheduler:
    return make_scheduler(config.scheduler, config.kpi.goal, config.limits.max_epochs,
                          config.seed)


def build_searcher(config: ExperimentConfig, repo: TrialRepository, experiment_id: int) -> Searcher:
    """A searcher for ``config`` told every stored trial, so it continues where it was.

    Trials whose params no longer fit the space (it was edited) are skipped with a
    stored warning.
    """
    searcher = _new_searcher(config)
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
    scheduler = _new_scheduler(config)
    for trial in repo.list_trials(experiment_id):
        if not trial.state.is_finished():
            continue
        points = repo.get_metrics(trial.id, config.kpi.name)
        for count, point in enumerate(points, start=1):
            scheduler.on_result(trial.number, point.step if point.step is not None else count,
                                point.value)
        scheduler.on_complete(trial.number, trial.kpi)
    return scheduler


@dataclass(frozen=True)
class Leftovers:
    """What an earlier run left unfinished, once settled.

    Attributes:
        attached: RUNNING trials whose process this run follows again.
        reruns: ``(params, number)`` of trials that never ran or were lost, to run again
            first (each is stored with ``rerun_of``, so max trials counts it once).
    """

    attached: list[TrialRecord] = field(default_factory=list)
    reruns: list[tuple[dict[str, Any], int]] = field(default_factory=list)


def settle_leftovers(repo: TrialRepository, experiment_id: int,
                     can_follow: Callable[[TrialRecord], bool]) -> Leftovers:
    """End or adopt the trials an earlier run (crashed, killed, closed) left unfinished.

    Queued trials never started: STOPPED, and run again, unless a batch queue (Slurm)
    still holds their job (a job id and folder are stored): those are followed, as are
    running ones. Running ones whose host this
    run has (``can_follow``) are re-attached: their process may still run, or have
    ended with its exit code and the rest of its log waiting. The others are LOST (their
    host is not among this run's hosts) and run again.
    """
    left = Leftovers()
    for trial in repo.list_trials(experiment_id):
        of = trial.rerun_of or trial.number
        if trial.state is TrialState.QUEUED and trial.pid is not None and can_follow(trial):
            left.attached.append(trial)  # still waiting in a batch queue: follow its job
        elif trial.state in (TrialState.CREATED, TrialState.QUEUED):
            repo.update_trial(trial.id, state=TrialState.STOPPED,
                              error="never started: the run was interrupted; queued again")
            left.reruns.append((trial.params, of))
        elif trial.state is TrialState.RUNNING and can_follow(trial):
            left.attached.append(trial)
        elif trial.state is TrialState.RUNNING:
            repo.update_trial(trial.id, state=TrialState.LOST, error=(
                f"its host {trial.host!r} is not among this run's hosts; queued again"))
            left.reruns.append((trial.params, of))
    return left
