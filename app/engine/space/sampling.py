"""The space as a hyperopt expression, and the way back from hyperopt's raw values.

Every searched node gets a hyperopt label equal to its tree path
(``optimizer.sgd.momentum``), so labels are unique. Sampled values are read back
by walking our own tree over hyperopt's ``vals`` (label -> raw value), which
also gives the inverse (:func:`raw_values`) needed to tell hyperopt about points
it never suggested. Values handed out are plain JSON types; quantised values
are snapped onto multiples of their step inside [min, max].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from app.engine.errors import join_path
from app.engine.params import BRANCH_KEY
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Scalar,
    Space,
    StringParam,
)

_MAX_MULTIPLE = 2.0**53
"""Beyond this many steps a float cannot be snapped onto a multiple of its step."""


class ParamsMismatch(ValueError):
    """Stored parameters do not fit the space (it changed since they were made)."""


def to_hyperopt(space: Space) -> dict[str, Any]:
    """A hyperopt search-space expression for the searched (auto) nodes of ``space``."""
    return _nodes_expr(space.children, "")


def _nodes_expr(nodes: list[Node], prefix: str) -> dict[str, Any]:
    return {node.name: _node_expr(node, join_path(prefix, node.name)) for node in nodes}


def _node_expr(node: Node, path: str) -> Any:
    from hyperopt import hp  # only a searcher needs hyperopt (and its scipy): not at import

    if isinstance(node, Group):
        return _nodes_expr(node.children, path)
    if isinstance(node, NumberParam) and node.auto:
        return _number_expr(node, path)
    if isinstance(node, BooleanParam) and node.auto:
        return hp.choice(path, [False, True])
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            options = [_nodes_expr(b.children, join_path(path, b.name)) for b in node.branches]
            if node.auto:
                return hp.choice(path, options)
            return options[node.default_index() or 0]
        if node.auto:
            return hp.choice(path, list(node.values))
    return None  # constants need no expression


def _number_expr(node: NumberParam, path: str) -> Any:
    from hyperopt import hp

    dist = node.effective_distribution()
    step = node.effective_step()
    low, high, mu, sigma = node.min, node.max, node.mu, node.sigma
    if dist is Distribution.RANDINT:
        return hp.randint(path, int(low or 0), int(high or 0) + 1)
    if dist is Distribution.UNIFORM:
        return hp.uniform(path, low, high)
    if dist is Distribution.QUNIFORM:
        return hp.quniform(path, low, high, step)
    if dist is Distribution.LOGUNIFORM:
        return hp.loguniform(path, math.log(low or 1), math.log(high or 1))
    if dist is Distribution.QLOGUNIFORM:
        return hp.qloguniform(path, math.log(low or 1), math.log(high or 1), step)
    if dist is Distribution.NORMAL:
        return hp.normal(path, mu, sigma)
    if dist is Distribution.QNORMAL:
        return hp.qnormal(path, mu, sigma, step)
    if dist is Distribution.LOGNORMAL:
        return hp.lognormal(path, mu, sigma)
    if dist is Distribution.QLOGNORMAL:
        return hp.qlognormal(path, mu, sigma, step)
    raise ValueError(f"{path}: no distribution to search")


def number_value(node: NumberParam, raw: float) -> int | float:
    """A raw hyperopt value as the user's number: snapped, clipped, int when integer."""
    value = float(raw)
    step = node.effective_step()
    dist = node.effective_distribution()
    if dist is not None and (dist.is_quantised or dist is Distribution.RANDINT):
        step = step or 1
        if abs(value / step) <= _MAX_MULTIPLE:  # a far tail sample (or inf) stays as it is
            k = round(value / step)
            bounds = node.grid_bounds() if dist.bounded else None
            if bounds is not None:
                k = min(max(k, bounds[0]), bounds[1])
            value = multiple(k, step)
    elif dist is not None and dist.bounded and node.min is not None and node.max is not None:
        value = min(max(value, float(node.min)), float(node.max))
    if node.gives_int and math.isfinite(value):
        return round(value)
    return value


