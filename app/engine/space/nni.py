"""NNI's ``search_space.json``: import into a space tree, export from one.

NNI has no plain groups: on export a group's children become dotted keys
(``first_dense.neurons``); on import dotted keys are nested back into groups,
so export -> import keeps the tree. A fixed (non-auto) value exports as a
one-value ``choice``. An integer number keeps being one: it is written with
whole numbers (``[16, 256, 16]``) and a quantised entry whose bounds and step are
whole numbers written as such (not ``16.0``) is read back as an integer; a float
number is written with floats. What NNI's format cannot carry is told by
:func:`nni_losses`: defaults (a number comes back with the middle of its range,
a choice with its first value), and what a fixed node would search (its
distribution, the other values or branches of a fixed choice).
"""

from __future__ import annotations

import math
from typing import Any

from app.engine.errors import Problem, SpaceError, join_path
from app.engine.params import BRANCH_KEY
from app.engine.space.document import MAX_DEPTH, describe, is_number, number_problem
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
from app.engine.space.sampling import multiple
from app.engine.space.validate import MAX_LOG_MU, validate

_ARITY = {
    "uniform": 2, "loguniform": 2, "quniform": 3, "qloguniform": 3,
    "normal": 2, "lognormal": 2, "qnormal": 3, "qlognormal": 3, "randint": 2,
}


def looks_like_nni(doc: object) -> bool:
    """True for a mapping of ``{"_type": ..., "_value": ...}`` entries."""
    return (
        isinstance(doc, dict)
        and bool(doc)
        and "space" not in doc
        and all(isinstance(v, dict) and "_type" in v for v in doc.values())
    )


def from_nni(doc: object) -> Space:
    """A space tree from an NNI search space; every searched node is auto.

    Raises:
        SpaceError: naming each bad entry.
    """
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        raise SpaceError([Problem("", f"an NNI search space is a mapping, got {describe(doc)}")])
    nodes = _entries(doc, "", problems, 0)
    space = Space(nodes)
    problems = problems or validate(space)
    if problems:
        raise SpaceError(problems)
    return space


def _entries(doc: dict[str, Any], prefix: str, problems: list[Problem],
             depth: int) -> list[Node]:
    root = Group("")
    for key, spec in doc.items():
        if key == BRANCH_KEY:
            continue
        *parents, name = str(key).split(".")
        if depth + len(parents) >= MAX_DEPTH:
            problems.append(Problem(join_path(prefix, str(key)[:200]), (
                f"nested deeper than {MAX_DEPTH} levels of groups and branches")))
            continue
        target = root
        for part in parents:
            existing = target.child(part)
            if not isinstance(existing, Group):
                existing = Group(part)
                target.children.append(existing)
            target = existing
        node = _entry(name, spec, join_path(prefix, str(key)), problems,
                      depth + len(parents) + 1)
        if node is not None:
            target.children.append(node)
    return root.children


def _entry(name: str, spec: object, path: str, problems: list[Problem],
           depth: int) -> Node | None:
    if not isinstance(spec, dict) or "_type" not in spec or "_value" not in spec:
        problems.append(Problem(path, "expected {\"_type\": ..., \"_value\": [...]}"))
        return None
    kind, value = spec["_type"], spec["_value"]
    if not isinstance(value, list):
        problems.append(Problem(path, f"_value: expected a list, got {describe(value)}"))
        return None
    if kind == "choice":
        return _choice(name, value, path, problems, depth)
    if not isinstance(kind, str) or kind not in _ARITY:
        problems.append(Problem(path, f"unknown _type {describe(kind)} (expected choice, "
                                      f"{', '.join(_ARITY)})"))
        return None
    if len(value) != _ARITY[kind] or not all(is_number(v) for v in value):
        wanted = f"{kind} needs {_ARITY[kind]} numbers"
        problems.append(Problem(path, f"{wanted}, got {describe(value)}"))
        return None
    bad = [Problem(path, f"_value[{i}]: {why}") for i, v in enumerate(value)
           if (why := number_problem(v)) is not None]
    if bad:
        problems.extend(bad)
        return None
    if "lognormal" in kind and abs(value[0]) > MAX_LOG_MU:
        problems.append(Problem(path, f"_value[0]: mu {describe(value[0])} of {kind} is the "
                                      f"mean of the log; it must lie in ±{MAX_LOG_MU:g}"))
        return None
    return _number(name, Distribution(kind), value)


