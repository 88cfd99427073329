"""The one rule for "best", the trial counts, how a run ends, and what a failure says first."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from app.engine.best import (
    best_trial,
    budget_cut,
    competing_kpi,
    count_trials,
    is_better,
    ranked,
    run_outcome,
)
from app.engine.failing import FailingStart, first_line
from app.engine.live import StopReason, failure_cause, failure_message
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import ExperimentState, TrialState


def trial(number: int, state: TrialState, kpi: float | None,
          error: str | None = None) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params={"x": number}, created_at=datetime(2026, 1, 1, tzinfo=UTC),
                       kpi=kpi, error=error)


MIXED = [
    trial(1, TrialState.COMPLETED, 0.5),
    trial(2, TrialState.PRUNED, 0.1),               # from an early step
    trial(3, TrialState.STOPPED, 0.05, StopReason.USER.value),
    trial(4, TrialState.STOPPED, 0.01, StopReason.BUDGET.value),  # cut by the budget
    trial(5, TrialState.COMPLETED, math.nan),
    trial(6, TrialState.COMPLETED, -math.inf),
    trial(7, TrialState.FAILED, 0.0, "boom"),
    trial(8, TrialState.COMPLETED, 0.3),
    trial(9, TrialState.RUNNING, 0.001),
    trial(10, TrialState.COMPLETED, 0.3),
]


def test_only_completed_trials_with_a_finite_kpi_compete() -> None:
    assert [t.number for t in MIXED if competing_kpi(t) is not None] == [1, 8, 10]
    assert best_trial(MIXED, Goal.MIN) is MIXED[7]  # 0.3, the lower number on the tie
    assert [t.number for t in ranked(MIXED, Goal.MIN)] == [8, 10, 1]
    assert best_trial(MIXED, Goal.MAX) is MIXED[0]
    assert [t.number for t in ranked(MIXED, Goal.MAX)] == [1, 8, 10]


@pytest.mark.parametrize("state", [TrialState.PRUNED, TrialState.STOPPED, TrialState.FAILED])
def test_no_best_when_nothing_completed(state: TrialState) -> None:
    trials = [trial(n, state, 0.25132) for n in (1, 2)]
    assert best_trial(trials, Goal.MIN) is None
    assert ranked(trials, Goal.MIN) == []


def test_following_the_best_one_trial_at_a_time_agrees_with_the_rule() -> None:
    for goal in Goal:
        best: TrialRecord | None = None
        for record in MIXED:
            if is_better(record, best, goal):
                best = record
        assert best is best_trial(MIXED, goal)


def test_counts_and_budget_cut_trials() -> None:
    counts = count_trials(MIXED)
    assert counts.total == 10 and counts.done == 9 and counts.running == 1
    assert counts.completed == 5 and counts.failed == 1 and counts[TrialState.STOPPED] == 2
    assert counts.budget_cut == 1
    assert [t.number for t in MIXED if budget_cut(t)] == [4]


def test_a_run_fails_when_nothing_completed_and_something_failed() -> None:
    def outcome(*states: TrialState) -> ExperimentState:
        return run_outcome(count_trials([trial(n, s, None) for n, s in enumerate(states, 1)]))

    assert outcome(TrialState.FAILED, TrialState.FAILED) is ExperimentState.FAILED
    assert outcome(TrialState.FAILED, TrialState.PRUNED) is ExperimentState.FAILED
    assert outcome(TrialState.FAILED, TrialState.COMPLETED) is ExperimentState.COMPLETED
    assert outcome(TrialState.STOPPED, TrialState.STOPPED) is ExperimentState.COMPLETED
    assert outcome() is ExperimentState.COMPLETED


def test_the_first_line_of_a_failure_names_its_cause() -> None:
    dash = ["sweeplab: 1: eval: python3: not found"]
    bash = ["bash: line 1: trainx: command not found"]
    assert failure_cause(127, dash) == "python3: command not found"
    assert failure_cause(127, bash) == "trainx: command not found"
    traceback = ["epoch 1", "Traceback (most recent call last):", '  File "t.py", line 1',
                 "    import torchx", "ModuleNotFoundError: No module named 'torchx'",
                 "cleanup done"]
    message = failure_message(1, traceback)
    assert message.split("\n")[:2] == ["ModuleNotFoundError: No module named 'torchx'",
                                       "the trial exited with code 1; last lines:"]
    assert message.endswith("cleanup done")
    wrong_path = ["/usr/bin/python3: can't open file '/w/7/code/tr.py': [Errno 2] No such file"]
    assert first_line(failure_message(2, wrong_path)) == wrong_path[0]
    assert first_line(failure_message(2, wrong_path, "/w/7")) == (  # the same in every trial
        "/usr/bin/python3: can't open file 'code/tr.py': [Errno 2] No such file")
    assert first_line(failure_message(1, ["plain output"])) == \
        "the trial exited with code 1; last lines:"
    assert failure_message(None, []) == "the trial was killed"


def test_a_syntax_error_in_the_script_is_named_too() -> None:
    """Python prints a script's own SyntaxError without a 'Traceback' header: a typo in
    train.py read 'the trial exited with code 1; last lines:' in every table."""
    syntax = ['  File "/w/7/code/train.py", line 2', "    x = (1,", "        ^",
              "SyntaxError: '(' was never closed"]
    assert failure_cause(1, syntax) == "SyntaxError: '(' was never closed"
    indent = ["epoch 0", '  File "train.py", line 3', "    return x", "IndentationError: "
              "unexpected indent", "sweeplab: cleanup"]
    assert failure_cause(1, indent) == "IndentationError: unexpected indent"
    assert failure_cause(1, ['  File "notes.txt" is missing', "done"]) is None


def test_a_run_stops_when_its_first_trials_fail_the_same_way() -> None:
    watch = FailingStart(3)
    why = "python3: command not found\nthe trial exited with code 127"
    assert watch.observe(TrialState.FAILED, why) is None
    assert watch.observe(TrialState.STOPPED, StopReason.USER.value) is None  # says nothing
    assert watch.observe(TrialState.FAILED, why, rerun=True) is None  # a retry: not counted
    assert watch.observe(TrialState.FAILED, why) is None
    assert watch.observe(TrialState.FAILED, why) == (
        "stopping: the first 3 trials all failed the same way: python3: command not found")
    assert watch.observe(TrialState.FAILED, why) is None  # said once


@pytest.mark.parametrize("between", [(TrialState.COMPLETED, None), (TrialState.PRUNED, None),
                                     (TrialState.FAILED, "KeyError: 'lr'")])
def test_a_success_or_another_failure_disarms_the_watch(
        between: tuple[TrialState, str | None]) -> None:
    watch = FailingStart(2)
    assert watch.observe(TrialState.FAILED, "ValueError: x") is None
    assert watch.observe(*between) is None
    assert all(watch.observe(TrialState.FAILED, "ValueError: x") is None for _ in range(5))
    assert FailingStart(1, armed=False).observe(TrialState.FAILED, "e") is None
    with pytest.raises(ValueError, match="at least 1"):
        FailingStart(0)