def multiple(k: int, step: float | int) -> float:
    """``k * step`` without binary noise (3 x 0.1 is 0.3)."""
    return float(Decimal(k) * Decimal(repr(step)))


def _to_plain(value: Any) -> Any:
    """numpy scalars to Python types."""
    if hasattr(value, "item"):
        return value.item()
    return value


def values_from_raw(space: Space, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Nested params from hyperopt's label -> raw value map (active labels only)."""
    return _nodes_value(space.children, "", raw)


def _nodes_value(nodes: list[Node], prefix: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    return {n.name: _node_value(n, join_path(prefix, n.name), raw) for n in nodes}


def _node_value(node: Node, path: str, raw: Mapping[str, Any]) -> Any:
    if isinstance(node, Group):
        return _nodes_value(node.children, path, raw)
    if isinstance(node, StringParam):
        return node.default
    if isinstance(node, NumberParam):
        return number_value(node, _to_plain(raw[path])) if node.auto else node.default
    if isinstance(node, BooleanParam):
        return bool(_to_plain(raw[path])) if node.auto else node.default
    if isinstance(node, Choice):
        index = int(_to_plain(raw[path])) if node.auto else (node.default_index() or 0)
        value = node.values[index]
        if isinstance(value, Group):
            branch = _nodes_value(value.children, join_path(path, value.name), raw)
            return {BRANCH_KEY: value.name, **branch}
        return value
    raise TypeError(f"unknown node {node!r}")


def raw_values(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`values_from_raw`: hyperopt raw values for nested params.

    Raises:
        ParamsMismatch: a value is missing or does not fit its node.
    """
    out: dict[str, Any] = {}
    _nodes_raw(space.children, "", params, out)
    return out


def _nodes_raw(nodes: list[Node], prefix: str, params: Mapping[str, Any],
               out: dict[str, Any]) -> None:
    for node in nodes:
        path = join_path(prefix, node.name)
        if node.name not in params:
            if _searched(node):
                raise ParamsMismatch(f"{path}: missing")
            continue
        _node_raw(node, path, params[node.name], out)


def _searched(node: Node) -> bool:
    if isinstance(node, Group):
        return any(_searched(c) for c in node.children)
    if isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS:
        return node.auto or any(_searched(b) for b in node.branches)
    return bool(getattr(node, "auto", False))


def _node_raw(node: Node, path: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(node, Group):
        if not isinstance(value, Mapping):
            raise ParamsMismatch(f"{path}: expected a group, got {value!r}")
        _nodes_raw(node.children, path, value, out)
    elif isinstance(node, NumberParam) and node.auto:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsMismatch(f"{path}: expected a number, got {value!r}")
        out[path] = value
    elif isinstance(node, BooleanParam) and node.auto:
        if not isinstance(value, bool):
            raise ParamsMismatch(f"{path}: expected true or false, got {value!r}")
        out[path] = int(value)
    elif isinstance(node, Choice):
        _choice_raw(node, path, value, out)


def _choice_raw(node: Choice, path: str, value: Any, out: dict[str, Any]) -> None:
    if node.kind is ChoiceKind.GROUPS:
        name = value.get(BRANCH_KEY) if isinstance(value, Mapping) else None
        names = [b.name for b in node.branches]
        if name not in names:
            raise ParamsMismatch(f"{path}: no branch named {name!r}")
        if not node.auto and name != node.default:
            raise ParamsMismatch(f"{path}: fixed to {node.default!r}, got {name!r}")
        index = names.index(name)
        if node.auto:
            out[path] = index
        branch = node.branches[index]
        _nodes_raw(branch.children, join_path(path, branch.name), value, out)
    elif node.auto:
        found = _scalar_index(node.values, value)
        if found is None:
            raise ParamsMismatch(f"{path}: {value!r} is not among the values")
        out[path] = found


def _scalar_index(values: list[Scalar] | list[Group], value: Any) -> int | None:
    for i, v in enumerate(values):
        if not isinstance(v, Group) and v == value and isinstance(v, str) == isinstance(value, str):
            return i
    return None
