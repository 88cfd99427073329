"""Searchers: ask/tell, pending trials, warm start, determinism, and TPE's edge."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from app.engine.search import Algorithm, Goal, GridSearcher, HyperoptSearcher, make_searcher
from app.engine.space import space_from_dict
from app.engine.space.sampling import ParamsMismatch
from app.engine.trial import TrialState
from tests.engine.spaces import EVERY_KIND, doc, number

HYPEROPT_ALGOS = [Algorithm.RANDOM, Algorithm.TPE, Algorithm.ANNEAL]


def _objective(params: dict[str, Any]) -> float:
    return (math.log10(params["lr"]) + 2.5) ** 2 + params["dropout"]


@pytest.mark.parametrize("algo", HYPEROPT_ALGOS)
def test_several_suggestions_may_be_pending_at_once(algo: Algorithm) -> None:
    searcher = make_searcher(algo, space_from_dict(EVERY_KIND), seed=1, initial_random=3)
    pending = [searcher.suggest(i) for i in range(1, 9)]
    assert all(p is not None for p in pending)
    for i, params in enumerate(pending, start=1):
        assert params is not None
        searcher.on_trial_complete(i, _objective(params), TrialState.COMPLETED)
    assert searcher.suggest(9) is not None


@pytest.mark.parametrize("algo", HYPEROPT_ALGOS)
def test_a_rebuilt_searcher_continues_exactly_like_the_original(algo: Algorithm) -> None:
    space = space_from_dict(EVERY_KIND)
    original = make_searcher(algo, space, Goal.MIN, seed=7, initial_random=5)
    history = []
    for i in range(1, 16):
        params = original.suggest(i)
        assert params is not None
        state = TrialState.FAILED if i == 4 else TrialState.COMPLETED
        value = None if i == 4 else _objective(params)
        original.on_trial_complete(i, value, state)
        history.append((i, params, value, state))
    rebuilt = make_searcher(algo, space, Goal.MIN, seed=7, initial_random=5)
    for trial_id, params, value, state in history:
        rebuilt.restore(trial_id, params, value, state)
    assert [rebuilt.suggest(i) for i in (16, 17)] == [original.suggest(i) for i in (16, 17)]


def test_results_for_points_never_suggested_steer_tpe() -> None:
    space = space_from_dict(doc(number("x", "uniform", min=0, max=10, default=5)))
    searcher = HyperoptSearcher(space, Algorithm.TPE, Goal.MAX, seed=0, initial_random=0)
    # warm start: the best values are near x = 9
    for i in range(1, 41):
        x = i / 4
        searcher.restore(i, {"x": x}, -((x - 9) ** 2), TrialState.COMPLETED)
    xs = []
    for i in range(41, 61):
        params = searcher.suggest(i)
        assert params is not None
        xs.append(params["x"])
        searcher.on_trial_complete(i, -((params["x"] - 9) ** 2), TrialState.COMPLETED)
    # uniform search would centre on 5; the told results pull TPE towards 9
    assert statistics.median(xs) > 6.5, xs


def test_unfinished_restored_trials_are_pending_and_can_complete_later() -> None:
    space = space_from_dict(EVERY_KIND)
    searcher = make_searcher(Algorithm.TPE, space, seed=2, initial_random=2)
    params = make_searcher(Algorithm.RANDOM, space, seed=9).suggest(1)
    assert params is not None
    searcher.restore(5, params, None, TrialState.RUNNING)
    searcher.restore(5, params, 1.0, TrialState.COMPLETED)
    assert searcher.suggest(6) is not None


def test_restore_refuses_params_that_do_not_fit_the_space() -> None:
    space = space_from_dict(EVERY_KIND)
    searcher = make_searcher(Algorithm.TPE, space, seed=2)
    params = make_searcher(Algorithm.RANDOM, space, seed=9).suggest(1)
    assert params is not None
    broken = dict(params, optimizer={"_name": "rmsprop"})
    with pytest.raises(ParamsMismatch, match="optimizer: no branch named 'rmsprop'"):
        searcher.restore(1, broken, 0.5, TrialState.COMPLETED)
    with pytest.raises(ParamsMismatch, match="batch: 48 is not among the values"):
        searcher.restore(2, dict(params, batch=48), 0.5, TrialState.COMPLETED)


def test_the_same_trial_id_cannot_be_suggested_twice() -> None:
    searcher = make_searcher(Algorithm.RANDOM, space_from_dict(EVERY_KIND))
    searcher.suggest(1)
    with pytest.raises(ValueError, match="already suggested"):
        searcher.suggest(1)


def test_non_finite_kpi_is_told_as_a_failure_not_a_number() -> None:
    space = space_from_dict(doc(number("x", "uniform", min=0, max=1, default=0.5)))
    searcher = HyperoptSearcher(space, Algorithm.TPE, seed=0, initial_random=1)
    for i in range(1, 4):
        searcher.suggest(i)
        searcher.on_trial_complete(i, float("nan") if i == 2 else 0.1 * i, TrialState.COMPLETED)
    losses = searcher._trials.losses()
    assert losses[1] is None and all(isinstance(v, float) for v in (losses[0], losses[2]))


def test_a_space_with_nothing_to_search_gives_its_defaults() -> None:
    space = space_from_dict(doc(number("x", default=3), {"name": "s", "type": "string",
                                                         "default": "a"}))
    searcher = make_searcher(Algorithm.TPE, space)
    assert searcher.suggest(1) == {"x": 3, "s": "a"}


def test_grid_is_chosen_by_the_factory() -> None:
    space = space_from_dict(doc(number("x", "randint", min=0, max=2)))
    assert isinstance(make_searcher(Algorithm.GRID, space), GridSearcher)


# --- TPE against random search on Branin -----------------------------------------

BRANIN = doc(
    number("x1", "uniform", min=-5.0, max=10.0, default=0.0),
    number("x2", "uniform", min=0.0, max=15.0, default=0.0),
)


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo; global minimum 0.397887."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _best_after(algo: Algorithm, seed: int, budget: int) -> float:
    searcher = make_searcher(algo, space_from_dict(BRANIN), Goal.MIN, seed, initial_random=10)
    best = math.inf
    for trial_id in range(1, budget + 1):
        params = searcher.suggest(trial_id)
        assert params is not None
        value = branin(params["x1"], params["x2"])
        best = min(best, value)
        searcher.on_trial_complete(trial_id, value, TrialState.COMPLETED)
    return best


def test_tpe_beats_random_search_on_branin_with_a_fixed_budget() -> None:
    seeds = range(10)
    tpe = statistics.median(_best_after(Algorithm.TPE, s, 40) for s in seeds)
    rand = statistics.median(_best_after(Algorithm.RANDOM, s, 40) for s in seeds)
    assert tpe < rand, (tpe, rand)
