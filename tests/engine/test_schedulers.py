"""Schedulers driven by scripted fake trials, no runner."""

from __future__ import annotations

import math

import pytest

from app.engine.schedulers import (
    AshaScheduler,
    Decision,
    FifoScheduler,
    HyperbandScheduler,
    MedianStoppingScheduler,
    SchedulerConfig,
    SchedulerName,
    make_scheduler,
)
from app.engine.search.base import Goal

C, S = Decision.CONTINUE, Decision.STOP


def test_fifo_never_stops() -> None:
    fifo = FifoScheduler()
    assert all(fifo.on_result(t, s, float("nan")) is C for t in range(3) for s in range(5))


def test_asha_rungs_sit_below_the_max_resource() -> None:
    assert AshaScheduler(Goal.MIN, 27, 1, 3).milestones == [1, 3, 9]
    assert AshaScheduler(Goal.MIN, 20, 2, 2).milestones == [2, 4, 8, 16]
    assert AshaScheduler(Goal.MIN, 1, 1, 3).milestones == []


@pytest.mark.parametrize("goal", [Goal.MIN, Goal.MAX])
def test_asha_keeps_the_top_third_at_a_rung_for_either_goal(goal: Goal) -> None:
    asha = AshaScheduler(goal, max_resource=9, grace_period=1, reduction_factor=3)
    sign = 1 if goal is Goal.MIN else -1
    # trials report at step 1 (the first rung) in this order; lower loss is better
    losses = {1: 0.5, 2: 0.4, 3: 0.9, 4: 0.1, 5: 0.8, 6: 0.3}
    decisions = {t: asha.on_result(t, 1, sign * v) for t, v in losses.items()}
    # 1: first at the rung -> continue; 2: best of 2 (top 1 of 2) -> continue;
    # 3: worst of 3 -> stop; 4: best so far -> continue; 5: 0.8 of 5, top 1 is 0.1 -> stop;
    # 6: top 2 of 6 are 0.1 and 0.3 -> continue
    assert decisions == {1: C, 2: C, 3: S, 4: C, 5: S, 6: C}


def test_asha_decides_once_per_rung_and_promotes_to_the_next() -> None:
    asha = AshaScheduler(Goal.MIN, max_resource=9, grace_period=1, reduction_factor=3)
    for trial, loss in ((1, 0.5), (2, 0.6), (3, 0.7)):
        asha.on_result(trial, 1, loss)
    assert asha.on_result(1, 1, 0.5) is C  # the same rung again: no new decision
    assert asha.on_result(1, 2, 0.45) is C  # between rungs
    assert asha.on_result(1, 3, 0.4) is C  # first at rung 3
    # two values at rung 3: floor(2/3) = 0, at least one is kept, and that is 0.4
    assert asha.on_result(2, 3, 0.55) is S
    assert asha.on_result(3, 3, 0.3) is C


def test_asha_skipped_steps_land_on_the_highest_rung_reached() -> None:
    asha = AshaScheduler(Goal.MIN, max_resource=27, grace_period=1, reduction_factor=3)
    for trial in range(1, 4):
        asha.on_result(trial, 9, 0.1 * trial)  # each jumps straight to step 9
    assert asha.on_result(4, 10, 0.9) is S  # rung 9 has 0.1, 0.2, 0.3: 0.9 is out


def test_asha_ties_at_the_cutoff_continue() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=9, grace_period=1, reduction_factor=3)
    assert [asha.on_result(t, 1, 0.7) for t in range(1, 7)] == [C] * 6


def test_asha_nan_never_promotes_and_never_poisons_the_cutoff() -> None:
    asha = AshaScheduler(Goal.MIN, max_resource=9, grace_period=1, reduction_factor=3)
    assert asha.on_result(1, 1, math.nan) is S
    assert asha.on_result(2, 1, math.inf) is S
    assert asha.on_result(3, 1, 0.5) is C  # NaN/inf count as worst, the cutoff stays real
    assert asha.on_result(4, 1, 0.6) is S


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_asha_nan_peers_never_raise_how_many_a_rung_keeps(bad: float) -> None:
    """Issue 15.2: six NaN peers at a rung must not let 0.8 and 0.7 through with 0.9."""
    asha = AshaScheduler(Goal.MAX, max_resource=9, grace_period=1, reduction_factor=3)
    assert [asha.on_result(t, 1, bad) for t in range(1, 7)] == [S] * 6
    assert [asha.on_result(t, 1, v) for t, v in ((7, 0.9), (8, 0.8), (9, 0.7))] == [C, S, S]
    clean = AshaScheduler(Goal.MAX, max_resource=9, grace_period=1, reduction_factor=3)
    assert [clean.on_result(t, 1, v) for t, v in ((7, 0.9), (8, 0.8), (9, 0.7))] == [C, S, S]


