"""Top K by KPI: goal-aware, completed trials only, ties in arrival order."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from app.application.analysis.ranking import best_trial_ids, ranked_result, top_k_mask
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState

T0 = datetime(2024, 5, 6, tzinfo=UTC)


def trial(number: int, kpi: float | None, state: TrialState = TrialState.COMPLETED
          ) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params={}, created_at=T0, kpi=kpi)


TRIALS = [trial(0, 0.5), trial(1, 0.1, TrialState.PRUNED), trial(2, 0.3), trial(3, None),
          trial(4, float("nan")), trial(5, 0.9), trial(6, 0.3), trial(7, 0.05, TrialState.RUNNING)]


def test_best_ids_follow_the_goal_and_skip_non_completed() -> None:
    assert best_trial_ids(TRIALS, Goal.MIN, 3) == [102, 106, 100]
    assert best_trial_ids(TRIALS, Goal.MAX, 2) == [105, 100]
    assert best_trial_ids(TRIALS, Goal.MIN, 50) == [102, 106, 100, 105]
    assert ranked_result(TRIALS[1]) is None and ranked_result(TRIALS[0]) == 0.5


def test_mask_matches_the_record_ranking() -> None:
    kpis = np.array([np.nan if t.kpi is None else t.kpi for t in TRIALS])
    eligible = np.array([t.state is TrialState.COMPLETED for t in TRIALS])
    for goal in Goal:
        for k in (1, 2, 3, 10):
            mask = top_k_mask(kpis, eligible, goal, k)
            assert {TRIALS[i].id for i in np.flatnonzero(mask)} == \
                set(best_trial_ids(TRIALS, goal, k))


def test_bad_k_is_refused() -> None:
    with pytest.raises(ValueError, match="top K needs K >= 1, got 0"):
        best_trial_ids(TRIALS, Goal.MIN, 0)
    with pytest.raises(ValueError, match="3 KPIs but 2 eligibility flags"):
        top_k_mask(np.zeros(3), np.ones(2, dtype=bool), Goal.MIN, 1)
