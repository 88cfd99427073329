"""Sampling: every node type and distribution within bounds and types; branches."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from app.engine.params import flatten
from app.engine.search import Algorithm, make_searcher
from app.engine.space import space_from_dict
from app.engine.space.sampling import raw_values, values_from_raw
from tests.engine.spaces import EVERY_KIND

DRAWS = 300


@pytest.fixture(scope="module")
def draws() -> list[dict[str, Any]]:
    searcher = make_searcher(Algorithm.RANDOM, space_from_dict(EVERY_KIND), seed=3)
    out = []
    for trial_id in range(1, DRAWS + 1):
        params = searcher.suggest(trial_id)
        assert params is not None
        out.append(params)
    return out


def _column(draws: list[dict[str, Any]], key: str) -> list[Any]:
    return [flatten(d)[key] for d in draws if key in flatten(d)]


def _is_multiple(value: float, step: float) -> bool:
    return math.isclose(value / step, round(value / step), abs_tol=1e-9)


def test_values_are_plain_json_types(draws: list[dict[str, Any]]) -> None:
    for params in draws:
        assert json.loads(json.dumps(params)) == params
        for value in flatten(params).values():
            assert type(value) in (str, int, float, bool)


def test_uniform_and_loguniform_stay_in_bounds(draws: list[dict[str, Any]]) -> None:
    lr = _column(draws, "lr")
    assert all(isinstance(v, float) and 1e-4 <= v <= 0.1 for v in lr)
    # a log scale puts about as many draws below 1e-2.5 as above it
    below = sum(v < 10**-2.5 for v in lr)
    assert 0.3 < below / len(lr) < 0.7
    assert all(0.0 <= v <= 0.5 for v in _column(draws, "dropout"))


def test_quantised_values_are_multiples_of_the_step_inside_the_range(
    draws: list[dict[str, Any]],
) -> None:
    drop = _column(draws, "drop_q")
    assert set(drop) <= {0.2, 0.4, 0.6, 0.8} and len(set(drop)) == 4
    wd = _column(draws, "wd")
    assert all(1e-5 <= v <= 1e-2 and _is_multiple(v, 1e-5) for v in wd)
    units = _column(draws, "units")
    assert all(type(v) is int and 16 <= v <= 128 and v % 16 == 0 for v in units)
    assert all(isinstance(v, float) and _is_multiple(v, 0.5) for v in _column(draws, "noise_q"))
    assert all(isinstance(v, float) and v.is_integer() for v in _column(draws, "scale_q"))


def test_integers_come_back_as_ints(draws: list[dict[str, Any]]) -> None:
    layers = _column(draws, "layers")
    assert all(type(v) is int for v in layers) and set(layers) == {1, 2, 3, 4}
    depth = _column(draws, "depth")
    assert all(type(v) is int and 1 <= v <= 6 for v in depth) and set(depth) == set(range(1, 7))


def test_gaussians_are_centred_where_asked(draws: list[dict[str, Any]]) -> None:
    noise = _column(draws, "noise")
    assert abs(sum(noise) / len(noise)) < 0.25
    assert all(v > 0 for v in _column(draws, "scale"))


def test_booleans_choices_and_constants(draws: list[dict[str, Any]]) -> None:
    assert set(_column(draws, "use_bn")) == {False, True}
    assert set(_column(draws, "fixed_flag")) == {True}
    assert set(_column(draws, "batch")) == {16, 32, 64}
    assert set(_column(draws, "act")) == {"relu", "tanh"}
    assert set(_column(draws, "tag")) == {"baseline"}
    assert set(_column(draws, "first_dense.inner.bias")) == {False, True}


def test_conditional_branches_give_only_the_active_keys(draws: list[dict[str, Any]]) -> None:
    seen = set()
    for params in draws:
        flat = flatten(params)
        branch = flat["optimizer"]
        seen.add(branch)
        keys = {k for k in flat if k.startswith("optimizer.")}
        if branch == "sgd":
            assert keys == {"optimizer.lr", "optimizer.momentum"}
            assert 1e-3 <= flat["optimizer.lr"] <= 1.0
        else:
            assert keys == {"optimizer.lr", "optimizer.beta1"}
            assert 1e-5 <= flat["optimizer.lr"] <= 1e-2 and flat["optimizer.beta1"] == 0.9
    assert seen == {"sgd", "adam"}


def test_raw_values_invert_sampled_values(draws: list[dict[str, Any]]) -> None:
    space = space_from_dict(EVERY_KIND)
    for params in draws[:50]:
        assert values_from_raw(space, raw_values(space, params)) == params
