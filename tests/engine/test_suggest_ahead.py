"""Suggest-ahead (app.engine.search.ahead) over the real hyperopt TPE searcher: a point
is ready before it is asked for, no point is handed out twice, a result that arrives
while a point is ready makes it lag by one result at most, and with one trial at a time
the suggestions are those a synchronous searcher makes one result later."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from app.engine.search import Algorithm, Goal, HyperoptSearcher
from app.engine.search.ahead import SuggestAhead, suggest_ahead
from app.engine.space import space_from_dict
from app.engine.trial import TrialState
from tests.helpers import wait_until

SPACE = space_from_dict({"version": 1, "space": [
    {"name": "x", "type": "number", "auto": True, "distribution": "uniform", "min": 0.0,
     "max": 1.0, "default": 0.5},
    {"name": "y", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-4, "max": 1.0, "default": 0.01},
]})
HISTORY = 30  # past TPE's random start of 20
FIRST = HISTORY + 1


def loss(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + abs(math.log10(params["y"]) + 2)


def warmed() -> HyperoptSearcher:
    """TPE (seed 5) told HISTORY results of its own random suggestions."""
    searcher = HyperoptSearcher(SPACE, Algorithm.TPE, Goal.MIN, seed=5)
    for trial_id in range(1, HISTORY + 1):
        params = searcher.suggest(trial_id)
        assert params is not None
        searcher.on_trial_complete(trial_id, loss(params), TrialState.COMPLETED)
    return searcher


@pytest.fixture
def ahead() -> Iterator[SuggestAhead]:
    wrapped = SuggestAhead(warmed())
    wrapped.start()
    yield wrapped
    wrapped.close()


def test_a_point_is_ready_before_it_is_asked_for(ahead: SuggestAhead) -> None:
    ahead.prepare(FIRST)
    wait_until(lambda: ahead.ready, what="the first point drawn ahead")
    first = ahead.suggest(FIRST)
    ahead.prepare(FIRST + 1)
    wait_until(lambda: ahead.ready, what="the next point drawn while trial 1 runs")
    assert first is not None
    ahead.on_trial_complete(FIRST, loss(first), TrialState.COMPLETED)  # the slot frees
    assert ahead.ready, "one result must not throw away the point drawn ahead"
    assert ahead.suggest(FIRST + 1) is not None
    assert (ahead.handed_ready, ahead.waited) == (2, 0)


def test_one_trial_at_a_time_gets_what_a_synchronous_searcher_one_result_late_would(
        ahead: SuggestAhead) -> None:
    reference = warmed()
    handed: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = [_must(reference.suggest(FIRST))]
    ahead.prepare(FIRST)
    for trial_id in range(FIRST, FIRST + 6):
        params = _must(ahead.suggest(trial_id))
        ahead.prepare(trial_id + 1)  # the runner does so once the trial is submitted
        handed.append(params)
        # the synchronous searcher draws the next point before this trial's result
        expected.append(_must(reference.suggest(trial_id + 1)))
        reference.on_trial_complete(trial_id, loss(expected[-2]), TrialState.COMPLETED)
        ahead.on_trial_complete(trial_id, loss(params), TrialState.COMPLETED)
    assert handed == expected[:-1]
    assert len({tuple(sorted(p.items())) for p in handed}) == len(handed), "a duplicate"


def test_a_second_result_before_the_point_is_taken_draws_it_again(
        ahead: SuggestAhead) -> None:
    reference = warmed()
    ahead.prepare(FIRST)
    wait_until(lambda: ahead.ready, what="the first point")
    first = _must(ahead.suggest(FIRST))
    assert first == _must(reference.suggest(FIRST))
    second = _must(ahead.suggest(FIRST + 1))  # two trials at a time: nothing was prepared
    assert second == _must(reference.suggest(FIRST + 1))
    ahead.prepare(FIRST + 2)
    wait_until(lambda: ahead.ready, what="the third point")
    ahead.on_trial_complete(FIRST, loss(first), TrialState.COMPLETED)
    assert ahead.ready
    ahead.on_trial_complete(FIRST + 1, loss(second), TrialState.COMPLETED)
    assert not ahead.ready, "a point two results old must be drawn again"
    wait_until(lambda: ahead.ready, what="the point drawn again from both results")
    third = ahead.suggest(FIRST + 2)
    reference.on_trial_complete(FIRST, loss(first), TrialState.COMPLETED)
    reference.on_trial_complete(FIRST + 1, loss(second), TrialState.COMPLETED)
    assert third == reference.suggest(FIRST + 2)


def test_a_point_drawn_for_one_id_is_handed_out_once_under_another(
        ahead: SuggestAhead) -> None:
    ahead.prepare(FIRST)
    wait_until(lambda: ahead.ready, what="the first point")
    ahead.restore(FIRST, {"x": 0.5, "y": 0.01}, None, TrialState.QUEUED)  # a re-run took it
    params = _must(ahead.suggest(FIRST + 1))
    assert params != {"x": 0.5, "y": 0.01}
    assert not ahead.ready
    with pytest.raises(ValueError, match="already suggested"):
        ahead.suggest(FIRST + 1)


def test_an_error_on_the_worker_is_raised_by_the_next_suggestion(
        ahead: SuggestAhead) -> None:
    ahead.prepare(FIRST)
    wait_until(lambda: ahead.ready, what="the first point")
    ahead.suggest(FIRST)
    ahead.on_trial_complete(999, 1.0, TrialState.COMPLETED)  # never suggested
    ahead.prepare(FIRST + 1)
    with pytest.raises(KeyError, match="999"):
        ahead.suggest(FIRST + 1)


def test_results_still_queued_are_told_on_close() -> None:
    wrapped, reference = SuggestAhead(warmed()), warmed()
    wrapped.start()
    params = _must(wrapped.suggest(FIRST))
    assert params == _must(reference.suggest(FIRST))
    wrapped.on_trial_complete(FIRST, 0.0, TrialState.COMPLETED)
    wrapped.close()
    reference.on_trial_complete(FIRST, 0.0, TrialState.COMPLETED)
    assert wrapped.suggest(FIRST + 1) == reference.suggest(FIRST + 1)


def test_only_a_searcher_that_can_propose_is_wrapped() -> None:
    from app.engine.search import GridSearcher

    assert isinstance(suggest_ahead(warmed()), SuggestAhead)
    grid = GridSearcher(space_from_dict({"version": 1, "space": [
        {"name": "n", "type": "choice", "auto": True, "values": [1, 2], "default": 1}]}))
    assert suggest_ahead(grid) is None


def _must(params: dict[str, Any] | None) -> dict[str, Any]:
    assert params is not None
    return params
