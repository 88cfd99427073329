"""Plain-Python facts about the space tree the editor needs (no Qt here).

Containers are the :class:`Space` root, a :class:`Group`, and a choice of groups
(its branches are its children). Everything the model shows as a row is a
:class:`Node` inside exactly one container; nodes are compared by identity,
never by ``==`` (two duplicated nodes are equal dataclasses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import cast

from app.engine.space.nodes import (
    NAME_RE,
    BooleanParam,
    Choice,
    ChoiceKind,
    Group,
    Node,
    Scalar,
    Space,
    StringParam,
)
from app.engine.space.proposal import propose_number

_SUFFIX = re.compile(r"^(.*)_(\d+)$")


class SpaceEditError(ValueError):
    """An edit the tree's invariants do not allow; the message says what and where."""


class NodeKind(str, Enum):
    """The seven kinds of node a person can add."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    GROUP = "group"
    CHOICE_OF_STRINGS = "choice of strings"
    CHOICE_OF_NUMBERS = "choice of numbers"
    CHOICE_OF_GROUPS = "choice of groups"

    @property
    def base_name(self) -> str:
        """The name a new node of this kind starts with (suffixed when taken)."""
        return _BASE_NAMES[self]


_BASE_NAMES = {
    NodeKind.STRING: "text",
    NodeKind.NUMBER: "number",
    NodeKind.BOOLEAN: "flag",
    NodeKind.GROUP: "group",
    NodeKind.CHOICE_OF_STRINGS: "choice",
    NodeKind.CHOICE_OF_NUMBERS: "choice",
    NodeKind.CHOICE_OF_GROUPS: "choice",
}


BY_NAME_BASE = "param"
"""The name a node added by its name starts with (see :func:`kind_for_name`)."""

_BOOLEAN_NAME = re.compile(r"^(use|is|has|enable|disable|with|do)_\w+$|_enabled$")
_STRING_NAME = re.compile(
    r"^(tag|name|label|note|comment|prefix|suffix)$|_(name|tag|label|path|dir|file)$")
_STRINGS_NAME = re.compile(
    r"^(activation|act|nonlinearity|initializer|init|padding|pooling|loss|criterion)$"
    r"|_activation$")
_GROUPS_NAME = re.compile(r"^(optimizer|optim|scheduler|lr_scheduler|arch|architecture)$")

COMMON_NAMES = ("activation", "batch_size", "beta1", "beta2", "dropout", "epochs",
                "hidden_size", "layers", "learning_rate", "lr", "momentum", "neurons",
                "num_layers", "optimizer", "patience", "scheduler", "units",
                "warmup_steps", "weight_decay")
"""Names the name cell completes (with those of the space itself): common
hyperparameters whose kind or range the editor proposes."""


def kind_for_name(name: str) -> NodeKind:
    """The kind a node added by its name takes when named ``name``: ``use_*``, ``is_*``,
    ``enable_*``, ``*_enabled`` a boolean; ``tag``, ``name``, ``*_name``, ``*_path``,
    ``*_dir``... a string; ``activation``, ``loss``, ``init``... a choice of strings;
    ``optimizer``, ``scheduler``, ``arch`` a choice of groups; anything else a number
    (with the range :func:`propose_number` gives its name)."""
    key = name.lower()
    if _BOOLEAN_NAME.search(key):
        return NodeKind.BOOLEAN
    if _STRING_NAME.search(key):
        return NodeKind.STRING
    if _STRINGS_NAME.search(key):
        return NodeKind.CHOICE_OF_STRINGS
    if _GROUPS_NAME.search(key):
        return NodeKind.CHOICE_OF_GROUPS
    return NodeKind.NUMBER


def kind_of(node: Node) -> NodeKind:
    """The kind of an existing node."""
    if isinstance(node, Choice):
        return {ChoiceKind.STRINGS: NodeKind.CHOICE_OF_STRINGS,
                ChoiceKind.NUMBERS: NodeKind.CHOICE_OF_NUMBERS,
                ChoiceKind.GROUPS: NodeKind.CHOICE_OF_GROUPS}[node.kind]
    if isinstance(node, Group):
        return NodeKind.GROUP
    if isinstance(node, BooleanParam):
        return NodeKind.BOOLEAN
    if isinstance(node, StringParam):
        return NodeKind.STRING
    return NodeKind.NUMBER


def as_new(node: Node) -> bool:
    """Whether ``node`` is still exactly as :func:`new_node` makes one of its kind and
    name (nothing set by hand yet)."""
    return bool(node == new_node(kind_of(node), node.name))


def new_node(kind: NodeKind, name: str) -> Node:
    """A fresh node of ``kind`` that is valid on its own (searched where it can be); a
    number gets the range its name suggests (:func:`propose_number`)."""
    if kind is NodeKind.STRING:
        return StringParam(name, default="")
    if kind is NodeKind.NUMBER:
        return propose_number(name)
    if kind is NodeKind.BOOLEAN:
        return BooleanParam(name, default=False, auto=True)
    if kind is NodeKind.GROUP:
        return Group(name)
    if kind is NodeKind.CHOICE_OF_STRINGS:
        texts: list[Scalar] = ["a", "b"]
        return Choice(name, kind=ChoiceKind.STRINGS, values=texts, default="a", auto=True)
    if kind is NodeKind.CHOICE_OF_NUMBERS:
        numbers: list[Scalar] = [1, 2, 3]
        return Choice(name, kind=ChoiceKind.NUMBERS, values=numbers, default=1, auto=True)
    return Choice(name, kind=ChoiceKind.GROUPS, values=[Group("a"), Group("b")], default="a",
                  auto=True)


def is_container(item: Node | Space) -> bool:
    """True for the root, a group, and a choice of groups."""
    return isinstance(item, Space | Group) or (
        isinstance(item, Choice) and item.kind is ChoiceKind.GROUPS)


def children_of(item: Node | Space) -> list[Node]:
    """The live list of rows under ``item`` (mutate it only through the model)."""
    if isinstance(item, Space | Group):
        return item.children
    if isinstance(item, Choice) and item.kind is ChoiceKind.GROUPS:
        return cast(list[Node], item.values)
    return []


def row_of(container: Node | Space, node: Node) -> int:
    """Position of ``node`` (by identity) among the children of ``container``.

    Raises:
        SpaceEditError: ``node`` is not a child of ``container``.
    """
    for row, child in enumerate(children_of(container)):
        if child is node:
            return row
    raise SpaceEditError(f"{node.name!r} is not a child of this container")


def contains(ancestor: Node | Space, node: Node) -> bool:
    """True when ``node`` is ``ancestor`` or lies anywhere below it."""
    if ancestor is node:
        return True
    return any(contains(child, node) for child in children_of(ancestor))


def check_accepts(container: Node | Space, node: Node, where: str) -> None:
    """Raise unless ``node`` may live under ``container`` (``where`` names the container).

    Raises:
        SpaceEditError: ``container`` takes no children, or is a choice of groups
            and ``node`` is not a group.
    """
    if not is_container(container):
        label = container.kind_label if isinstance(container, Node) else "space"
        raise SpaceEditError(f"{where}: a {label} has no children; "
                             "add to a group or a choice of groups")
    if isinstance(container, Choice) and not isinstance(node, Group):
        raise SpaceEditError(f"{where}: the branches of a choice of groups are groups, "
                             f"not a {node.kind_label}")


def check_name(name: object, where: str) -> str:
    """The name, if it is an identifier.

    Raises:
        SpaceEditError: not a text, or not letters, digits and _ starting with a letter.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpaceEditError(f"{where}: invalid name {name!r}: use letters, digits and _, "
                             "starting with a letter")
    return name


def unique_name(base: str, taken: Iterable[str]) -> str:
    """``base`` or, when taken, ``stem_2``, ``stem_3``... (``lr_2`` continues as ``lr_3``)."""
    names = set(taken)
    if base not in names:
        return base
    match = _SUFFIX.match(base)
    stem, number = (match.group(1), int(match.group(2))) if match else (base, 1)
    while True:
        number += 1
        candidate = f"{stem}_{number}"
        if candidate not in names:
            return candidate


def sibling_names(container: Node | Space, exclude: Node | None = None) -> list[str]:
    """Names of the children of ``container`` other than ``exclude``."""
    return [c.name for c in children_of(container) if c is not exclude]
