"""The space file format: a versioned document of plain data (YAML or JSON).

::

    version: 1
    space:
      - {name: lr, type: number, auto: true, distribution: loguniform,
         min: 1.0e-4, max: 0.1, default: 0.01}
      - {name: layers, type: number, integer: true, auto: true,
         distribution: quniform, min: 1, max: 4, default: 2}
      - {name: batch_size, type: choice, values: [16, 32, 64], auto: true, default: 32}
      - {name: activation, type: choice, values: [relu, tanh], default: relu}
      - {name: use_bn, type: boolean, auto: true, default: false}
      - {name: tag, type: string, default: baseline}
      - name: optimizer
        type: choice
        auto: true
        default: adam
        values:
          - {name: sgd, type: group, children: [...]}
          - {name: adam, type: group, children: [...]}
      - {name: first_dense, type: group, children: [...]}

:func:`space_from_dict` reads every problem it can find before raising, each
named by its dotted tree path; :func:`space_to_dict` writes the canonical form,
so ``file -> tree -> file`` is lossless.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from typing import Any

from app.engine.errors import Problem, SpaceError, join_path
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
from app.engine.space.validate import validate

SPACE_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_DEPTH = 32
"""Deepest nesting of groups and branches a space file may have (a deeper one is a mistake,
and would exhaust Python's recursion limit in every tree walk)."""
MAX_MAGNITUDE = 1e300
"""Largest absolute value of a number field; beyond it, differences and products overflow."""

_TYPES = ("string", "number", "boolean", "group", "choice")
_COMMON = {"name", "type"}
_FIELDS: dict[str, set[str]] = {
    "string": _COMMON | {"default", "auto"},
    "number": _COMMON
    | {"default", "auto", "distribution", "min", "max", "mu", "sigma", "step", "integer"},
    "boolean": _COMMON | {"default", "auto"},
    "group": _COMMON | {"children"},
    "choice": _COMMON | {"values", "default", "auto", "kind"},
}


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 3, 6, 6, 6
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 70, 70, 70


def describe(value: object) -> str:
    """A short, quoted rendering of a user's value for messages."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        sign = "negative " if value < 0 else ""
        return f"a {sign}whole number of about {round(value.bit_length() * math.log10(2))} digits"
    try:
        text = _SHORT.repr(value)  # bounded: a shared or self-nested value stays cheap
    except (ValueError, RecursionError):  # an int over Python's digit limit
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def number_problem(value: object) -> str | None:
    """Why ``value`` cannot be a number field (not a number, not finite, too large), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {describe(value)}"
    try:
        magnitude = abs(float(value))
    except OverflowError:  # an int beyond any float
        magnitude = math.inf
    if math.isnan(magnitude) or (isinstance(value, float) and math.isinf(value)):
        return f"must be finite, got {value}"
    if magnitude > MAX_MAGNITUDE:
        return f"{describe(value)} is too large (numbers are limited to ±{MAX_MAGNITUDE:g})"
    return None


def is_number(value: object) -> bool:
    """A real int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Collects problems while turning plain data into nodes."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.depth = 0

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def nodes(self, items: object, prefix: str, where: str) -> list[Node]:
        if not isinstance(items, list):
            self.problem(where, f"expected a list of parameters, got {describe(items)}")
            return []
        if self.depth >= MAX_DEPTH:
            self.problem(where, f"nested deeper than {MAX_DEPTH} levels of groups and branches")
            return []
        self.depth += 1
        out: list[Node] = []
        try:
            for index, item in enumerate(items):
                node = self.node(item, prefix, f"{where}[{index}]")
                if node is not None:
                    out.append(node)
        finally:
            self.depth -= 1
        return out

    def node(self, item: object, prefix: str, where: str) -> Node | None:
        if not isinstance(item, dict):
            self.problem(where, f"expected a mapping with name and type, got {describe(item)}")
            return None
        name = item.get("name")
        if not isinstance(name, str) or not name:
            self.problem(where, "missing 'name' (a text such as lr)")
            return None
        path = join_path(prefix, name)
        kind = item.get("type")
        if kind not in _TYPES:
            self.problem(
                path, f"unknown type {describe(kind)} (expected one of {', '.join(_TYPES)})"
            )
            return None
        for key in sorted(set(item) - _FIELDS[str(kind)]):
            self.problem(path, f"unknown field {describe(key)} for a {kind}")
        readers: dict[str, Callable[[dict[str, Any], str, str], Node]] = {
            "string": self._string,
            "number": self._number_node,
            "boolean": self._boolean,
            "group": self._group,
            "choice": self._choice,
        }
        return readers[str(kind)](item, name, path)

    def _flag(self, item: dict[str, Any], key: str, path: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            self.problem(path, f"{key}: expected true or false, got {describe(value)}")
            return False
        return value

    def _number(self, item: dict[str, Any], key: str, path: str) -> float | int | None:
        value = item.get(key)
        if value is None:
            return None
        problem = number_problem(value)
        if problem is not None:
            self.problem(path, f"{key}: {problem}")
            return None
        return value  # type: ignore[no-any-return]

    def _string(self, item: dict[str, Any], name: str, path: str) -> Node:
        default = item.get("default", "")
        if not isinstance(default, str):
            self.problem(path, f"default: expected a text, got {describe(default)}")
            default = ""
        return StringParam(name, default=default, auto=self._flag(item, "auto", path))

    def _boolean(self, item: dict[str, Any], name: str, path: str) -> Node:
        default = item.get("default", False)
        if not isinstance(default, bool):
            self.problem(path, f"default: expected true or false, got {describe(default)}")
            default = False
        return BooleanParam(name, default=default, auto=self._flag(item, "auto", path))

    def _number_node(self, item: dict[str, Any], name: str, path: str) -> Node:
        dist_name = item.get("distribution")
        dist: Distribution | None = None
        if dist_name is not None:
            try:
                dist = Distribution(dist_name)
            except ValueError:
                names = ", ".join(d.value for d in Distribution)
                self.problem(
                    path, f"distribution: unknown {describe(dist_name)} (expected one of {names})"
                )
        default = self._number(item, "default", path)
        return NumberParam(
            name,
            default=0 if default is None else default,
            auto=self._flag(item, "auto", path),
            distribution=dist,
            min=self._number(item, "min", path),
            max=self._number(item, "max", path),
            mu=self._number(item, "mu", path),
            sigma=self._number(item, "sigma", path),
            step=self._number(item, "step", path),
            integer=self._flag(item, "integer", path),
        )

    def _group(self, item: dict[str, Any], name: str, path: str) -> Node:
        children = self.nodes(item.get("children", []), path, f"{path}.children")
        return Group(name, children=children)

    def _choice(self, item: dict[str, Any], name: str, path: str) -> Node:
        raw = item.get("values", [])
        auto = self._flag(item, "auto", path)
        if not isinstance(raw, list):
            self.problem(path, f"values: expected a list, got {describe(raw)}")
            raw = []
        kind = self._choice_kind(item, raw, path)
        default = item.get("default")
        values: list[Scalar] | list[Group]
        if kind is ChoiceKind.GROUPS:
            branches: list[Group] = []
            for index, entry in enumerate(raw):
                node = self.node(entry, path, f"{path}.values[{index}]")
                if isinstance(node, Group):
                    branches.append(node)
                elif node is not None:
                    self.problem(join_path(path, node.name), "a branch must be a group")
            values = branches
        else:
            values = [v for v in raw if isinstance(v, str | int | float)]
            infinite = [v for v in values if isinstance(v, float) and not math.isfinite(v)]
            if infinite:
                self.problem(path, f"values: {infinite[0]} is not a finite number")
        if default is not None and not isinstance(default, str | int | float):
            self.problem(path, f"default: expected a value, got {describe(default)}")
            default = None
        return Choice(name, kind=kind, values=values, default=default, auto=auto)

    def _choice_kind(self, item: dict[str, Any], raw: list[Any], path: str) -> ChoiceKind:
        declared = item.get("kind")
        if declared is not None:
            try:
                kind = ChoiceKind(declared)
            except ValueError:
                self.problem(
                    path,
                    f"kind: unknown {describe(declared)} (expected strings, numbers or groups)",
                )
            else:
                bad = [v for v in raw if _choice_kind_of(v) is not kind]
                if bad:
                    self.problem(
                        path, f"values: {describe(bad[0])} is not one of the {kind.value}"
                    )
                return kind
        kinds = {_choice_kind_of(v) for v in raw}
        if None in kinds:
            bad = next(v for v in raw if _choice_kind_of(v) is None)
            self.problem(path, f"values: {describe(bad)} is not a string, number or group")
            kinds.discard(None)
        if len(kinds) > 1:
            self.problem(path, "values: mixes " + " and ".join(sorted(k.value for k in kinds if k)))
        if ChoiceKind.GROUPS in kinds:
            return ChoiceKind.GROUPS
        if ChoiceKind.NUMBERS in kinds and ChoiceKind.STRINGS not in kinds:
            return ChoiceKind.NUMBERS
        return ChoiceKind.STRINGS


def _choice_kind_of(value: object) -> ChoiceKind | None:
    if isinstance(value, dict):
        return ChoiceKind.GROUPS
    if isinstance(value, str):
        return ChoiceKind.STRINGS
    if is_number(value):
        return ChoiceKind.NUMBERS
    return None


def space_from_dict(doc: object) -> Space:
    """Read a space document (see the module docstring) and validate it.

    Raises:
        SpaceError: every problem found, each with its path.
    """
    reader = _Reader()
    if not isinstance(doc, dict):
        raise SpaceError([Problem("", f"expected a mapping with version and space, got "
                                      f"{describe(doc)}")])
    version = doc.get("version")
    if version is None:
        reader.problem("version", f"missing; add 'version: {SPACE_VERSION}'")
    elif version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        reader.problem(
            "version",
            f"unknown version {describe(version)} (this Sweeplab reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))})",
        )
    for key in sorted(set(doc) - {"version", "space"}):
        reader.problem("", f"unknown top-level field {describe(key)}")
    if "space" not in doc:
        reader.problem("space", "missing: the list of parameters")
    space = Space(reader.nodes(doc.get("space", []), "", "space"))
    # Validate what could be read too, but say nothing more about a node whose
    # fields could not be read: its stand-in values would only add noise.
    unreadable = {p.path for p in reader.problems}
    problems = reader.problems + [p for p in validate(space) if p.path not in unreadable]
    if problems:
        raise SpaceError(problems)
    return space


def space_to_dict(space: Space) -> dict[str, Any]:
    """The canonical document for ``space``; ``space_from_dict`` reads it back equal."""
    return {"version": SPACE_VERSION, "space": [node_to_dict(n) for n in space.children]}


def node_to_dict(node: Node) -> dict[str, Any]:
    """One node in its canonical document form."""
    out: dict[str, Any] = {"name": node.name}
    if isinstance(node, StringParam):
        out.update(type="string", default=node.default)
        if node.auto:
            out["auto"] = True
    elif isinstance(node, BooleanParam):
        out.update(type="boolean", auto=node.auto, default=node.default)
    elif isinstance(node, NumberParam):
        out.update(type="number", auto=node.auto)
        if node.integer:
            out["integer"] = True
        if node.distribution is not None:
            out["distribution"] = node.distribution.value
        for key in ("min", "max", "mu", "sigma", "step"):
            value = getattr(node, key)
            if value is not None:
                out[key] = value
        out["default"] = node.default
    elif isinstance(node, Group):
        out.update(type="group", children=[node_to_dict(c) for c in node.children])
    elif isinstance(node, Choice):
        out.update(type="choice", auto=node.auto)
        if not node.values:
            out["kind"] = node.kind.value
        out["default"] = node.default
        out["values"] = [node_to_dict(v) if isinstance(v, Group) else v for v in node.values]
    else:  # pragma: no cover - every node type is handled above
        raise TypeError(f"unknown node {node!r}")
    return out
