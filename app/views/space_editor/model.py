"""The space tree as a Qt item model: structure, cells, and the primitive changes.

Rows are nodes reached by ``internalPointer()``; the branches of a choice of
groups are its children, the children of a group are under it. The model never
changes the tree on its own initiative: :mod:`.edits` pushes undo commands, and
the commands call the ``apply_*`` primitives here, each wrapped in Qt's
begin/end calls. After every change the space is validated; invalid nodes are
shown red with the messages as tooltip.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QUndoStack
from PySide6.QtWidgets import QApplication, QStyle

from app.engine.errors import Problem
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Node,
    NumberParam,
    Space,
    StringParam,
)
from app.views.space_editor.cells import (
    HEADERS,
    Column,
    default_text,
    search_text,
    type_text,
)
from app.views.space_editor.fields import NUMBER_FIELDS
from app.views.space_editor.problems import Findings, examine
from app.views.space_editor.tree import children_of, is_container, row_of

Index = QModelIndex | QPersistentModelIndex

INVALID_BACKGROUND = QColor("#fbd5d5")
INVALID_FOREGROUND = QColor("#8e1b1b")
UNUSED_FOREGROUND = QColor("#9a9a9a")

_CELL_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole,
               Qt.ItemDataRole.CheckStateRole]
_PROBLEM_ROLES = [Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole,
                  Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole]
_LAST = len(Column) - 1



class SpaceTreeBase(QAbstractItemModel):
    """A tree model over a :class:`Space` that the undo commands change in place.

    Owns the undo stack its edits go through. Qt only: GUI thread.

    Events:
        spaceChanged(): after every change of the tree (edits, undo, redo, import).
        validityChanged(bool, str): whether the space is valid and the first problem
            with its path, emitted when either changes.
    """

    spaceChanged = Signal()
    validityChanged = Signal(bool, str)

    def __init__(self, space: Space | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._space = space if space is not None else Space()
        self._parents: dict[int, Node | Space] = {}
        self._findings = Findings()
        self.undo_stack = QUndoStack(self)
        self.read_only = False
        """Shown, not edited: no cell edits, checkboxes or drag and drop (see flags)."""
        self._reindex()
        self._revalidate(emit=False)

    # -- the tree --------------------------------------------------------

    def space(self) -> Space:
        """The live space being edited (change it only through the model's edits)."""
        return self._space

    def set_space(self, space: Space) -> None:
        """Edit ``space`` itself from now on; clears the undo stack."""
        self.beginResetModel()
        self._space = space
        self._reindex()
        self.endResetModel()
        self.undo_stack.clear()
        self._revalidate()

    def problems(self) -> list[Problem]:
        """Every validation problem of the space, each with its tree path."""
        return list(self._findings.problems)

    def is_valid(self) -> bool:
        """True when the space has no problem."""
        return self._findings.valid

    def validity(self) -> tuple[bool, str]:
        """Whether the space is valid, and the first problem (with how many more)."""
        return self._findings.valid, self._findings.summary()

    def node(self, index: Index) -> Node | None:
        """The node of a row (any column), None for the root."""
        return index.internalPointer() if index.isValid() else None

    def item(self, index: Index) -> Node | Space:
        """The node of a row, or the space itself for the invalid (root) index."""
        return self.node(index) or self._space

    def container_of(self, node: Node) -> Node | Space:
        """The container ``node`` is a child of (raises KeyError when not in the tree)."""
        return self._parents[id(node)]

    def in_tree(self, node: Node) -> bool:
        """True while ``node`` is part of the edited tree."""
        return id(node) in self._parents

    def index_of(self, item: Node | Space, column: int = 0) -> QModelIndex:
        """The index of a node's row (invalid for the space itself)."""
        if isinstance(item, Space):
            return QModelIndex()
        return self.createIndex(row_of(self.container_of(item), item), column, item)

    def path_of(self, item: Node | Space) -> str:
        """The dotted tree path of a node (branch names included); empty for the space."""
        names: list[str] = []
        while isinstance(item, Node):
            names.append(item.name)
            item = self.container_of(item)
        return ".".join(reversed(names))

    def index_for_path(self, path: str, column: int = 0) -> QModelIndex:
        """The index of the node at a tree path such as ``optimizer.sgd.lr``; invalid if none."""
        node = self._space.find(path)
        return QModelIndex() if node is None else self.index_of(node, column)

    def is_branch(self, node: Node) -> bool:
        """True for a branch of a choice of groups."""
        return isinstance(self.container_of(node), Choice)

    # -- Qt's model interface --------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, children_of(self.item(parent))[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        container = self.container_of(index.internalPointer())
        return self.index_of(container)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(children_of(self.item(parent)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flag = Qt.ItemFlag
        if not index.isValid():
            return flag.NoItemFlags if self.read_only else flag.ItemIsDropEnabled
        node: Node = index.internalPointer()
        if self.read_only:
            return flag.ItemIsEnabled | flag.ItemIsSelectable
        out = flag.ItemIsEnabled | flag.ItemIsSelectable | flag.ItemIsDragEnabled
        if is_container(node):
            out |= flag.ItemIsDropEnabled
        column = Column(index.column())
        if column is Column.AUTO and _can_search(node):
            out |= flag.ItemIsUserCheckable
        elif _editable(node, column):
            out |= flag.ItemIsEditable
        return out

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        column = Column(index.column())
        problems = self._findings.messages(node)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == Qt.ItemDataRole.EditRole:
            return _edit_value(node, column)
        if role == Qt.ItemDataRole.CheckStateRole and column is Column.AUTO and _can_search(node):
            return Qt.CheckState.Checked if node.auto else Qt.CheckState.Unchecked  # type: ignore[attr-defined]
        if role == Qt.ItemDataRole.ToolTipRole:
            path = self.path_of(node)
            return "\n".join(f"{path}: {m}" for m in problems) if problems else path
        if role == Qt.ItemDataRole.BackgroundRole and problems:
            return INVALID_BACKGROUND
        if role == Qt.ItemDataRole.ForegroundRole:
            if problems:
                return INVALID_FOREGROUND
            if column is Column.SEARCH and _can_search(node) and not node.auto:  # type: ignore[attr-defined]
                return UNUSED_FOREGROUND
        if role == Qt.ItemDataRole.DecorationRole and column is Column.NAME and problems:
            return _warning_icon()
        return None

    def _display(self, node: Node, column: Column) -> str | None:
        if column is Column.NAME:
            return node.name
        if column is Column.TYPE:
            return type_text(node, self.is_branch(node))
        if column is Column.DEFAULT:
            return default_text(node)
        if column is Column.SEARCH:
            return search_text(node)
        return None

    # -- primitive changes, called by the undo commands only ------------

    def apply_insert(self, container: Node | Space, row: int, node: Node) -> None:
        """Put ``node`` at ``row`` under ``container``."""
        self.beginInsertRows(self.index_of(container), row, row)
        children_of(container).insert(row, node)
        self._reindex()
        self.endInsertRows()
        self._changed(container)

    def apply_remove(self, container: Node | Space, row: int) -> Node:
        """Take the node at ``row`` out of ``container`` and return it."""
        self.beginRemoveRows(self.index_of(container), row, row)
        node = children_of(container).pop(row)
        self._reindex()
        self.endRemoveRows()
        self._changed(container)
        return node

    def apply_move(self, node: Node, container: Node | Space, row: int) -> None:
        """Move ``node`` so that it ends up at ``row`` under ``container``."""
        source = self.container_of(node)
        source_row = row_of(source, node)
        if source is container and source_row == row:
            return
        # Qt counts the destination before the row is taken out
        before = row + 1 if source is container and row > source_row else row
        if not self.beginMoveRows(self.index_of(source), source_row, source_row,
                                  self.index_of(container), before):
            raise RuntimeError(f"Qt refused to move {node.name!r} to row {row}")
        children_of(source).pop(source_row)
        children_of(container).insert(row, node)
        self._reindex()
        self.endMoveRows()
        self._changed(source, container)

    def apply_fields(self, node: Node, values: dict[str, Any]) -> None:
        """Set fields of ``node`` (lists are copied)."""
        for key, value in values.items():
            setattr(node, key, list(value) if isinstance(value, list) else value)
        self.dataChanged.emit(self.index_of(node, 0), self.index_of(node, _LAST), _CELL_ROLES)
        if "name" in values:
            self._emit_subtree(node, [Qt.ItemDataRole.ToolTipRole])
        self._changed(self.container_of(node))

    def apply_children(self, children: list[Node]) -> list[Node]:
        """Replace every top-level node; return the old ones."""
        self.beginResetModel()
        old, self._space.children = self._space.children, list(children)
        self._reindex()
        self.endResetModel()
        self._changed()
        return old

    # -- bookkeeping ---------------------------------------------------

    def _changed(self, *containers: Node | Space) -> None:
        for container in containers:
            # a choice of groups lists its branch names in its own row
            if isinstance(container, Choice) and self.in_tree(container):
                self.dataChanged.emit(self.index_of(container, 0),
                                      self.index_of(container, _LAST), _CELL_ROLES)
        self._revalidate()
        self.spaceChanged.emit()

    def _reindex(self) -> None:
        self._parents.clear()
        stack: list[Node | Space] = [self._space]
        while stack:
            item = stack.pop()
            for child in children_of(item):
                self._parents[id(child)] = item
                stack.append(child)

    def _revalidate(self, emit: bool = True) -> None:
        old = self._findings
        self._findings = examine(self._space)
        for _, node in self._space.walk():
            if old.messages(node) != self._findings.messages(node):
                self.dataChanged.emit(self.index_of(node, 0), self.index_of(node, _LAST),
                                      _PROBLEM_ROLES)
        if emit and (old.valid, old.summary()) != self.validity():
            self.validityChanged.emit(*self.validity())

    def _emit_subtree(self, node: Node, roles: list[Qt.ItemDataRole]) -> None:
        children = children_of(node)
        if children:
            parent = self.index_of(node)
            self.dataChanged.emit(self.index(0, 0, parent),
                                  self.index(len(children) - 1, _LAST, parent), roles)
            for child in children:
                self._emit_subtree(child, roles)


def _can_search(node: Node) -> bool:
    return isinstance(node, NumberParam | BooleanParam | Choice)


def _editable(node: Node, column: Column) -> bool:
    if column is Column.NAME:
        return True
    if column is Column.TYPE:
        return isinstance(node, NumberParam)
    if column is Column.DEFAULT:
        return isinstance(node, StringParam | NumberParam | BooleanParam | Choice)
    if column is Column.SEARCH:
        return isinstance(node, NumberParam | Choice)
    return False


def _edit_value(node: Node, column: Column) -> Any:
    if column is Column.NAME:
        return node.name
    if column is Column.TYPE and isinstance(node, NumberParam):
        return "int" if node.integer else "float"
    if column is Column.DEFAULT and _editable(node, column):
        return node.default  # type: ignore[attr-defined]
    if column is Column.SEARCH and isinstance(node, NumberParam):
        return {"distribution": node.distribution,
                **{key: getattr(node, key) for key in NUMBER_FIELDS}}
    if column is Column.SEARCH and isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS:
        return [branch.name for branch in node.branches]
    if column is Column.SEARCH and isinstance(node, Choice):
        return list(node.values)
    return None


def _warning_icon() -> Any:
    app = QApplication.instance()
    style = app.style() if isinstance(app, QApplication) else None
    return style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning) if style else None