def _number(name: str, dist: Distribution, value: list[float]) -> NumberParam:
    node = NumberParam(name, auto=True, distribution=dist)
    if dist.is_quantised and _written_whole(value[2]) and (
            dist.is_gaussian or all(_written_whole(v) for v in value[:2])):
        node.integer = True  # how to_nni writes an integer number
    if dist is Distribution.RANDINT:
        node.min, node.max, node.integer = int(value[0]), int(value[1]) - 1, True
        node.default = (node.min + node.max) // 2  # the middle, as for every range
        return node
    if dist.is_gaussian:
        node.mu, node.sigma = value[0], value[1]
        node.default = math.exp(value[0]) if "log" in dist.value else value[0]
    else:
        node.min, node.max = value[0], value[1]
        node.default = (
            math.sqrt(value[0]) * math.sqrt(value[1]) if dist.is_log and min(value) > 0
            else (value[0] + value[1]) / 2
        )
    if dist.is_quantised:
        node.step = value[2]
        bounds = node.grid_bounds()
        if bounds is not None:
            node.default = multiple((bounds[0] + bounds[1]) // 2, value[2])
        elif dist.is_gaussian and value[2] > 0 and math.isfinite(node.default / value[2]):
            node.default = multiple(round(node.default / value[2]), value[2])
            if dist is Distribution.QLOGNORMAL and node.default <= 0:  # its values are > 0
                node.default = value[2]
    if node.integer and math.isfinite(node.default):
        node.default = round(node.default)
    return node


def _written_whole(value: float) -> bool:
    """An int in the JSON (``16``), not a float that happens to be whole (``16.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(name: str, values: list[Any], path: str, problems: list[Problem],
            depth: int) -> Node | None:
    if values and all(isinstance(v, dict) for v in values):
        branches: list[Group] = []
        for index, branch in enumerate(values):
            bname = branch.get(BRANCH_KEY, f"option{index}")
            children = _entries(branch, join_path(path, str(bname)), problems, depth)
            branches.append(Group(str(bname), children))
        return Choice(name, ChoiceKind.GROUPS, branches, branches[0].name, auto=True)
    if any(isinstance(v, dict | list) or v is None for v in values):
        problems.append(Problem(path, "choice mixes groups and plain values"))
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        problems.append(Problem(path, f"_value: {describe(values)} holds a number that is "
                                      "not finite (NaN or infinity)"))
        return None
    if values and all(isinstance(v, bool) for v in values) and len(values) <= 2:
        return BooleanParam(name, default=bool(values[0]), auto=len(set(values)) == 2)
    scalars: list[Scalar] = list(values)
    kind = ChoiceKind.NUMBERS if all(is_number(v) for v in values) else ChoiceKind.STRINGS
    if kind is ChoiceKind.STRINGS:
        scalars = [v if isinstance(v, str) else str(v) for v in values]
    default = scalars[0] if scalars else None
    if len(scalars) == 1 and kind is ChoiceKind.STRINGS:
        return StringParam(name, default=str(default))
    return Choice(name, kind, scalars, default, auto=len(scalars) > 1)


def to_nni(space: Space) -> dict[str, Any]:
    """An NNI search space for ``space`` (see the module docstring for what changes)."""
    out: dict[str, Any] = {}
    _export(space.children, "", out)
    return out


def _export(nodes: list[Node], prefix: str, out: dict[str, Any]) -> None:
    for node in nodes:
        key = join_path(prefix, node.name)
        if isinstance(node, Group):
            _export(node.children, key, out)
        else:
            out[key] = _export_node(node)


def _export_node(node: Node) -> dict[str, Any]:
    if isinstance(node, StringParam):
        return {"_type": "choice", "_value": [node.default]}
    if isinstance(node, BooleanParam):
        return {"_type": "choice", "_value": [False, True] if node.auto else [node.default]}
    if isinstance(node, NumberParam):
        return _export_number(node)
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            branches = node.branches if node.auto else [node.branches[node.default_index() or 0]]
            options = []
            for branch in branches:
                inner: dict[str, Any] = {BRANCH_KEY: branch.name}
                _export(branch.children, "", inner)
                options.append(inner)
            return {"_type": "choice", "_value": options}
        return {"_type": "choice", "_value": list(node.values) if node.auto else [node.default]}
    raise TypeError(f"unknown node {node!r}")


def _export_number(node: NumberParam) -> dict[str, Any]:
    dist = node.effective_distribution()
    if not node.auto or dist is None:
        return {"_type": "choice", "_value": [node.default]}
    if dist is Distribution.RANDINT:
        return {"_type": "randint", "_value": [int(node.min or 0), int(node.max or 0) + 1]}
    first, second = (node.mu, node.sigma) if dist.is_gaussian else (node.min, node.max)
    whole = node.gives_int and not dist.is_gaussian
    value: list[Any] = [_written(first, whole), _written(second, whole)]
    if dist.is_quantised:
        value.append(_written(node.effective_step(), node.gives_int))
    return {"_type": dist.value, "_value": value}


def _written(value: float | int | None, whole: bool) -> float | int:
    """An int for an integer number's bounds and step, a float for everything else."""
    return int(value or 0) if whole else float(value or 0)


def nni_losses(space: Space) -> list[str]:
    """What writing ``space`` as an NNI search space loses, one line per node and field.

    Found by reading the export back: NNI's format has no defaults, and a fixed
    node is written as its one value.
    """
    try:
        back = from_nni(to_nni(space))
    except SpaceError as exc:  # pragma: no cover - every valid space reads back
        return [f"the NNI file does not read back: {exc}"]
    found = dict(back.walk())
    out: list[str] = []
    for path, node in space.walk():
        other = found.get(path)
        if other is None:
            out.append(f"{path}: left out (a branch a fixed choice does not take)")
        elif type(other) is not type(node):
            out.append(f"{path}: a fixed {node.kind_label} comes back as a "
                       f"{other.kind_label} of its one value")
        else:
            out.extend(f"{path}: {key} {_shown(old)} comes back as {_shown(new)}"
                       for key, old, new in _changed_fields(node, other))
    return out


def _changed_fields(node: Node, other: Node) -> list[tuple[str, object, object]]:
    """Fields that differ in meaning (a number's effective distribution and step)."""
    if isinstance(node, NumberParam) and isinstance(other, NumberParam):
        pairs: list[tuple[str, object, object]] = [
            ("integer", node.gives_int, other.gives_int),
            ("distribution", node.effective_distribution(), other.effective_distribution()),
            ("step", _step(node), _step(other)),
            *((key, getattr(node, key), getattr(other, key))
              for key in ("min", "max", "mu", "sigma", "default")),
        ]
    elif isinstance(node, Choice) and isinstance(other, Choice):
        pairs = [("default", node.default, other.default)]
        if node.kind is not ChoiceKind.GROUPS:
            pairs.append(("values", node.values, other.values))
    else:
        pairs = [("default", getattr(node, "default", None), getattr(other, "default", None))]
    return [(key, old, new) for key, old, new in pairs if old != new]


def _step(node: NumberParam) -> float | int | None:
    return None if node.effective_distribution() is Distribution.RANDINT else node.effective_step()


def _shown(value: object) -> str:
    if isinstance(value, Distribution | ChoiceKind):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return "none" if value is None else describe(value)
