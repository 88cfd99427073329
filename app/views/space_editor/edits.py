"""The editable space model: every change is an undo command, drag and drop included.

The invariants every edit keeps: only groups are branches of a choice of groups
(and only containers take children); sibling names are unique (adding,
duplicating and moving into another container suffix a taken name, ``lr_2``;
renaming to a taken name is refused); a node never moves into itself.
Problems of values (min > max, a log range through zero) are not refused but
marked by validation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, QObject, Qt, Signal

from app.engine.space.nodes import Choice, ChoiceKind, Group, Node, NumberParam, Space
from app.views.space_editor.cells import Column
from app.views.space_editor.commands import (
    InsertNode,
    MoveNode,
    RemoveNode,
    ReplaceChildren,
    SetFields,
)
from app.views.space_editor.fields import parse_range_text, plan_changes, untouched
from app.views.space_editor.model import Index, SpaceTreeBase
from app.views.space_editor.tree import (
    BY_NAME_BASE,
    NodeKind,
    SpaceEditError,
    as_new,
    check_accepts,
    check_name,
    children_of,
    contains,
    kind_for_name,
    kind_of,
    new_node,
    row_of,
    sibling_names,
    unique_name,
)

MIME_TYPE = "application/x-sweeplab-space-nodes"


class SpaceTreeModel(SpaceTreeBase):
    """The space tree, editable cell by cell and by the methods below, all undoable.

    The methods raise :class:`SpaceEditError` (a ``ValueError``) for an edit the
    invariants refuse; ``setData`` (what the view's editors call) returns False
    instead and emits ``editRefused``. Qt only: GUI thread.

    Events:
        spaceChanged(): after every change of the tree (edits, undo, redo, import).
        validityChanged(bool, str): whether the space is valid, and its first problem.
        editRefused(str): a cell edit was refused; the message names the node and why.
    """

    editRefused = Signal(str)

    def __init__(self, space: Space | None = None, parent: QObject | None = None) -> None:
        super().__init__(space, parent)
        self._by_name: dict[int, Node] = {}
        """Nodes added by their name, by id (kept alive so the ids stay theirs): their
        kind follows their name while they are as new."""
        self.last_added: Node | None = None
        """The node added last (by :meth:`add_node`, or in place of one by its name)."""

    def set_space(self, space: Space) -> None:
        self._by_name.clear()
        self.last_added = None
        super().set_space(space)

    # -- cells -----------------------------------------------------------

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        node = self.node(index)
        if node is None:
            return False
        column = Column(index.column())
        try:
            if column is Column.AUTO:
                if role != Qt.ItemDataRole.CheckStateRole:
                    return False
                changes = {"auto": _checked(value)}
            elif role != Qt.ItemDataRole.EditRole:
                return False
            elif (column is Column.SEARCH and isinstance(node, Choice)
                  and node.kind is ChoiceKind.GROUPS):
                self.set_branches(index, _names(value))
                return True
            else:
                changes = self._cell_changes(node, column, value)
            self.set_fields(index, **changes)
        except SpaceEditError as exc:
            self.editRefused.emit(str(exc))
            return False
        return True

    def _cell_changes(self, node: Node, column: Column, value: Any) -> dict[str, Any]:
        where = self.path_of(node)
        if column is Column.NAME:
            return {"name": value}
        if column is Column.TYPE:
            if value not in ("int", "float", True, False):
                raise SpaceEditError(f"{where}: type: expected int or float, got {value!r}")
            return {"integer": value in ("int", True)}
        if column is Column.DEFAULT:
            return {"default": value}
        if isinstance(node, NumberParam):
            if isinstance(value, str):  # typed as text: 1e-5..0.1 log
                return parse_range_text(value, f"{where}: range")
            if not isinstance(value, Mapping):
                raise SpaceEditError(f"{where}: expected the distribution and its parameters, "
                                     f"got {value!r}")
            return dict(value)
        return {"values": value}

    # -- edits -------------------------------------------------------------

    def set_fields(self, index: Index, **changes: Any) -> bool:
        """Set fields of the node at ``index`` (name, default, auto, min, values...).

        Returns:
            True when something changed (one undo step), False when the values were
            already those.

        Raises:
            SpaceEditError: an unknown field, a value of the wrong type, an invalid
                or taken name, a choice default not among its values.
        """
        node = self._require(index)
        where = self.path_of(node)
        if list(changes) == ["name"] and self._follows_name(node):
            renamed = self._retype_by_name(node, changes["name"], where)
            if renamed:
                return True
        values = plan_changes(node, changes, where)
        if not values:
            return False
        container = self.container_of(node)
        old_name = node.name
        if "name" in values and values["name"] in sibling_names(container, exclude=node):
            raise SpaceEditError(f"{where}: name {values['name']!r} is taken by a sibling")
        text = (f"Rename {where} to {values['name']}" if list(values) == ["name"]
                else f"Set {', '.join(values)} of {where}")
        with self._macro(text):
            self.undo_stack.push(SetFields(self, node, values, text))
            if ("name" in values and isinstance(container, Choice)
                    and container.default == old_name):
                self.undo_stack.push(SetFields(self, container, {"default": values["name"]},
                                               text))
        return True

    def _follows_name(self, node: Node) -> bool:
        """A node added by its name, not edited yet: naming it gives its kind."""
        if self._by_name.get(id(node)) is not node or isinstance(self.container_of(node),
                                                                   Choice):
            return False
        return untouched(node) if isinstance(node, NumberParam) else as_new(node)

    def _retype_by_name(self, node: Node, name: object, where: str) -> bool:
        """Name a node added by its name, replacing it by a new node of the kind the
        name gives (:func:`kind_for_name`) when that is another kind; one undo step.
        False when the kind stays (the caller renames it)."""
        name = check_name(name, where)
        kind = kind_for_name(name)
        if kind is kind_of(node):
            return False
        container = self.container_of(node)
        if name in sibling_names(container, exclude=node):
            raise SpaceEditError(f"{where}: name {name!r} is taken by a sibling")
        replacement = new_node(kind, name)
        self._by_name[id(replacement)] = replacement
        if self.last_added is node:
            self.last_added = replacement
        row = row_of(container, node)
        text = f"Add {kind.value} {name} (for its name) in place of {where}"
        with self._macro(text):
            self.undo_stack.push(RemoveNode(self, container, row, text))
            self.undo_stack.push(InsertNode(self, container, row, replacement, text))
        return True

    def add_node(self, kind: NodeKind, parent: Index = QModelIndex(),
                 row: int | None = None, *, by_name: bool = False) -> QModelIndex:
        """Add a new node of ``kind`` under ``parent`` (invalid: top level) at ``row`` (end).

        A taken name gets a suffix; the first branch of a choice without a usable
        default becomes its default. ``by_name``: a number until it is named; naming
        it (while nothing else was set) gives it the kind its name says
        (:func:`kind_for_name`), a branch of a choice of groups stays a group.

        Raises:
            SpaceEditError: ``parent`` takes no children, or takes only groups.
            ValueError: ``row`` is outside the parent's rows.
        """
        container = self.item(_first_column(parent))
        where = self.path_of(container) or "the top level"
        if isinstance(container, Choice) and by_name:
            kind, by_name = NodeKind.GROUP, False
        base = "branch" if isinstance(container, Choice) \
            else BY_NAME_BASE if by_name else kind.base_name
        node = new_node(kind, unique_name(base, sibling_names(container)))
        check_accepts(container, node, where)
        row = self._check_row(container, row, where)
        self.last_added = node
        if by_name:
            self._by_name[id(node)] = node
        text = f"Add {kind.value} {node.name} to {where}"
        with self._macro(text):
            self.undo_stack.push(InsertNode(self, container, row, node, text))
            if isinstance(container, Choice) and container.default_index() is None:
                self.undo_stack.push(SetFields(self, container, {"default": node.name}, text))
        return self.index_of(node)

    def insert_nodes(self, nodes: Sequence[Node], parent: Index = QModelIndex(),
                     row: int | None = None, text: str = "") -> list[QModelIndex]:
        """Insert ``nodes`` (a paste, a proposal) under ``parent`` from ``row`` (None: at
        the end), as one undo step; a taken name gets a suffix. Returns their indexes.

        Raises:
            SpaceEditError: ``parent`` takes no children, or takes only groups.
            ValueError: ``row`` is outside the parent's rows.
        """
        container = self.item(_first_column(parent))
        where = self.path_of(container) or "the top level"
        for node in nodes:
            check_accepts(container, node, where)
        row = self._check_row(container, row, where)
        text = text or f"Insert {len(nodes)} nodes into {where}"
        with self._macro(text):
            for offset, node in enumerate(nodes):
                node.name = unique_name(node.name, sibling_names(container))
                self.undo_stack.push(InsertNode(self, container, row + offset, node, text))
            if (isinstance(container, Choice) and nodes
                    and container.default_index() is None):
                self.undo_stack.push(SetFields(self, container, {"default": nodes[0].name},
                                               text))
        return [self.index_of(node) for node in nodes]

    def set_branches(self, index: Index, names: Sequence[str]) -> None:
        """Make the branches of a choice of groups ``names``, in that order; one undo step.

        A branch whose name is listed stays (with its children); the other branches
        that have children are renamed, in order, to the new names; any other new name
        adds a branch holding a copy of the children of the last branch that has some
        (a new choice's ``a`` given lr, then typed as ``sgd, adam``: ``a`` becomes
        ``sgd``, the empty ``b`` goes, and ``adam`` gets its own lr); branches left
        over are deleted. The default follows a renamed branch, else is the first.

        Raises:
            SpaceEditError: not a choice of groups, no name, an invalid or repeated name.
        """
        choice = self._require(index)
        where = self.path_of(choice)
        if not isinstance(choice, Choice) or choice.kind is not ChoiceKind.GROUPS:
            raise SpaceEditError(f"{where}: only a choice of groups has branches")
        names = [check_name(name, where) for name in names]
        if not names:
            raise SpaceEditError(f"{where}: a choice of groups needs at least one branch")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SpaceEditError(f"{where}: branch {repeated[0]!r} is listed twice")
        old = list(choice.branches)
        if [b.name for b in old] == names:
            return
        spare = [b for b in old if b.name not in names and b.children]
        gone = [b for b in old if b.name not in names and not b.children]
        template = next((b for b in reversed(old) if b.children), old[-1] if old else None)
        default = choice.default
        text = f"Set the branches of {where} to {', '.join(names)}"
        with self._macro(text):
            final: list[Group] = []
            for name in names:
                branch = next((b for b in old if b.name == name), None)
                if branch is None and spare:
                    branch = spare.pop(0)
                    if default == branch.name:
                        default = name
                    self.undo_stack.push(SetFields(self, branch, {"name": name}, text))
                elif branch is None:
                    children = copy.deepcopy(template.children) if template else []
                    branch = Group(name, children=children)
                    self.undo_stack.push(InsertNode(self, choice, len(choice.values), branch,
                                                    text))
                final.append(branch)
            for left in spare + gone:
                self.undo_stack.push(RemoveNode(self, choice, row_of(choice, left), text))
            for position, node in enumerate(final):
                if row_of(choice, node) != position:
                    self.undo_stack.push(MoveNode(self, node, choice, position, text))
            if default not in names:
                default = names[0]
            if choice.default != default:
                self.undo_stack.push(SetFields(self, choice, {"default": default}, text))

    def remove_node(self, index: Index) -> None:
        """Delete the node at ``index`` and everything below it."""
        node = self._require(index)
        container = self.container_of(node)
        self.undo_stack.push(RemoveNode(self, container, row_of(container, node),
                                        f"Delete {self.path_of(node)}"))

    def duplicate_node(self, index: Index) -> QModelIndex:
        """Copy the node at ``index`` (with everything below it) just after it; returns the copy."""
        node = self._require(index)
        container = self.container_of(node)
        twin = copy.deepcopy(node)
        twin.name = unique_name(node.name, sibling_names(container))
        self.undo_stack.push(InsertNode(self, container, row_of(container, node) + 1, twin,
                                        f"Duplicate {self.path_of(node)}"))
        return self.index_of(twin)

    def move_node(self, index: Index, parent: Index, row: int | None = None) -> QModelIndex:
        """Move the node at ``index`` under ``parent`` before ``row`` (None: at the end).

        ``row`` counts the parent's rows as they are before the move, as a drop does.

        Raises:
            SpaceEditError: into itself, into a node without children, a non-group
                into a choice of groups.
            ValueError: ``row`` is outside the parent's rows.
        """
        node = self._require(index)
        self.move_nodes([node], self.item(_first_column(parent)), row)
        return self.index_of(node)

    def move_nodes(self, nodes: Sequence[Node], container: Node | Space,
                   row: int | None = None) -> None:
        """Move ``nodes`` in order under ``container`` before ``row``; one undo step."""
        where = self.path_of(container) or "the top level"
        for node in nodes:
            self._check_move(node, container, where)
        row = self._check_row(container, row, where)
        if (len(nodes) == 1 and self.container_of(nodes[0]) is container
                and row_of(container, nodes[0]) in (row, row - 1)):
            return  # dropped where it is
        text = (f"Move {nodes[0].name} to {where}" if len(nodes) == 1
                else f"Move {len(nodes)} nodes to {where}")
        with self._macro(text):
            for node in nodes:
                # positions are computed as the moves happen, in pre-move row counts
                source = self.container_of(node)
                final = row - 1 if source is container and row_of(source, node) < row else row
                if not (source is container and row_of(source, node) == final):
                    self.undo_stack.push(MoveNode(self, node, container, final, text))
                if source is not container and node.name in sibling_names(container, node):
                    new = unique_name(node.name, sibling_names(container))
                    self.undo_stack.push(SetFields(self, node, {"name": new}, text))
                row = final + 1

    def replace_children(self, children: list[Node], text: str) -> None:
        """Replace the whole tree with ``children`` (an import), as one undo step."""
        self.undo_stack.push(ReplaceChildren(self, children, text))

    # -- drag and drop -----------------------------------------------------

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        nodes: list[Node] = []
        for index in indexes:
            node = self.node(index)
            if node is not None and not any(n is node for n in nodes):
                nodes.append(node)
        # a node inside another dragged node travels with it
        nodes = [n for n in nodes if not any(o is not n and contains(o, n) for o in nodes)]
        payload = {"model": id(self), "rows": [self._row_path(n) for n in nodes]}
        data = QMimeData()
        data.setData(MIME_TYPE, QByteArray(json.dumps(payload).encode()))
        return data

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: Index) -> bool:
        nodes = self._decode(data)
        if not nodes or action != Qt.DropAction.MoveAction:
            return False
        container = self.item(_first_column(parent))
        try:
            for node in nodes:
                self._check_move(node, container, "")
        except SpaceEditError:
            return False
        return True

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: Index) -> bool:
        """Move the dragged nodes here. The move is done (and undoable) when this returns.

        The model has no ``removeRows``, so the view's clean-up after a move-drop
        (removing the source rows) does nothing, as it must.
        """
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        nodes = self._decode(data)
        self.move_nodes(nodes, self.item(_first_column(parent)), None if row < 0 else row)
        return True

    # -- helpers -----------------------------------------------------------

    def _row_path(self, node: Node) -> list[int]:
        rows: list[int] = []
        item: Node | Space = node
        while isinstance(item, Node):
            container = self.container_of(item)
            rows.append(row_of(container, item))
            item = container
        return rows[::-1]

    def _decode(self, data: QMimeData) -> list[Node]:
        if not data.hasFormat(MIME_TYPE):
            return []
        try:
            payload = json.loads(bytes(data.data(MIME_TYPE).data()).decode())
        except ValueError:
            return []
        if not isinstance(payload, dict) or payload.get("model") != id(self):
            return []
        nodes: list[Node] = []
        for rows in payload.get("rows", []):
            item: Node | Space = self.space()
            for row in rows:
                children = children_of(item)
                if not isinstance(row, int) or not 0 <= row < len(children):
                    return []
                item = children[row]
            if isinstance(item, Node):
                nodes.append(item)
        return nodes

    def _check_move(self, node: Node, container: Node | Space, where: str) -> None:
        if isinstance(container, Node) and contains(node, container):
            raise SpaceEditError(f"{self.path_of(node)}: cannot move a node into itself")
        check_accepts(container, node, where)

    def _check_row(self, container: Node | Space, row: int | None, where: str) -> int:
        count = len(children_of(container))
        if row is None:
            return count
        if not 0 <= row <= count:
            raise ValueError(f"row {row} is outside 0..{count} of {where}")
        return row

    def _require(self, index: Index) -> Node:
        node = self.node(index)
        if node is None:
            raise SpaceEditError("no node given: select a node first")
        return node

    @contextmanager
    def _macro(self, text: str) -> Iterator[None]:
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()


def _first_column(index: Index) -> QModelIndex:
    if not index.isValid():
        return QModelIndex()
    return index.model().index(index.row(), 0, index.parent())


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in (p.strip() for p in value.split(",")) if v]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    raise SpaceEditError(f"branches: expected a list of names, got {value!r}")


def _checked(value: Any) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    if isinstance(value, int) and not isinstance(value, bool):
        return value == Qt.CheckState.Checked.value
    if isinstance(value, bool):
        return value
    raise SpaceEditError(f"auto: expected a check state, got {value!r}")
