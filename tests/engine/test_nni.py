"""NNI's search_space.json: import, export, nested choices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.engine.errors import SpaceError
from app.engine.search import Algorithm, make_searcher
from app.engine.space import Choice, ChoiceKind, Group, NumberParam, space_from_dict
from app.engine.space.files import load_space
from app.engine.space.nni import from_nni, looks_like_nni, nni_losses, to_nni
from tests.engine.spaces import EVERY_KIND

ROOT = Path(__file__).resolve().parents[2]

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


def test_an_integer_number_stays_an_integer_through_nni() -> None:
    """Issue 15.13: units (integer quniform) came back as a float, 112.0."""
    space = load_space(ROOT / "examples" / "digits-mlp" / "space.yaml")
    exported = to_nni(space)
    assert exported["units"] == {"_type": "quniform", "_value": [16, 128, 16]}
    back = from_nni(json.loads(json.dumps(exported)))
    units = back.find("units")
    assert isinstance(units, NumberParam) and units.integer and units.gives_int
    assert isinstance(units.default, int)
    searcher = make_searcher(Algorithm.RANDOM, back, seed=3)
    for trial in range(1, 20):
        params = searcher.suggest(trial)
        assert params is not None and isinstance(params["units"], int)


def test_a_float_number_with_whole_bounds_stays_a_float() -> None:
    space = space_from_dict({"version": 1, "space": [
        {"name": "x", "type": "number", "auto": True, "distribution": "quniform",
         "min": 0, "max": 10, "step": 1, "default": 5}]})
    exported = to_nni(space)
    assert exported["x"] == {"_type": "quniform", "_value": [0.0, 10.0, 1.0]}
    x = from_nni(json.loads(json.dumps(exported))).find("x")
    assert isinstance(x, NumberParam) and not x.integer


def test_nni_losses_name_what_the_format_cannot_carry() -> None:
    losses = nni_losses(space_from_dict(EVERY_KIND))
    assert "lr: default 0.01 comes back as 0.00316228" in losses
    assert "optimizer: default 'adam' comes back as 'sgd'" in losses
    assert ("optimizer.adam.beta1: a fixed float comes back as a choice of numbers of its one "
            "value") in losses
    assert not [line for line in losses if "integer" in line or "step" in line]
    assert nni_losses(from_nni(NNI)) == []  # what came from NNI goes back unchanged


def test_an_imported_default_is_the_middle_of_the_range_as_the_readme_says() -> None:
    """A qnormal centred on 0 came back with default 0.5 (0 taken for 'none'), a randint
    with its lowest value instead of the middle."""
    space = from_nni({"noise": {"_type": "qnormal", "_value": [0, 1, 0.5]},
                      "shift": {"_type": "qnormal", "_value": [-0.2, 1, 0.5]},
                      "layers": {"_type": "randint", "_value": [1, 6]},
                      "scale": {"_type": "qlognormal", "_value": [0, 1, 5]}})
    defaults = {name: node.default for name in ("noise", "shift", "layers", "scale")
                if isinstance(node := space.find(name), NumberParam)}
    assert defaults == {"noise": 0, "shift": 0, "layers": 3, "scale": 5}
