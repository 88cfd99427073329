"""Issue 15.1: every field of a number either means what users read or is refused.

The table is in :mod:`app.engine.space.validate`; the file check refuses through
``space_from_dict`` and the editor through the same ``validate`` (see
``tests/views/test_space_editor_model.py``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.engine.errors import SpaceError
from app.engine.search import Algorithm, grid_size, make_searcher
from app.engine.space import space_from_dict
from app.engine.space.nni import to_nni
from app.engine.trial import TrialState
from tests.engine.spaces import doc, number


def samples(node: dict[str, Any], algorithm: Algorithm = Algorithm.RANDOM,
            count: int = 60) -> list[Any]:
    searcher = make_searcher(algorithm, space_from_dict(doc(node)), seed=5)
    out = []
    for trial in range(1, count + 1):
        params = searcher.suggest(trial)
        assert params is not None
        out.append(params[node["name"]])
        searcher.on_trial_complete(trial, float(trial % 7), TrialState.COMPLETED)
    return out


@pytest.mark.parametrize("algorithm", [Algorithm.RANDOM, Algorithm.TPE, Algorithm.ANNEAL])
def test_a_step_on_uniform_gives_multiples_of_the_step(algorithm: Algorithm) -> None:
    """The reported case: ``uniform [16, 256] step 16`` gave 35, 59, 184."""
    node = number("batch", "uniform", min=16, max=256, step=16, integer=True, default=64)
    values = samples(node, algorithm)
    assert all(isinstance(v, int) and v % 16 == 0 and 16 <= v <= 256 for v in values), values
    float_node = number("width", "uniform", min=0.0, max=1.0, step=0.25, default=0.5)
    assert set(samples(float_node, algorithm)) <= {0.0, 0.25, 0.5, 0.75, 1.0}


@pytest.mark.parametrize(("node", "step"), [
    (number("lr", "loguniform", min=0.01, max=1.0, step=0.01, default=0.1), 0.01),
    (number("noise", "normal", mu=0.0, sigma=2.0, step=0.5, default=0.0), 0.5),
    (number("scale", "lognormal", mu=1.0, sigma=0.5, step=0.25, default=1.0), 0.25),
])
def test_a_step_on_any_continuous_distribution_quantises_it(node: dict[str, Any],
                                                            step: float) -> None:
    for value in samples(node):
        assert math.isclose(round(value / step) * step, value, abs_tol=1e-12), value


def test_a_stepped_uniform_is_countable_and_exports_as_quniform() -> None:
    space = space_from_dict(doc(number("batch", "uniform", min=16, max=256, step=16,
                                       integer=True, default=64)))
    assert grid_size(space) == 16
    assert to_nni(space)["batch"] == {"_type": "quniform", "_value": [16, 256, 16]}


@pytest.mark.parametrize(("node", "message"), [
    (number("layers", "randint", min=1, max=8, step=2, default=2),
     "layers: step 2 has no effect on randint, which takes every whole number in [min, max]"),
    (number("noise", "normal", mu=0, sigma=1, min=-1, max=1),
     "noise: min and max have no effect on normal, which is unbounded (set by mu and sigma)"),
    (number("scale", "lognormal", mu=0, sigma=1, max=5, default=1),
     "scale: max has no effect on lognormal"),
    (number("drop", "uniform", min=0, max=0.5, sigma=0.1, default=0.2),
     "drop: sigma has no effect on uniform, which is bounded by min and max"),
    (number("lr", "qloguniform", min=0.01, max=1, step=0.01, mu=0.1, sigma=1, default=0.1),
     "lr: mu and sigma have no effect on qloguniform"),
    (number("seed", min=0, max=100, default=7),
     "seed: min and max have no effect on a fixed number (no distribution)"),
    (number("seed", step=1, default=7),
     "seed: step has no effect on a fixed number (no distribution)"),
    (number("drop", "uniform", min=0, max=0.5, default=0.9),
     "drop: default 0.9 is outside [0, 0.5]"),
    ({"name": "tag", "type": "string", "auto": True, "default": "a"},
     "tag: a string is fixed text and cannot be auto"),
    (number("lr", "uniform", min=0, max=1, values=[0.1], default=0.5),
     "lr: unknown field 'values' for a number"),
    ({"name": "act", "type": "choice", "values": ["a"], "default": "a", "integer": True},
     "act: unknown field 'integer' for a choice"),
])
def test_a_field_without_effect_is_refused_with_the_reason(node: dict[str, Any],
                                                           message: str) -> None:
    with pytest.raises(SpaceError) as caught:
        space_from_dict(doc(node))
    assert message in str(caught.value)


@pytest.mark.parametrize("node", [
    number("depth", "normal", mu=3, sigma=1, integer=True, default=3),  # integers: step 1
    number("lr", "loguniform", min=1e-4, max=0.1, step=1e-4, default=1e-3),
    {**number("x", "uniform", min=0, max=1, default=0.5), "auto": False},  # kept for AUTO
    number("fixed", default=3),
])
def test_fields_with_an_effect_are_accepted(node: dict[str, Any]) -> None:
    space_from_dict(doc(node))