def test_asha_a_trial_stopped_for_nan_stays_stopped_and_unrecorded() -> None:
    asha = AshaScheduler(Goal.MAX, max_resource=9, grace_period=1, reduction_factor=3)
    assert asha.on_result(1, 1, math.nan) is S
    assert asha.on_result(1, 2, 5.0) is S  # a value arriving while it is being stopped
    assert asha.on_result(2, 1, 0.9) is C
    assert asha.on_result(3, 1, 0.8) is S  # rung 1 holds 0.9 and 0.8 only: keeps one


def test_hyperband_leaves_nan_out_of_its_rungs_too() -> None:
    band = HyperbandScheduler(Goal.MAX, max_resource=9, grace_period=1, reduction_factor=3)
    first = [t for t in range(1, 200) if band.bracket_of(t) == 0][:9]
    for trial in first[:6]:
        assert band.on_result(trial, 1, math.nan) is S
    decisions = [band.on_result(t, 1, v) for t, v in zip(first[6:], (0.9, 0.8, 0.7), strict=True)]
    assert decisions == [C, S, S]


def test_trials_that_finish_before_a_rung_never_enter_it() -> None:
    asha = AshaScheduler(Goal.MIN, max_resource=27, grace_period=3, reduction_factor=3)
    asha.on_result(1, 1, 0.1)
    asha.on_result(1, 2, 0.05)
    asha.on_complete(1, 0.05)  # ended at step 2, before the first rung (3)
    assert asha.on_result(2, 3, 0.9) is C  # alone at the rung


def test_hyperband_assigns_brackets_deterministically_from_the_seed() -> None:
    one = HyperbandScheduler(Goal.MIN, 27, 1, 3, seed=5)
    two = HyperbandScheduler(Goal.MIN, 27, 1, 3, seed=5)
    other = HyperbandScheduler(Goal.MIN, 27, 1, 3, seed=6)
    brackets = [one.bracket_of(t) for t in range(1, 200)]
    assert brackets == [two.bracket_of(t) for t in range(1, 200)]
    assert brackets != [other.bracket_of(t) for t in range(1, 200)]
    assert set(brackets) == {0, 1, 2}
    # the most aggressive bracket (s = 0) gets the most trials
    assert brackets.count(0) > brackets.count(2)


def test_hyperband_brackets_have_their_own_rungs() -> None:
    hb = HyperbandScheduler(Goal.MIN, 27, 1, 3, seed=0)
    by_bracket: dict[int, list[int]] = {}
    for trial in range(1, 100):
        by_bracket.setdefault(hb.bracket_of(trial), []).append(trial)
    # bracket 2 starts its rungs at 9: nothing is decided at steps 1 and 3
    late = by_bracket[2]
    assert all(hb.on_result(t, 1, 10.0 * i) is C for i, t in enumerate(late[:3]))
    assert all(hb.on_result(t, 3, 10.0 * i) is C for i, t in enumerate(late[:3]))
    assert hb.on_result(late[2], 9, 5.0) is C  # first at rung 9 of bracket 2
    assert hb.on_result(late[1], 9, 6.0) is S  # only the best of two is kept
    assert hb.on_result(late[0], 9, 4.0) is C


@pytest.mark.parametrize("goal", [Goal.MIN, Goal.MAX])
def test_median_stops_the_worse_half_after_grace_and_min_trials(goal: Goal) -> None:
    median = MedianStoppingScheduler(goal, grace_period=2, min_trials=3)
    sign = 1 if goal is Goal.MIN else -1
    for trial, loss in ((1, 0.1), (2, 0.2), (3, 0.3)):
        for step in (1, 2, 3):
            assert median.on_result(trial, step, sign * loss) is C  # too few peers yet
    assert median.on_result(4, 1, sign * 0.9) is C  # inside the grace period
    assert median.on_result(4, 2, sign * 0.9) is S  # median of 0.1, 0.2, 0.3 is 0.2
    assert median.on_result(5, 2, sign * 0.15) is C


def test_median_uses_the_best_value_so_far_and_ignores_nan_peers() -> None:
    median = MedianStoppingScheduler(Goal.MIN, grace_period=0, min_trials=2)
    median.on_result(1, 1, 0.5)
    median.on_result(2, 1, math.nan)
    median.on_result(3, 1, 0.7)
    # trial 4 had 0.1 at step 1; its worse value at step 2 does not count against it
    median.on_result(4, 1, 0.1)
    median.on_result(1, 2, 0.5)
    median.on_result(3, 2, 0.7)
    assert median.on_result(4, 2, 0.99) is C
    assert median.on_result(2, 2, math.nan) is S


def test_make_scheduler_checks_what_it_needs() -> None:
    with pytest.raises(ValueError, match=r"asha needs limits\.max_epochs"):
        make_scheduler(SchedulerConfig(SchedulerName.ASHA), Goal.MIN, None)
    with pytest.raises(ValueError, match="reduction factor must be >= 2"):
        make_scheduler(SchedulerConfig(SchedulerName.ASHA, reduction_factor=1), Goal.MIN, 10)
    assert isinstance(make_scheduler(SchedulerConfig(), Goal.MIN, None), FifoScheduler)
    assert isinstance(make_scheduler(SchedulerConfig(SchedulerName.MEDIAN), Goal.MIN, None),
                      MedianStoppingScheduler)
