"""Grid search: our own enumeration of every point of a space.

Every choice value and branch, both booleans, every multiple of a number's step
inside [min, max] (randint: every integer); constants stay at their default.
Points are decoded lazily from an index (a mixed radix over the tree, with
choices of groups as a sum over their branches), so a huge grid costs nothing
up front and its size is known exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.engine.errors import Problem, SpaceError, join_path
from app.engine.params import BRANCH_KEY
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Space,
    StringParam,
)
from app.engine.space.sampling import multiple
from app.engine.trial import TrialState


@dataclass(frozen=True)
class _Axis:
    """One node's share of the grid."""

    node: Node
    size: int
    branches: tuple[_Fields, ...] = ()


@dataclass(frozen=True)
class _Fields:
    """A list of sibling nodes: the grid is the product of their axes."""

    axes: tuple[_Axis, ...]

    @property
    def size(self) -> int:
        total = 1
        for axis in self.axes:
            total *= axis.size
        return total


def _fields(nodes: list[Node], prefix: str, problems: list[Problem]) -> _Fields:
    return _Fields(tuple(_axis(n, join_path(prefix, n.name), problems) for n in nodes))


def _axis(node: Node, path: str, problems: list[Problem]) -> _Axis:
    if isinstance(node, Group):
        inner = _fields(node.children, path, problems)
        return _Axis(node, inner.size, (inner,))
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            branches = node.branches if node.auto else [node.branches[node.default_index() or 0]]
            fields = tuple(
                _fields(b.children, join_path(path, b.name), problems) for b in branches
            )
            return _Axis(node, sum(f.size for f in fields), fields)
        return _Axis(node, len(node.values) if node.auto else 1)
    if isinstance(node, BooleanParam):
        return _Axis(node, 2 if node.auto else 1)
    if isinstance(node, NumberParam) and node.auto:
        return _Axis(node, _number_size(node, path, problems))
    return _Axis(node, 1)


def _number_size(node: NumberParam, path: str, problems: list[Problem]) -> int:
    dist = node.distribution
    if dist is not None and dist.is_gaussian:
        problems.append(Problem(path, f"{dist.value} has no bounds to enumerate: grid search "
                                      "needs a bounded distribution with a step"))
        return 1
    if dist is not Distribution.RANDINT and node.effective_step() is None:
        problems.append(Problem(path, "grid search needs a step for a continuous number "
                                      "(set step, or make it an integer)"))
        return 1
    bounds = node.grid_bounds()
    return 1 if bounds is None else bounds[1] - bounds[0] + 1


def _value(axis: _Axis, index: int) -> Any:
    node = axis.node
    if isinstance(node, Group):
        return _decode(axis.branches[0], index)
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            branches = node.branches if node.auto else [node.branches[node.default_index() or 0]]
            for branch, fields in zip(branches, axis.branches, strict=True):
                if index < fields.size:
                    return {BRANCH_KEY: branch.name, **_decode(fields, index)}
                index -= fields.size
            raise IndexError(index)
        return node.values[index] if node.auto else node.default
    if isinstance(node, BooleanParam):
        return bool(index) if node.auto else node.default
    if isinstance(node, NumberParam):
        if not node.auto:
            return node.default
        bounds = node.grid_bounds()
        if bounds is None:  # reported as a problem at construction
            return node.default
        step = 1 if node.distribution is Distribution.RANDINT else node.effective_step() or 1
        value = multiple(bounds[0] + index, step)
        return round(value) if node.gives_int else value
    if isinstance(node, StringParam):
        return node.default
    raise TypeError(f"unknown node {node!r}")


def _decode(fields: _Fields, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    digits: list[int] = []
    for axis in reversed(fields.axes):  # the last field varies fastest
        index, digit = divmod(index, axis.size)
        digits.append(digit)
    for axis, digit in zip(fields.axes, reversed(digits), strict=True):
        out[axis.node.name] = _value(axis, digit)
    return out


def grid_size(space: Space) -> int:
    """The number of points :class:`GridSearcher` enumerates. Raises SpaceError."""
    return GridSearcher(space).size


class GridSearcher:
    """Every point of the space, in order; then None.

    Raises:
        SpaceError: a searched number cannot be enumerated (no step, unbounded).
    """

    def __init__(self, space: Space) -> None:
        problems: list[Problem] = []
        self._root = _fields(space.children, "", problems)
        if problems:
            raise SpaceError(problems)
        self._cursor = 0
        self._taken: set[str] = set()

    @property
    def size(self) -> int:
        """How many points the grid has."""
        return self._root.size

    def point(self, index: int) -> dict[str, Any]:
        """The grid point at ``index`` (0 <= index < size)."""
        if not 0 <= index < self.size:
            raise IndexError(f"grid index {index} outside 0..{self.size - 1}")
        return _decode(self._root, index)

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """The next point not yet taken, or None when the grid is exhausted."""
        while self._cursor < self.size:
            params = self.point(self._cursor)
            self._cursor += 1
            key = _key(params)
            if key not in self._taken:
                self._taken.add(key)
                return params
        return None

    def on_trial_complete(self, trial_id: int, value: float | None, state: TrialState) -> None:
        """Grid search does not learn."""

    def restore(
        self, trial_id: int, params: dict[str, Any], value: float | None, state: TrialState
    ) -> None:
        """Mark a stored point as taken so it is not suggested again."""
        self._taken.add(_key(params))


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)
