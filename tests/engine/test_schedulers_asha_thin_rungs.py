"""ASHA while a rung holds fewer than eta values: the lower rung still judges."""

from __future__ import annotations

import pytest

from app.engine.schedulers import AshaScheduler, Decision, HyperbandScheduler
from app.engine.search.base import Goal

C, S = Decision.CONTINUE, Decision.STOP


@pytest.mark.parametrize("goal", [Goal.MIN, Goal.MAX])
def test_the_first_trial_stops_at_a_thin_rung_when_its_peers_beat_it_below(goal: Goal) -> None:
    asha = AshaScheduler(goal, max_resource=27, grace_period=1, reduction_factor=3)
    better = 1 if goal is Goal.MAX else -1  # multiply an accuracy into the goal's units
    assert asha.on_result(1, 1, better * 0.1) is C  # alone at rung 1: nothing to compare
    # three later trials, each the best at rung 1 when it gets there
    assert [asha.on_result(t, 1, better * v) for t, v in ((2, 0.5), (3, 0.6), (4, 0.7))] \
        == [C, C, C]
    # trial 1 is alone at rung 3, but rung 1 now holds 4 values and it is the worst
    assert asha.on_result(1, 3, better * 0.2) is S
    # trial 4 is alone at rung 3 too, and still the top third at rung 1
    assert asha.on_result(4, 3, better * 0.75) is C


def test_two_workers_the_first_trial_stops_once_the_second_beats_it_below() -> None:
    # two trials started together; trial 1 always reaches each rung first
    asha = AshaScheduler(Goal.MAX, max_resource=27, grace_period=1, reduction_factor=3)
    assert asha.on_result(1, 1, 0.1) is C  # alone at rung 1
    assert asha.on_result(2, 1, 0.5) is C  # the best of two
    # alone at rung 3, but no longer the best at rung 1 (two values: the top one goes on)
    assert asha.on_result(1, 3, 0.2) is S
    assert asha.on_result(2, 3, 0.6) is C


def test_one_worker_the_first_trial_has_no_one_to_answer_to() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=27, grace_period=1, reduction_factor=3)
    assert [asha.on_result(1, step, 0.1) for step in range(1, 27)] == [C] * 26


def test_once_a_rung_holds_eta_values_its_own_cutoff_decides() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=27, grace_period=1, reduction_factor=3)
    for trial, value in enumerate((0.9, 0.8, 0.7, 0.2, 0.95, 0.85), start=1):
        asha.on_result(trial, 1, value)  # rung 1 cutoff (top 2 of 6): 0.9
    assert asha.on_result(5, 3, 0.90) is C
    assert asha.on_result(1, 3, 0.80) is S  # best of 2 is 0.90
    # trial 2 is no longer the top third at rung 1, but it is the best of the
    # three values rung 3 now holds: the newer, higher rung decides
    assert asha.on_result(2, 3, 0.99) is C


def test_a_trial_that_skipped_the_lower_rung_is_judged_further_down_or_goes_on() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=81, grace_period=1, reduction_factor=3)
    for trial, value in ((1, 0.9), (2, 0.8), (3, 0.7)):
        asha.on_result(trial, 1, value)
    asha.on_result(4, 1, 0.1)
    # trial 4 reports first at step 9: it has no value at rung 3; rung 1 judges it
    assert asha.on_result(4, 9, 0.95) is S
    # trials 5 and 6 never reported below rung 9: rung 9 alone judges them
    assert asha.on_result(5, 9, 0.5) is S  # worse than trial 4 there
    assert asha.on_result(6, 10, 0.99) is C  # the best there


def test_a_later_step_after_skipping_rungs_records_nothing_below() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=27, grace_period=1, reduction_factor=3)
    for trial, value in ((1, 0.5), (2, 0.6), (3, 0.4), (4, 0.3)):
        asha.on_result(trial, 3, value)
    assert asha.on_result(9, 9, 0.9) is C  # straight to rung 9
    assert asha.on_result(9, 10, 0.0) is C  # decided at rung 9 already; not a rung-3 value
    # rung 3 holds 4 values + this one = 5: top 1 is kept, so 0.55 stops
    # (had trial 9's 0.0 been counted there, 6 values would keep 2 and 0.55 would go on)
    assert asha.on_result(5, 3, 0.55) is S


def test_hyperband_brackets_judge_thin_rungs_within_their_own_rungs() -> None:
    hb = HyperbandScheduler(Goal.MAX, 27, 1, 3, seed=0)
    first = [t for t in range(1, 200) if hb.bracket_of(t) == 0][:4]
    late = [t for t in range(1, 200) if hb.bracket_of(t) == 2][:2]
    hb.on_result(first[0], 1, 0.1)
    for trial in first[1:]:
        hb.on_result(trial, 1, 0.9)
    assert hb.on_result(first[0], 3, 0.5) is S  # bracket 0: rung 1 judges it
    # bracket 2's only rung is 9: a trial alone there has nothing below to answer to
    assert hb.on_result(late[0], 1, 0.0) is C
    assert hb.on_result(late[0], 9, 0.1) is C
