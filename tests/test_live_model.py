"""The live model of a shown experiment (``app.application.live``): counts, best by the
engine's rule, progress with its total, and "stopping…" from the request to the end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.application.live import (
    STOPPING,
    Activity,
    LiveExperiment,
    TrialsSummary,
    summarise_trials,
)
from app.engine.best import best_trial, count_trials
from app.engine.events import ExperimentChange, RunnerEvent, RunnerEventKind
from app.engine.experiment import Kpi
from app.engine.protocol import ProgressReport
from app.engine.records import ExperimentRecord, MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import ExperimentState, TrialState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def experiment(state: ExperimentState = ExperimentState.RUNNING) -> ExperimentRecord:
    return ExperimentRecord(7, "demo", {}, state, T0, T0)


def trial(number: int, state: TrialState = TrialState.RUNNING, kpi: float | None = None,
          **fields: Any) -> TrialRecord:
    return TrialRecord(100 + number, 7, number, state, {"x": number}, T0, kpi=kpi, **fields)


def model(max_epochs: int | None = None) -> LiveExperiment:
    return LiveExperiment(experiment(), Kpi("val_acc", Goal.MAX), max_epochs)


def event(kind: RunnerEventKind, **fields: Any) -> RunnerEvent:
    return RunnerEvent(kind, 7, **fields)


def test_counts_and_best_follow_the_engine_rule_as_trials_change() -> None:
    live = model()
    live.load([trial(1), trial(2, TrialState.COMPLETED, 0.5), trial(3, TrialState.PRUNED, 0.99)])
    assert live.counts().completed == 1 and live.counts().running == 1
    assert live.best() == best_trial(live.trials(), Goal.MAX) == trial(2, TrialState.COMPLETED,
                                                                         0.5)
    change = live.apply(event(RunnerEventKind.TRIAL,
                              trial=trial(1, TrialState.COMPLETED, 0.84)))
    assert change.summary and change.trials == (trial(1, TrialState.COMPLETED, 0.84),)
    assert live.counts().completed == 2 and live.counts().running == 0
    best = live.best()
    assert best is not None and best.kpi == 0.84
    other = RunnerEvent(RunnerEventKind.TRIAL, 8, trial=TrialRecord(
        900, 8, 1, TrialState.COMPLETED, {}, T0, kpi=5.0))
    assert not live.apply(other) and len(live) == 3  # another experiment's trial


def test_progress_has_the_reported_total_else_max_epochs() -> None:
    live = model(max_epochs=50)
    live.load([trial(1), trial(2)], [MetricPoint(101, "val_acc", 0.1, 3, 0.0)])
    assert live.progress(101).step == 3 and live.progress(101).total == 50
    change = live.apply(event(RunnerEventKind.PROGRESS, trial=trial(1),
                              progress=ProgressReport(7, 20)))
    assert change.progress == {101}
    assert live.progress(101).describe() == "step 7 of 20"
    assert live.progress(101).fraction == 7 / 20
    change = live.apply(event(RunnerEventKind.METRICS, trial=trial(2),
                              metrics=(MetricPoint(102, "val_acc", 0.2, 4, 0.0),)))
    assert change.progress == {102} and live.progress(102).describe() == "step 4 of 50"
    assert [p.trial_id for p in change.points] == [102]


def test_a_stopped_trial_shows_stopping_until_it_has_ended() -> None:
    live = model()
    live.load([trial(1), trial(2), trial(3, TrialState.COMPLETED, 0.3)])
    change = live.request_stop(101)
    assert change.stopping == {101}
    assert live.activity(101) is Activity.STOPPING and live.shown_state(101) == STOPPING
    assert live.activity(102) is Activity.RUNNING
    assert not live.request_stop(103)  # ended already: nothing to stop
    still = live.apply(event(RunnerEventKind.METRICS, trial=trial(1), metrics=()))
    assert not still.stopping and live.is_stopping(101)
    ended = live.apply(event(RunnerEventKind.TRIAL, trial=trial(1, TrialState.STOPPED)))
    assert ended.stopping == {101} and live.activity(101) is Activity.ENDED
    assert live.shown_state(101) == "stopped"


def test_stopping_the_run_marks_every_unfinished_trial_until_the_run_ends() -> None:
    live = model()
    live.load([trial(1), trial(2, TrialState.QUEUED), trial(3, TrialState.COMPLETED, 0.3)])
    change = live.apply(RunnerEvent.changed(7, ExperimentChange.STOP_REQUESTED))
    assert change.stopping == {101, 102} and live.stopping and change.summary
    for number in (1, 2):
        live.apply(event(RunnerEventKind.TRIAL, trial=trial(number, TrialState.STOPPED)))
    assert live.stopping_ids() == frozenset() and live.stopping  # the runner has not ended
    change = live.apply(event(RunnerEventKind.EXPERIMENT, state=ExperimentState.STOPPED))
    assert change.summary and not live.stopping and live.state is ExperimentState.STOPPED


def test_a_reload_keeps_a_stop_under_way_and_is_one_reset() -> None:
    live = model()
    live.load([trial(1), trial(2)])
    live.request_stop(101)
    change = live.load([trial(1), trial(2), trial(4)])
    assert change.reset and live.is_stopping(101) and not live.is_stopping(104)
    assert len(live) == 3


def test_a_load_read_before_events_that_arrived_meanwhile_never_takes_the_model_back() -> None:
    """The run starts while its experiment loads: the trials read are older than what
    events told meanwhile, and a trial created after the read is not among them."""
    later = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    live = model()
    live.apply(event(RunnerEventKind.TRIAL,
                     trial=trial(1, TrialState.COMPLETED, 0.7, updated_at=later)))
    live.apply(event(RunnerEventKind.TRIAL, trial=trial(2, updated_at=later)))
    live.apply(event(RunnerEventKind.TRIAL, trial=trial(3, TrialState.QUEUED, updated_at=later)))
    change = live.load([trial(1, updated_at=T0), trial(2, TrialState.QUEUED, updated_at=T0)])
    assert change.reset
    assert [(t.number, t.state) for t in live.trials()] == [
        (1, TrialState.COMPLETED), (2, TrialState.RUNNING), (3, TrialState.QUEUED)]
    assert live.counts().completed == 1 and live.counts().running == 1
    # a record read after the event it followed wins: stored later, or finished
    live.load([trial(2, TrialState.RUNNING, 0.4, updated_at=datetime(
        2026, 1, 1, 0, 0, 9, tzinfo=UTC)), trial(3, TrialState.FAILED, updated_at=T0)])
    assert live.trial(102) == trial(2, TrialState.RUNNING, 0.4, updated_at=datetime(
        2026, 1, 1, 0, 0, 9, tzinfo=UTC))
    assert live.trial(103) is not None and live.trial(103).state is TrialState.FAILED


def test_a_summary_worked_out_by_the_reader_is_taken_unless_events_changed_the_trials() -> None:
    """The loader sums the trials up off the GUI thread; the model takes that summary
    only for exactly the records read (no GUI-thread pass over 10,000 trials)."""
    read = [trial(1, TrialState.COMPLETED, 0.3), trial(2, TrialState.COMPLETED, 0.9), trial(3)]
    summary = summarise_trials(read, Goal.MAX)
    assert summary.counts == count_trials(read) and summary.best == read[1]
    marked = TrialsSummary(summary.counts, read[0])  # tells which one the model takes
    live = model()
    live.load(read, summary=marked)
    assert live.best() == read[0] and live.counts() == summary.counts
    # an event told of a newer trial 3 before the read arrived: worked out here instead
    live = model()
    live.apply(event(RunnerEventKind.TRIAL, trial=trial(
        3, TrialState.COMPLETED, 0.95, updated_at=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC))))
    live.load(read, summary=marked)
    best = live.best()
    assert best is not None and best.number == 3 and live.counts().completed == 3
    # and no best without a KPI goal
    assert summarise_trials(read, None).best is None
