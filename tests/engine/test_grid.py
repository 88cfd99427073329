"""Grid search: exact size, every point once, clear refusals."""

from __future__ import annotations

import json

import pytest

from app.engine.errors import SpaceError
from app.engine.params import flatten
from app.engine.search import GridSearcher, grid_size
from app.engine.space import space_from_dict
from app.engine.trial import TrialState
from tests.engine.spaces import GRIDDABLE, GRIDDABLE_SIZE, doc, number


def _all_points(searcher: GridSearcher) -> list[dict[str, object]]:
    points = []
    trial_id = 0
    while (params := searcher.suggest(trial_id := trial_id + 1)) is not None:
        points.append(params)
    return points


def test_grid_size_is_the_product_over_fields_and_the_sum_over_branches() -> None:
    assert grid_size(space_from_dict(GRIDDABLE)) == GRIDDABLE_SIZE


def test_grid_enumerates_every_point_exactly_once() -> None:
    points = _all_points(GridSearcher(space_from_dict(GRIDDABLE)))
    assert len(points) == GRIDDABLE_SIZE
    assert len({json.dumps(p, sort_keys=True) for p in points}) == GRIDDABLE_SIZE
    flat = [flatten(p) for p in points]
    assert {f["drop"] for f in flat} == {0.1, 0.2, 0.3, 0.4, 0.5}
    assert {f["optimizer.momentum"] for f in flat if f["optimizer"] == "sgd"} == {
        0.0, 0.3, 0.6, 0.9}
    assert all(set(f) & {"optimizer.momentum", "optimizer.beta1"} == set()
               for f in flat if f["optimizer"] == "plain")
    assert {type(f["layers"]) for f in flat} == {int}


def test_restored_points_are_not_suggested_again() -> None:
    space = space_from_dict(GRIDDABLE)
    first = GridSearcher(space)
    taken = [first.suggest(i) for i in range(1, 11)]
    again = GridSearcher(space)
    for i, params in enumerate(taken, start=1):
        assert params is not None
        again.restore(i, params, 0.0, TrialState.COMPLETED)
    rest = _all_points(again)
    assert len(rest) == GRIDDABLE_SIZE - 10
    assert not {json.dumps(p, sort_keys=True) for p in rest} & {
        json.dumps(p, sort_keys=True) for p in taken}


def test_a_huge_grid_costs_nothing_up_front() -> None:
    nodes = [number(f"x{i}", "quniform", min=0, max=99, step=1, default=0) for i in range(10)]
    searcher = GridSearcher(space_from_dict(doc(*nodes)))
    assert searcher.size == 100**10
    assert searcher.point(searcher.size - 1) == {f"x{i}": 99.0 for i in range(10)}


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (number("x", "uniform", min=0, max=1), "x: grid search needs a step"),
        (number("x", "loguniform", min=1, max=10, default=2), "x: grid search needs a step"),
        (number("x", "normal", mu=0, sigma=1), "x: normal has no bounds to enumerate"),
        (number("x", "qnormal", mu=0, sigma=1, step=1), "x: qnormal has no bounds"),
    ],
)
def test_ungriddable_numbers_are_named(node: dict[str, object], message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        GridSearcher(space_from_dict(doc(node)))


def test_integer_numbers_grid_by_one_and_log_scales_by_their_step() -> None:
    space = space_from_dict(doc(
        number("n", "uniform", min=2, max=5, integer=True, default=2),
        number("lr", "qloguniform", min=0.01, max=0.05, step=0.01, default=0.01),
    ))
    points = _all_points(GridSearcher(space))
    assert sorted({p["n"] for p in points}) == [2, 3, 4, 5]
    assert sorted({p["lr"] for p in points}) == [0.01, 0.02, 0.03, 0.04, 0.05]
