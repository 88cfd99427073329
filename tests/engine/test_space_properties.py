"""Property tests: any valid tree validates, samples and round-trips; junk gives errors."""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.errors import SpaceError
from app.engine.params import flatten
from app.engine.search import Algorithm, GridSearcher, make_searcher
from app.engine.space import space_from_dict, space_to_dict, validate
from app.engine.space.nni import from_nni, to_nni
from app.engine.space.sampling import raw_values, values_from_raw
from tests.engine.spaces import EVERY_KIND

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)
SENDABLE = st.characters(exclude_characters="\0", exclude_categories=("Cs",))
"""Characters a trial's process can receive (a NUL byte and a lone surrogate are refused)."""


@st.composite
def number_nodes(draw: st.DrawFn, name: str) -> dict[str, Any]:
    dist = draw(st.sampled_from(
        ["uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
         "qlognormal", "randint", None]))
    node: dict[str, Any] = {"name": name, "type": "number"}
    if dist is None:
        node["default"] = draw(FINITE)
        return node
    node.update(auto=True, distribution=dist)
    if dist == "randint":
        low = draw(st.integers(-1000, 1000))
        high = low + draw(st.integers(1, 1000))
        node.update(min=low, max=high, default=draw(st.integers(low, high)))
        return node
    if "normal" in dist:
        mu, sigma = draw(st.floats(-3, 3)), draw(st.floats(0.01, 3))
        node.update(mu=mu, sigma=sigma, default=1.0)
        if dist.startswith("q"):
            node["step"] = draw(st.sampled_from([0.01, 0.5, 1, 2]))
        return node
    low = draw(POSITIVE if "log" in dist else FINITE)
    high = low + max(draw(POSITIVE), abs(low) * 1e-3)
    node.update(min=low, max=high, default=draw(st.floats(low, high)))
    if dist.startswith("q"):
        step = (high - low) / draw(st.integers(1, 50))
        node["step"] = step
    return node


def leaf_nodes(name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        number_nodes(name),
        st.builds(lambda d, a: {"name": name, "type": "boolean", "default": d, "auto": a},
                  st.booleans(), st.booleans()),
        st.builds(lambda d: {"name": name, "type": "string", "default": d},
                  st.text(SENDABLE, max_size=8)),
        st.lists(st.text(SENDABLE, max_size=5), min_size=1, max_size=4, unique=True).flatmap(
            lambda vs: st.builds(
                lambda d, a: {"name": name, "type": "choice", "values": vs, "default": d,
                              "auto": a}, st.sampled_from(vs), st.booleans())),
        st.lists(st.integers(-100, 100), min_size=1, max_size=4, unique=True).flatmap(
            lambda vs: st.builds(
                lambda d: {"name": name, "type": "choice", "values": vs, "default": d,
                           "auto": True}, st.sampled_from(vs))),
    )


def node_lists(depth: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    def node(name: str) -> st.SearchStrategy[dict[str, Any]]:
        if depth <= 0:
            return leaf_nodes(name)
        inner = node_lists(depth - 1)
        group = inner.map(lambda children: {"name": name, "type": "group", "children": children})
        branches = st.lists(
            st.tuples(NAMES, inner), min_size=1, max_size=3, unique_by=lambda t: t[0]
        ).flatmap(lambda bs: st.builds(
            lambda default, auto: {
                "name": name, "type": "choice", "auto": auto, "default": default,
                "values": [{"name": n, "type": "group", "children": c} for n, c in bs]},
            st.sampled_from([n for n, _ in bs]), st.booleans()))
        return st.one_of(leaf_nodes(name), group, branches)

    return st.lists(NAMES, max_size=4, unique=True).flatmap(
        lambda names: st.tuples(*(node(n) for n in names)).map(list))


documents = node_lists(2).map(lambda nodes: {"version": 1, "space": nodes})
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(documents)
def test_any_generated_valid_tree_validates_samples_and_round_trips(doc: dict[str, Any]) -> None:
    space = space_from_dict(doc)
    assert validate(space) == []
    written = space_to_dict(space)
    assert space_from_dict(written) == space
    searcher = make_searcher(Algorithm.RANDOM, space, seed=0)
    for trial_id in range(1, 4):
        params = searcher.suggest(trial_id)
        assert params is not None
        assert values_from_raw(space, raw_values(space, params)) == params
        for key, value in flatten(params).items():
            node = space.find(key)
            lo, hi = getattr(node, "min", None), getattr(node, "max", None)
            if getattr(node, "auto", False) and lo is not None and hi is not None:
                assert lo - 1e-9 * max(1, abs(lo)) <= value <= hi + 1e-9 * max(1, abs(hi))
            if isinstance(value, float):
                assert math.isfinite(value) or "normal" in str(getattr(node, "distribution", ""))


@SETTINGS
@given(documents)
def test_nni_export_is_importable(doc: dict[str, Any]) -> None:
    space = space_from_dict(doc)
    exported = to_nni(space)
    if exported:
        try:
            back = from_nni(exported)
        except SpaceError:
            return  # e.g. an empty branch list cannot be said in NNI; an error, not a crash
        assert to_nni(back).keys() == exported.keys()


@SETTINGS
@given(documents)
def test_grid_either_enumerates_or_explains(doc: dict[str, Any]) -> None:
    space = space_from_dict(doc)
    try:
        searcher = GridSearcher(space)
    except SpaceError as exc:
        assert "grid search needs a step" in str(exc) or "no bounds" in str(exc)
        return
    if searcher.size <= 200:
        seen = [searcher.suggest(i) for i in range(1, searcher.size + 2)]
        assert seen[-1] is None and None not in seen[:-1]


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["name", "type", "values", "children", "default",
                                       "min", "max", "auto", "distribution", "step", "kind",
                                       "mu", "sigma", "integer", "version", "space", "x"]),
                      children, max_size=5),
    max_leaves=20,
)


def _mangle(doc: Any, path: list[int | str], junk: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    return doc


def _paths(doc: Any, prefix: list[int | str]) -> list[list[int | str]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, [*prefix, k])
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, [*prefix, i])
    return out


ALL_PATHS = _paths(EVERY_KIND, [])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PATHS), JUNK)
def test_mangled_documents_produce_errors_never_exceptions(
    path: list[int | str], junk: Any
) -> None:
    try:
        space_from_dict(_mangle(EVERY_KIND, path, junk))
    except SpaceError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(JUNK)
def test_arbitrary_data_is_refused_with_an_error(data: Any) -> None:
    for reader in (space_from_dict, from_nni):
        with contextlib.suppress(SpaceError):
            reader(data)
