"""NNI's search_space.json: import, export, nested choices."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.errors import SpaceError
from app.engine.search import Algorithm, make_searcher
from app.engine.space import Choice, ChoiceKind, Group, NumberParam, space_from_dict
from app.engine.space.nni import from_nni, looks_like_nni, to_nni
from tests.engine.spaces import EVERY_KIND

NNI = {
    "lr": {"_type": "loguniform", "_value": [1e-4, 0.1]},
    "batch_size": {"_type": "choice", "_value": [16, 32, 64]},
    "layers": {"_type": "randint", "_value": [1, 5]},
    "dropout": {"_type": "quniform", "_value": [0.1, 0.5, 0.1]},
    "noise": {"_type": "normal", "_value": [0, 1]},
    "first_dense.neurons": {"_type": "choice", "_value": [64, 128]},
    "optimizer": {"_type": "choice", "_value": [
        {"_name": "sgd", "momentum": {"_type": "uniform", "_value": [0, 0.99]}},
        {"_name": "adam", "beta1": {"_type": "uniform", "_value": [0.8, 0.999]}},
    ]},
}


def test_import_builds_the_tree() -> None:
    assert looks_like_nni(NNI)
    space = from_nni(NNI)
    layers = space.find("layers")
    assert isinstance(layers, NumberParam) and (layers.min, layers.max) == (1, 4)
    assert isinstance(space.find("first_dense"), Group)
    optimizer = space.find("optimizer")
    assert isinstance(optimizer, Choice) and optimizer.kind is ChoiceKind.GROUPS
    assert isinstance(space.find("optimizer.adam.beta1"), NumberParam)
    searcher = make_searcher(Algorithm.RANDOM, space, seed=1)
    for i in range(1, 50):
        params = searcher.suggest(i)
        assert params is not None and 1 <= params["layers"] <= 4


def test_export_then_import_keeps_the_searched_structure() -> None:
    space = space_from_dict(EVERY_KIND)
    exported = to_nni(space)
    assert exported["lr"] == {"_type": "loguniform", "_value": [1e-4, 0.1]}
    assert exported["layers"] == {"_type": "randint", "_value": [1, 5]}
    assert exported["first_dense.neurons"]["_type"] == "quniform"
    assert exported["fixed_flag"] == {"_type": "choice", "_value": [True]}
    back = from_nni(exported)
    assert to_nni(back) == exported
    assert [b.name for b in back.find("optimizer").branches] == ["sgd", "adam"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"a": {"_type": "gamma", "_value": [1]}}, "a: unknown _type 'gamma'"),
        ({"a": {"_type": "uniform", "_value": [1]}}, "a: uniform needs 2 numbers"),
        ({"a": {"_type": "uniform", "_value": 3}}, "a: _value: expected a list"),
        ({"a": {"_type": "uniform", "_value": [2, 1]}}, "a: min 2 > max 1"),
        ({"a": {"_type": "choice", "_value": [1, {"_name": "x"}]}}, "a: choice mixes"),
        ({"a": {"_value": [1]}}, "a: expected"),
    ],
)
def test_bad_nni_entries_are_named(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        from_nni(doc)
