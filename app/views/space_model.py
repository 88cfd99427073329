"""A read-only tree model over the engine's space tree (the editor builds on it)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    Group,
    Node,
    NumberParam,
    Space,
    StringParam,
)

COLUMNS = ("Name", "Type", "Auto", "Default", "Search")
Index = QModelIndex | QPersistentModelIndex


def _children(node: Node | Space) -> list[Node]:
    if isinstance(node, Space | Group):
        return list(node.children)
    if isinstance(node, Choice):
        return list(node.branches)
    return []


def _search_text(node: Node) -> str:
    if isinstance(node, NumberParam) and node.distribution is not None:
        dist = node.distribution
        if dist.is_gaussian:
            text = f"{dist.value}(mu={node.mu}, sigma={node.sigma})"
        else:
            text = f"{dist.value}[{node.min}, {node.max}]"
        return text + (f" step {node.step}" if node.step is not None else "")
    if isinstance(node, Choice) and not node.branches:
        return ", ".join(str(v) for v in node.values)
    if isinstance(node, BooleanParam):
        return "false, true" if node.auto else ""
    return ""


class SpaceTreeModel(QAbstractItemModel):
    """Rows are nodes reached by ``internalPointer()``; branches show under their choice."""

    def __init__(self, space: Space, parent: Any = None) -> None:
        super().__init__(parent)
        self._space = space
        self._parents: dict[int, Node | Space] = {}
        self._index_parents()

    def _index_parents(self) -> None:
        self._parents.clear()
        stack: list[Node | Space] = [self._space]
        while stack:
            item = stack.pop()
            for child in _children(item):
                self._parents[id(child)] = item
                stack.append(child)

    def set_space(self, space: Space) -> None:
        """Show another space."""
        self.beginResetModel()
        self._space = space
        self._index_parents()
        self.endResetModel()

    def _node(self, index: Index) -> Node | Space:
        if index.isValid():
            node: Node = index.internalPointer()
            return node
        return self._space

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        children = _children(self._node(parent))
        if not 0 <= row < len(children) or not 0 <= column < len(COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = self._parents.get(id(index.internalPointer()))
        if parent is None or parent is self._space:
            return QModelIndex()
        grand = self._parents.get(id(parent), self._space)
        return self.createIndex(_children(grand).index(parent), 0, parent)  # type: ignore[arg-type]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(_children(self._node(parent)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        node: Node = index.internalPointer()
        column = index.column()
        if column == 0:
            return node.name
        if column == 1:
            return node.kind_label
        if column == 2:
            return "AUTO" if getattr(node, "auto", False) else ""
        if column == 3:
            if isinstance(node, NumberParam | BooleanParam | StringParam | Choice):
                return str(node.default)
            return ""
        return _search_text(node)
