"""Proposing nodes: sensible fields for a number by its name, and a whole tree read from
the ``sweeplab.param("name", default)`` calls of a training script (no Qt here).

Numbers (:func:`propose_number`), one rule for the editor's new nodes and for a
script's parameters:

==========================================  ===========================================
a number named like                          is proposed as
==========================================  ===========================================
``lr``, ``learning_rate``, ``*_lr``, ``eta``  float, loguniform [1e-5, 0.1], default 1e-3
``weight_decay``, ``wd``, ``l2``, ``decay``   float, loguniform [1e-6, 0.01], default 1e-4
``dropout``, ``drop*``                        float, uniform [0, 0.5], default 0.1
``momentum``, ``beta*``                       float, uniform [0, 0.99], default 0.9
``epochs``, ``layers``, ``units``, ``n_*``…   int, uniform [1, 10] step 1, default 1
anything else                                 float, uniform [0, 1], default 0.5
==========================================  ===========================================

An integer given as a script's default ``k`` (> 0) searches ``[max(1, k // 4), 4k]``
step 1; a float default outside the rule's range widens it (log scales by tens).

Scripts (:func:`params_in_script`): Python files are read with :mod:`ast` (calls of
``sweeplab.param``, also under ``import sweeplab as sl`` or ``from sweeplab import
param``; a default that is a literal is kept); text that is not Python, or does not
parse, is searched with a regular expression for the same calls. The SDK is Python
only; other languages read ``params.json`` or ``{name}`` placeholders, which mark
nothing in a script, so there is nothing else to read.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

from app.engine.space.nodes import (
    NAME_RE,
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Scalar,
    Space,
)

_LR = re.compile(r"^(lr|eta|learning_rate)$|_lr$|^lr_|_learning_rate$")
_DECAY = re.compile(r"^(wd|l2|decay|weight_decay|l2_reg|reg)$|_decay$|_wd$")
_DROPOUT = re.compile(r"^drop")
_MOMENTUM = re.compile(r"^(momentum|beta\d*)$|_momentum$")
_INTEGER = re.compile(
    r"^(epochs?|layers?|units|neurons|hidden|depth|width|heads|steps|patience|"
    r"batch_size|num_\w+|n_\w+|\w+_size|\w+_dim|\w+_layers|\w+_units|\w+_epochs)$")

_MARKED = re.compile(
    r"""sweeplab\s*\.\s*param\s*\(\s*(?P<q>['"])(?P<name>[^'"\n]+)(?P=q)"""
    r"""\s*(?:,\s*(?:default\s*=\s*)?(?P<default>[^,)\n]+))?""")


@dataclass(frozen=True)
class ScriptParam:
    """One ``sweeplab.param`` call of a script: the dotted name, the literal default
    (None when none is given or it is not a literal), and the line it is on."""

    name: str
    default: Scalar | None
    line: int


@dataclass
class Proposal:
    """A proposed space, and what could not be proposed (each note names the line)."""

    space: Space
    notes: list[str] = field(default_factory=list)


def leaf_name(path: str) -> str:
    """The last part of a dotted name (``optimizer.lr`` -> ``lr``)."""
    return path.rsplit(".", 1)[-1]


def integer_like(name: str) -> bool:
    """Whether a number called ``name`` is most likely a whole number (epochs, units...)."""
    return bool(_INTEGER.match(name.lower()))


def propose_number(name: str, default: float | int | None = None, *,
                   integer: bool | None = None) -> NumberParam:
    """A searched number called ``name``, with a range and default that fit the name
    (see the module's table); ``default`` (a script's value) is kept and the range
    widened to hold it; ``integer`` forces the kind (None: from the default's type,
    else from the name)."""
    key = leaf_name(name).lower()
    if integer is None:
        integer = isinstance(default, int) if default is not None else integer_like(key)
    if integer:
        return _integer(name, None if default is None else round(default))
    number = None if default is None else float(default)
    if _LR.search(key):
        dist, low, high, fallback = Distribution.LOGUNIFORM, 1e-5, 0.1, 1e-3
    elif _DECAY.search(key):
        dist, low, high, fallback = Distribution.LOGUNIFORM, 1e-6, 0.01, 1e-4
    elif _DROPOUT.search(key):
        dist, low, high, fallback = Distribution.UNIFORM, 0.0, 0.5, 0.1
    elif _MOMENTUM.search(key):
        dist, low, high, fallback = Distribution.UNIFORM, 0.0, 0.99, 0.9
    else:
        dist, low, high, fallback = Distribution.UNIFORM, 0.0, 1.0, 0.5
    if number is None:
        number = fallback
    elif dist.is_log and number <= 0:
        dist, low, high = Distribution.UNIFORM, min(low, number), max(high, -number or 1.0)
    elif dist.is_log:
        low = min(low, 10.0 ** math.floor(math.log10(number)))
        high = max(high, 10.0 ** math.ceil(math.log10(number)))
    elif not low <= number <= high:
        low, high = min(low, number, -abs(number)), max(high, abs(number) * 2)
    return NumberParam(leaf_name(name), default=number, auto=True, distribution=dist,
                       min=low, max=high)


def _integer(name: str, default: int | None) -> NumberParam:
    if default is None:
        low, high, default = 1, 10, 1
    elif default > 0:
        low, high = max(1, default // 4), max(default * 4, 10)
    else:
        low, high = default, default + 10
    return NumberParam(leaf_name(name), default=default, auto=True,
                       distribution=Distribution.UNIFORM, min=low, max=high, step=1,
                       integer=True)


# -- reading a script ----------------------------------------------------------------


def params_in_script(text: str, filename: str = "") -> list[ScriptParam]:
    """The ``sweeplab.param`` calls of a script, in order, each name once (its first call).

    ``filename`` picks the reader: ``.py`` (or no name) is parsed as Python; other
    files, and Python that does not parse, are searched with a regular expression.
    """
    found: list[ScriptParam] | None = None
    if not filename or filename.endswith((".py", ".pyw")):
        try:
            found = _from_ast(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError):
            found = None
    if found is None:
        found = _from_text(text)
    seen: set[str] = set()
    out: list[ScriptParam] = []
    for param in found:
        if param.name not in seen:
            seen.add(param.name)
            out.append(param)
    return out


def _from_ast(tree: ast.AST) -> list[ScriptParam]:
    modules: set[str] = {"sweeplab"}
    functions: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name == "sweeplab")
        elif isinstance(node, ast.ImportFrom) and node.module == "sweeplab":
            functions.update(a.asname or a.name for a in node.names if a.name == "param")
    out: list[ScriptParam] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = (isinstance(func, ast.Attribute) and func.attr == "param"
                  and isinstance(func.value, ast.Name) and func.value.id in modules) or (
            isinstance(func, ast.Name) and func.id in functions)
        first = node.args[0]
        if not called or not isinstance(first, ast.Constant) or not isinstance(first.value,
                                                                                str):
            continue
        default_node = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "default"), None)
        out.append(ScriptParam(first.value, _literal(default_node), node.lineno))
    out.sort(key=lambda p: p.line)
    return out


