"""Rebuilding a run from the database: the searcher's history and leftover trials."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app.engine.experiment import ExperimentConfig, ExperimentError, identical_trials_problem
from app.engine.live import searcher_value
from app.engine.orders import now
from app.engine.ports import TrialRepository
from app.engine.records import LaunchClaim, TrialRecord
from app.engine.reruns import Rerun
from app.engine.schedulers import Scheduler, make_scheduler
from app.engine.search import Searcher, make_searcher
from app.engine.space.sampling import ParamsMismatch
from app.engine.trial import EarlyStopping, TrialState

log = logging.getLogger(__name__)


def check_buildable(config: ExperimentConfig) -> None:
    """Build the experiment's searcher and scheduler once, to be thrown away: what
    cannot be built (grid search over a continuous number) is refused here, before a
    new run stores anything.

    Raises:
        ExperimentError: no parameter is searched, so its trials would all be the same
            (:func:`~app.engine.experiment.identical_trials_problem`).
        ValueError: the searcher or the scheduler refuses the experiment.
    """
    problem = identical_trials_problem(config)
    if problem is not None:
        raise ExperimentError([problem])
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
    """The experiment's scheduler, fed the stored KPI values of every finished trial
    it saw (not the re-runs exempt from early stopping).

    Values go in trial order, each trial's by step, so rung contents are the same
    as in an uninterrupted run whose trials finished in that order.
    """
    scheduler = _new_scheduler(config)
    for trial in repo.list_trials(experiment_id):
        if not trial.state.is_finished() or trial.early_stopping is EarlyStopping.EXEMPT:
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
        attached: RUNNING trials whose process this run follows again (and QUEUED ones
            whose job still waits in a batch queue).
        waiting: QUEUED trials whose command never ran: each starts again as itself
            (same number, same params) before anything new.
        reruns: trials that were lost, to run again first (each is stored with
            ``rerun_of``, so max trials counts it once).
    """

    attached: list[TrialRecord] = field(default_factory=list)
    waiting: list[TrialRecord] = field(default_factory=list)
    reruns: list[Rerun] = field(default_factory=list)


Claim = Callable[[TrialRecord], LaunchClaim]
"""Claims a trial stored with a launch intent in its folder on its host (see
:class:`LaunchClaim`)."""


def settle_leftovers(repo: TrialRepository, experiment_id: int,
                     can_follow: Callable[[TrialRecord], bool],
                     claim: Claim | None = None) -> Leftovers:
    """End or adopt the trials an earlier run (crashed, killed, closed) left unfinished.

    A QUEUED trial whose host and folder were stored (the launch intent) may have
    started after all: ``claim`` looks there first. If its wrapper had claimed it, it
    becomes RUNNING and is followed from the start of its log; otherwise the claim
    makes sure it never starts late, and it waits to start again as itself, as does a
    QUEUED trial never sent anywhere. A QUEUED trial whose batch job (Slurm) is stored
    is followed. RUNNING ones whose host this run has (``can_follow``) are
    re-attached: their process may still run, or have ended with its exit code and the
    rest of its log waiting. The others are LOST (or STOPPED while QUEUED: their host
    is not among this run's hosts or does not answer) and run again.
    """
    left = Leftovers()
    for trial in repo.list_trials(experiment_id):
        if trial.state is TrialState.QUEUED and trial.pid is not None and can_follow(trial):
            left.attached.append(trial)  # still waiting in a batch queue: follow its job
        elif trial.state is TrialState.QUEUED and trial.trial_dir is not None:
            _settle_launch(repo, trial, can_follow, claim, left)
        elif trial.state in (TrialState.CREATED, TrialState.QUEUED):
            queued = {"state": TrialState.QUEUED} if trial.state is TrialState.CREATED else {}
            left.waiting.append(repo.update_trial(trial.id, host=None, error=None, **queued))
        elif trial.state is TrialState.RUNNING and can_follow(trial):
            left.attached.append(trial)
        elif trial.state is TrialState.RUNNING:
            repo.update_trial(trial.id, state=TrialState.LOST, error=(
                f"its host {trial.host!r} is not among this run's hosts; queued again"))
            left.reruns.append(Rerun.of_trial(trial))
    return left


def _settle_launch(repo: TrialRepository, trial: TrialRecord,
                   can_follow: Callable[[TrialRecord], bool], claim: Claim | None,
                   left: Leftovers) -> None:
    """A QUEUED trial stored with its launch intent: started, abandoned, or unknown."""
    found = claim(trial) if claim is not None and can_follow(trial) else LaunchClaim.UNKNOWN
    if found is LaunchClaim.STARTED:
        left.attached.append(repo.update_trial(trial.id, state=TrialState.RUNNING,
                                               started_at=now(), log_offset=0, error=None))
    elif found is LaunchClaim.ABANDONED:  # the claim stands: no late start is possible
        left.waiting.append(repo.update_trial(trial.id, host=None, trial_dir=None, error=None))
    else:
        repo.update_trial(trial.id, state=TrialState.STOPPED, error=(
            f"its host {trial.host!r} is not among this run's hosts or did not answer, "
            "so whether it started there is unknown; queued again"))
        left.reruns.append(Rerun.of_trial(trial))
