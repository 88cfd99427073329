"""The progress bar of ``sweeplab run``/``resume``/``requeue-failed``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.commands.console import RunDisplay
from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.experiment import experiment_from_dict
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from tests.helpers import experiment_doc

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _trial(number: int, state: TrialState, rerun_of: int | None = None) -> TrialRecord:
    return TrialRecord(id=number, experiment_id=1, number=number, state=state,
                       params={"x": 0.5}, created_at=NOW, started_at=NOW, error="boom",
                       rerun_of=rerun_of)


def test_the_bar_counts_what_max_trials_counts_not_the_reruns(tmp_path: Path) -> None:
    """Re-runs (retries, requeue-failed) do not count against max trials: a requeue of
    3 failed trials of 3 showed 6/3, and every retry pushed the bar past its end."""
    config = experiment_from_dict(
        experiment_doc(tmp_path, limits={"max_trials": 3, "max_parallel": 1}), tmp_path)
    stored = [_trial(n, TrialState.FAILED) for n in (1, 2, 3)]
    display = RunDisplay(config, [*stored, _trial(4, TrialState.FAILED, rerun_of=1)])
    task = display.progress.tasks[0]
    assert (task.completed, task.total) == (3, 3)
    for number, of in ((5, 2), (6, 3)):
        display(RunnerEvent(RunnerEventKind.TRIAL, 1,
                            trial=_trial(number, TrialState.FAILED, rerun_of=of)))
    assert display.progress.tasks[0].completed == 3