def _literal(node: ast.expr | None) -> Scalar | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return _scalar(value)


def _scalar(value: object) -> Scalar | None:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e300:
        return value
    return None


def _from_text(text: str) -> list[ScriptParam]:
    out: list[ScriptParam] = []
    for match in _MARKED.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        raw = (match.group("default") or "").strip()
        try:
            default = _scalar(ast.literal_eval(raw)) if raw else None
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            default = None
        out.append(ScriptParam(match.group("name").strip(), default, line))
    return out


# -- proposing a tree ------------------------------------------------------------------


def propose_leaf(name: str, default: Scalar | None) -> Node:
    """The node proposed for one parameter called ``name`` with a script's ``default``:
    a boolean, a number (:func:`propose_number`), or for a text a choice of strings
    holding it (add the other values to search it)."""
    leaf = leaf_name(name)
    if isinstance(default, bool):
        return BooleanParam(leaf, default=default, auto=True)
    if isinstance(default, str):
        values: list[Scalar] = [default]
        return Choice(leaf, kind=ChoiceKind.STRINGS, values=values, default=default)
    return propose_number(name, default)


def space_from_script(params: list[ScriptParam]) -> Proposal:
    """The tree a script's parameters suggest.

    ``a.b`` puts ``b`` in a group ``a``; when the script also reads ``a`` itself with a
    text default (``param("optimizer", "adam")``), ``a`` is a choice of groups with that
    branch (the SDK gives a choice's own name its branch). Names that are not
    identifiers, and a name that is both a value and a group, are left out with a note.
    """
    notes: list[str] = []
    by_name = {p.name: p for p in params}
    prefixes = {p.name.rsplit(".", i)[0] for p in params for i in range(1, p.name.count(".") + 1)}
    space = Space()
    containers: dict[str, Group | Space] = {"": space}

    def container(path: str, line: int) -> Group | Space | None:
        if path in containers:
            return containers[path]
        parent_path, _, name = path.rpartition(".")
        parent = container(parent_path, line)
        if parent is None:
            return None
        read = by_name.get(path)
        if read is not None and isinstance(read.default, str) and NAME_RE.match(read.default):
            branch = Group(read.default)
            choice = Choice(name, kind=ChoiceKind.GROUPS, values=[branch], default=branch.name,
                            auto=True)
            parent.children.append(choice)
            containers[path] = branch
            return branch
        group = Group(name)
        parent.children.append(group)
        containers[path] = group
        return group

    for param in params:
        parts = param.name.split(".")
        if not all(NAME_RE.match(part) for part in parts):
            notes.append(f"line {param.line}: {param.name!r} is not a dotted name of "
                         "identifiers (letters, digits and _, starting with a letter)")
            continue
        if param.name in prefixes:
            read = param
            if not (isinstance(read.default, str) and NAME_RE.match(read.default)):
                notes.append(f"line {param.line}: {param.name!r} is read as a value and as a "
                             "group; give it its branch name as default to make it a choice")
            container(param.name, param.line)
            continue
        parent = container(param.name.rpartition(".")[0], param.line)
        if parent is not None:
            parent.children.append(propose_leaf(param.name, param.default))
    return Proposal(space, notes)
