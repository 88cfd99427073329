"""Undoable edits of the space tree, one :class:`QUndoCommand` per kind of change.

Every command keeps references to the very node objects it moves around, so
undo puts back the same objects where they were and redo does it again: the
tree after undo is the exact tree before the edit. Commands change the tree only
through the :class:`TreeSurgeon` (the model), which wraps each change in Qt's
begin/end calls.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

from app.engine.space.nodes import Node, Space
from app.views.space_editor.tree import children_of, row_of


class TreeSurgeon(Protocol):
    """The primitive changes commands make; the model implements them."""

    def container_of(self, node: Node) -> Node | Space:
        """The container ``node`` is a child of."""
        ...

    def apply_insert(self, container: Node | Space, row: int, node: Node) -> None:
        """Put ``node`` at ``row`` under ``container``."""
        ...

    def apply_remove(self, container: Node | Space, row: int) -> Node:
        """Take the node at ``row`` out of ``container`` and return it."""
        ...

    def apply_move(self, node: Node, container: Node | Space, row: int) -> None:
        """Move ``node`` so that it ends up at ``row`` under ``container``."""
        ...

    def apply_fields(self, node: Node, values: dict[str, Any]) -> None:
        """Set fields of ``node``."""
        ...

    def apply_children(self, children: list[Node]) -> list[Node]:
        """Replace every top-level node; return the old ones."""
        ...


class InsertNode(QUndoCommand):
    """Insert a node (new or duplicated) under a container."""

    def __init__(self, surgeon: TreeSurgeon, container: Node | Space, row: int, node: Node,
                 text: str) -> None:
        super().__init__(text)
        self._surgeon, self._container, self._row, self._node = surgeon, container, row, node

    def redo(self) -> None:
        self._surgeon.apply_insert(self._container, self._row, self._node)

    def undo(self) -> None:
        self._surgeon.apply_remove(self._container, self._row)


class RemoveNode(QUndoCommand):
    """Delete a node and everything below it."""

    def __init__(self, surgeon: TreeSurgeon, container: Node | Space, row: int,
                 text: str) -> None:
        super().__init__(text)
        self._surgeon, self._container, self._row = surgeon, container, row
        self._node = children_of(container)[row]

    def redo(self) -> None:
        self._surgeon.apply_remove(self._container, self._row)

    def undo(self) -> None:
        self._surgeon.apply_insert(self._container, self._row, self._node)


class MoveNode(QUndoCommand):
    """Move a node to another position, under the same or another container."""

    def __init__(self, surgeon: TreeSurgeon, node: Node, container: Node | Space, row: int,
                 text: str) -> None:
        super().__init__(text)
        self._surgeon, self._node = surgeon, node
        self._source = surgeon.container_of(node)
        self._source_row = row_of(self._source, node)
        self._target, self._target_row = container, row

    def redo(self) -> None:
        self._surgeon.apply_move(self._node, self._target, self._target_row)

    def undo(self) -> None:
        self._surgeon.apply_move(self._node, self._source, self._source_row)


class SetFields(QUndoCommand):
    """Set one or more fields of a node (rename, default, distribution, values...)."""

    def __init__(self, surgeon: TreeSurgeon, node: Node, values: dict[str, Any],
                 text: str) -> None:
        super().__init__(text)
        self._surgeon, self._node = surgeon, node
        self._new = dict(values)
        self._old = {key: getattr(node, key) for key in values}

    def redo(self) -> None:
        self._surgeon.apply_fields(self._node, self._new)

    def undo(self) -> None:
        self._surgeon.apply_fields(self._node, self._old)


class ReplaceChildren(QUndoCommand):
    """Replace the whole tree (an imported file), undoably."""

    def __init__(self, surgeon: TreeSurgeon, children: list[Node], text: str) -> None:
        super().__init__(text)
        self._surgeon = surgeon
        self._other = list(children)

    def redo(self) -> None:
        self._other = self._surgeon.apply_children(self._other)

    def undo(self) -> None:
        self._other = self._surgeon.apply_children(self._other)
