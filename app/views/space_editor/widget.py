"""The space editor: the tree with its toolbar, the validation line, and the preview."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.docio import parse_text
from app.engine.errors import Problem, SpaceError, ValidationError
from app.engine.search.base import Algorithm
from app.engine.space.document import SPACE_VERSION
from app.engine.space.files import SpaceFormat, dump_space, load_space, space_from_document
from app.engine.space.nodes import Choice, Group, Node, Space
from app.engine.space.proposal import params_in_script, space_from_script
from app.views.space_editor.cells import Column
from app.views.space_editor.delegates import SpaceItemDelegate
from app.views.space_editor.edits import SpaceTreeModel
from app.views.space_editor.help import EDITOR_HELP, completions
from app.views.space_editor.preview import SpacePreview
from app.views.space_editor.tree import NodeKind, SpaceEditError, is_container
from app.views.space_editor.view import SpaceTreeView

PREVIEW_DELAY_MS = 150
ERROR_STYLE = "color: #c62828;"
NOTICE_STYLE = "color: #a15c00;"
FILE_FILTER = "Space files (*.yaml *.yml *.json);;All files (*)"


class Placement(Enum):
    """Where a new node goes relative to the current one."""

    AUTO = "auto"  # into a container, otherwise after the current node
    CHILD = "child"
    SIBLING = "sibling"


class SpaceEditor(QWidget):
    """Edit a space tree: add, rename, drag, delete, undo; see samples and the grid size.

    ``space()`` hands out a copy; ``set_space`` loads a copy, so the caller's
    objects are never changed behind its back. Qt only: GUI thread.

    Events:
        changed(): the space was edited (also by undo and redo; not by set_space).
        validityChanged(bool, str): whether the space may run, and the first problem.
        bannerClicked(): the banner's button (see :meth:`set_banner`) was clicked.
    """

    changed = Signal()
    validityChanged = Signal(bool, str)
    bannerClicked = Signal()

    def __init__(self, space: Space | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SpaceTreeModel(copy.deepcopy(space) if space else Space(), self)
        self.undo_stack = self.model.undo_stack
        self.tree = SpaceTreeView()
        self.tree.setModel(self.model)
        self.delegate = SpaceItemDelegate(self.tree)
        self.delegate.names = lambda node: completions(self.model.space(), node)
        self.tree.setItemDelegate(self.delegate)
        self._pending: tuple[Node, int, QPersistentModelIndex] | None = None
        """A row added by its name (by Enter after the last one, by Ctrl+Enter...), its
        undo index, and the row current before: left without an edit, it goes again."""
        self._setup_tree()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.preview = SpacePreview()
        self.preview.resampleRequested.connect(self.refresh_preview)
        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self._refusal = ""
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(NOTICE_STYLE)
        self.banner_button = QPushButton()
        self.banner_button.clicked.connect(self.bannerClicked)
        self._menu_buttons: list[QToolButton] = []
        self._build_actions()
        self._layout()
        self.model.spaceChanged.connect(self._on_changed)
        self.model.validityChanged.connect(self._on_validity)
        self.model.editRefused.connect(self._on_refused)
        self.model.rowsInserted.connect(self._show_inserted)
        self.delegate.rowEnded.connect(lambda index: self._guard(lambda: self._row_ended(index)))
        self.delegate.closeEditor.connect(self._editor_closed)
        self.model.modelReset.connect(self.tree.expandAll)
        self.tree.selectionModel().currentChanged.connect(lambda *_: self._update_actions())
        self.tree.selectionModel().currentChanged.connect(
            lambda *_: QTimer.singleShot(0, self._drop_unused))
        self.tree.expandAll()
        self._show_status()
        self._update_actions()
        self.refresh_preview()

    # -- the document ------------------------------------------------------

    def space(self) -> Space:
        """A copy of the edited space."""
        return copy.deepcopy(self.model.space())

    def set_space(self, space: Space) -> None:
        """Edit a copy of ``space`` (not an edit: no ``changed``); it is saved from now on.

        A space other than the edited one clears the undo stack; the edited space
        itself (shown again after Save or Settings) keeps its history.
        """
        if space == self.model.space():
            self.undo_stack.setClean()
            return
        self.model.set_space(copy.deepcopy(space))
        self.undo_stack.setClean()
        self._refusal = ""
        self.tree.expandAll()
        self.tree.fit_columns()
        self._show_status()
        self._update_actions()
        self.refresh_preview()

    def set_algorithm(self, algorithm: Algorithm | None) -> None:
        """The experiment's searcher: grid facts are a problem only for grid search."""
        self.preview.algorithm = algorithm
        self.refresh_preview()

    def problems(self) -> list[Problem]:
        """Every problem of the edited space (empty: it may run)."""
        return self.model.problems()

    def validity(self) -> tuple[bool, str]:
        """Whether the space may run, and the first problem with its path."""
        return self.model.validity()

    def is_modified(self) -> bool:
        """True when edited since ``set_space`` (or since the last ``setClean``)."""
        return not self.undo_stack.isClean()

    def set_read_only(self, read_only: bool) -> None:
        """Show the space without letting it change: no cell edit, add, delete, drag,
        import, undo or redo (export stays)."""
        self.model.read_only = read_only
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop if read_only
                                  else QAbstractItemView.DragDropMode.InternalMove)
        self._update_actions()

    def is_read_only(self) -> bool:
        """Whether edits are off (see :meth:`set_read_only`)."""
        return self.model.read_only

    def set_banner(self, text: str, button: str = "") -> None:
        """A notice above the tree (none when ``text`` is empty), with a button labelled
        ``button`` when given; a click emits ``bannerClicked``."""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))
        self.banner_button.setText(button)
        self.banner_button.setVisible(bool(text and button))

    def import_space(self, path: Path) -> None:
        """Replace the tree by the space in ``path`` (ours or NNI's); one undo step.

        Raises:
            DocumentError: the file cannot be read or parsed.
            SpaceError: it is not a valid space (every problem with its path).
        """
        space = load_space(path)
        self.model.replace_children(space.children, f"Import {path.name}")
        self.tree.expandAll()

    def paste_space(self, text: str) -> list[QModelIndex]:
        """Insert the nodes of a space written as YAML or JSON, next to the current node
        (into it when it is a group), as one undo step; the first becomes current.

        ``text`` is a space document (``version`` and ``space``, or NNI's), a list of
        nodes as in a document's ``space``, or one node.

        Raises:
            DocumentError: not YAML or JSON.
            SpaceError: not a valid space (every problem with its path).
            SpaceEditError: the current node cannot take the nodes.
        """
        doc = parse_text(text, "the pasted text")
        if isinstance(doc, list) or (isinstance(doc, dict) and "type" in doc):
            doc = {"version": SPACE_VERSION, "space": doc if isinstance(doc, list) else [doc]}
        nodes = space_from_document(doc, "the pasted text").children
        if not nodes:
            return []
        current = self.current_index()
        node = self.model.node(current)
        into = node is not None and is_container(node) and (
            not isinstance(node, Choice) or all(isinstance(n, Group) for n in nodes))
        if into:
            indexes = self.model.insert_nodes(nodes, current, text="Paste")
        elif node is None:
            indexes = self.model.insert_nodes(nodes, text="Paste")
        else:
            indexes = self.model.insert_nodes(nodes, current.parent(), current.row() + 1,
                                              text="Paste")
        self.tree.setCurrentIndex(indexes[0])
        return indexes

    def propose_from_script(self, path: Path) -> list[str]:
        """Add a node for each ``sweeplab.param`` call of the script at ``path`` that the
        top level does not have yet (one undo step). Returns what was added, by name.

        Raises:
            OSError: the script cannot be read.
        """
        text = path.read_text(encoding="utf-8", errors="replace")
        proposal = space_from_script(params_in_script(text, path.name))
        taken = {n.name for n in self.model.space().children}
        nodes = [n for n in proposal.space.children if n.name not in taken]
        notes = list(proposal.notes)
        if nodes:
            self.model.insert_nodes(nodes, text=f"Propose from {path.name}")
            self.tree.setCurrentIndex(self.model.index_of(nodes[0]))
        elif not proposal.space.children:
            notes.insert(0, f"{path.name} has no sweeplab.param(\"name\", default) call")
        else:
            notes.insert(0, f"every parameter of {path.name} is in the space already")
        if notes:
            self._on_refused("; ".join(notes))
        return [n.name for n in nodes]

    def export_space(self, path: Path, fmt: SpaceFormat = SpaceFormat.SWEEPLAB) -> None:
        """Write the space to ``path``: ours as YAML (JSON for ``.json``), NNI as JSON.

        Raises:
            SpaceError: the space is invalid (fix it first).
            OSError: the file cannot be written.
        """
        if not self.model.is_valid():
            raise SpaceError(self.model.problems())
        text = "json" if path.suffix.lower() == ".json" else "yaml"
        path.write_text(dump_space(self.model.space(), fmt, text), encoding="utf-8")

    def refresh_preview(self) -> None:
        """Sample the space again now (edits do it after a short pause)."""
        self._timer.stop()
        self.preview.show_space(self.model.space(), self.model.problems())

    # -- editing the selection ---------------------------------------------

    def current_index(self) -> QModelIndex:
        """The current row (column 0), invalid when none."""
        index = self.tree.currentIndex()
        return index.siblingAtColumn(0) if index.isValid() else QModelIndex()

    def select(self, path: str) -> QModelIndex:
        """Make the node at a tree path current; returns its index (invalid if none)."""
        index = self.model.index_for_path(path)
        self.tree.setCurrentIndex(index)
        return index

    def add(self, kind: NodeKind, placement: Placement = Placement.AUTO) -> QModelIndex:
        """Add a node of ``kind`` next to the current one and make it current.

        Raises:
            SpaceEditError: the current node cannot take it (see ``SpaceTreeModel.add_node``).
        """
        return self._add(kind, placement, by_name=False)

    def add_by_name(self, placement: Placement = Placement.AUTO) -> QModelIndex:
        """Add a node whose kind follows the name it is given (a number until then; see
        ``SpaceTreeModel.add_node``) next to the current one and make it current.

        Raises:
            SpaceEditError: the current node cannot take it.
        """
        return self._add(NodeKind.NUMBER, placement, by_name=True)

    def _add(self, kind: NodeKind, placement: Placement, by_name: bool) -> QModelIndex:
        current = self.current_index()
        node = self.model.node(current)
        if placement is Placement.AUTO:
            fits = node is not None and is_container(node) and (
                not isinstance(node, Choice) or kind is NodeKind.GROUP or by_name)
            placement = Placement.CHILD if fits else Placement.SIBLING
        if placement is Placement.CHILD:
            index = self.model.add_node(kind, current, by_name=by_name)
        elif node is None:
            index = self.model.add_node(kind, by_name=by_name)
        else:
            index = self.model.add_node(kind, current.parent(), current.row() + 1,
                                        by_name=by_name)
        self.tree.setCurrentIndex(index)
        return index

    def delete_selected(self) -> None:
        """Delete the current node; the next one (or its parent) becomes current."""
        current = self.current_index()
        if not current.isValid():
            return
        parent, row = current.parent(), current.row()
        self.model.remove_node(current)
        count = self.model.rowCount(parent)
        self.tree.setCurrentIndex(self.model.index(min(row, count - 1), 0, parent)
                                  if count else parent)

    def duplicate_selected(self) -> QModelIndex:
        """Duplicate the current node after it; the copy becomes current."""
        current = self.current_index()
        if not current.isValid():
            return QModelIndex()
        index = self.model.duplicate_node(current)
        self.tree.setCurrentIndex(index)
        return index

    # -- building ------------------------------------------------------------

    def _setup_tree(self) -> None:
        tree = self.tree
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        tree.setDropIndicatorShown(True)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._context_menu)
        tree.header().setStretchLastSection(True)
        tree.setColumnWidth(Column.AUTO, 48)

    def _build_actions(self) -> None:
        self.add_menu = self._kind_menu("+ Add", Placement.AUTO)
        self.add_after_action = self._action(
            "Add after", lambda: self._add_by_keys(Placement.SIBLING),
            [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.add_after_action.setToolTip("Add a node after this one (Ctrl+Enter, also while "
                                         "typing in a cell); its name gives its kind")
        self.add_inside_action = self._action(
            "Add inside", lambda: self._add_by_keys(Placement.CHILD),
            [QKeySequence("Ctrl+Shift+Return"), QKeySequence("Ctrl+Shift+Enter")])
        self.add_inside_action.setToolTip("Add a node into this group, or a branch to this "
                                          "choice of groups (Ctrl+Shift+Enter)")
        # no F1: Help's own key (HelpContents) holds it window-wide
        self.help_action = self._action("Keys…", self._show_help, [])
        self.help_action.setToolTip("How to build a space quickly: keys, completion, "
                                    "kinds from names")
        self.child_menu = self._kind_menu("Add child", Placement.CHILD)
        self.sibling_menu = self._kind_menu("Add sibling", Placement.SIBLING)
        self.duplicate_action = self._action("Duplicate", self.duplicate_selected,
                                             [QKeySequence("Ctrl+D")])
        self.delete_action = self._action("Delete", self.delete_selected,
                                          [QKeySequence(QKeySequence.StandardKey.Delete)])
        # wherever the focus is in the window while the editor shows (a cell editor's
        # own text undo comes first: it takes the keys while it has the focus)
        self.undo_action = self._action("Undo", self.undo_stack.undo, [QKeySequence("Ctrl+Z")],
                                        Qt.ShortcutContext.WindowShortcut)
        self.redo_action = self._action("Redo", self.undo_stack.redo,
                                        [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")],
                                        Qt.ShortcutContext.WindowShortcut)
        # fixed labels keep the toolbar still; what would be undone is in the tooltip
        for action, can, text, prefix in (
                (self.undo_action, self.undo_stack.canUndoChanged,
                 self.undo_stack.undoTextChanged, "Undo"),
                (self.redo_action, self.undo_stack.canRedoChanged,
                 self.undo_stack.redoTextChanged, "Redo")):
            action.setEnabled(False)
            can.connect(action.setEnabled)  # while read-only the stack does not change
            text.connect(lambda t, a=action, p=prefix: a.setToolTip(f"{p} {t}".strip()))
        self.paste_action = self._action("Paste", self._paste_clipboard,
                                         [QKeySequence(QKeySequence.StandardKey.Paste)])
        self.paste_action.setToolTip("Insert the space (YAML or JSON, one node, a list of "
                                     "nodes or a whole space file) held by the clipboard")
        self.propose_action = self._action("Propose from script…", self._propose_dialog, [])
        self.propose_action.setToolTip("Add a node for each sweeplab.param(\"name\", default) "
                                       "your training script reads")
        self.import_action = self._action("Import…", self._import_dialog, [])
        self.export_menu = QMenu("Export", self)
        for label, fmt in (("Sweeplab space (YAML or JSON)…", SpaceFormat.SWEEPLAB),
                           ("NNI search_space.json…", SpaceFormat.NNI)):
            self.export_menu.addAction(label, functools.partial(self._export_dialog, fmt))

    def _kind_menu(self, title: str, placement: Placement) -> QMenu:
        menu = QMenu(title, self)
        for kind in NodeKind:
            action = menu.addAction(kind.value)
            action.setData(kind.value)  # Qt hands str-based enums back as str
            action.triggered.connect(lambda _=False, k=kind: self._guard(
                lambda: self._add_and_edit(k, placement)))
        return menu

    def _action(self, text: str, slot: Callable[[], object], keys: list[QKeySequence],
                context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut
                ) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setShortcutContext(context)
        action.triggered.connect(lambda: self._guard(slot))
        self.addAction(action)
        return action

    def _layout(self) -> None:
        toolbar = QToolBar()
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for menu in (self.add_menu, self.child_menu, self.sibling_menu):
            button = QToolButton()
            button.setText(menu.title())
            button.setMenu(menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            toolbar.addWidget(button)
            self._menu_buttons.append(button)
        add = self._menu_buttons[0]
        # a click adds a node whose name gives its kind; the arrow picks the kind
        add.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        add.clicked.connect(lambda: self._guard(lambda: self._add_by_keys(Placement.AUTO)))
        add.setToolTip("Add a node next to this one (into a group) and type its name: a "
                       "number, or the kind its name says (use_bn: a boolean, tag: a string, "
                       "activation: a choice, optimizer: a choice of groups). The arrow "
                       "picks the kind. Ctrl+Enter adds after, Ctrl+Shift+Enter inside.")
        toolbar.addActions([self.duplicate_action, self.delete_action])
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action, self.redo_action])
        toolbar.addSeparator()
        toolbar.addActions([self.paste_action, self.propose_action, self.import_action])
        export = QToolButton()
        export.setText("Export")
        export.setMenu(self.export_menu)
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        toolbar.addWidget(export)
        toolbar.addSeparator()
        toolbar.addAction(self.help_action)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.status)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        banner = QHBoxLayout()
        banner.setContentsMargins(6, 4, 6, 4)
        banner.addWidget(self.banner, 1)
        banner.addWidget(self.banner_button)
        self.set_banner("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(banner)
        layout.addWidget(toolbar)
        layout.addWidget(splitter, 1)

    # -- reactions -------------------------------------------------------------

    def _add_and_edit(self, kind: NodeKind, placement: Placement) -> None:
        self._finish_edit()
        index = self.add(kind, placement)
        self.tree.edit(index)

    def _add_by_keys(self, placement: Placement) -> None:
        """Ctrl+Enter, Ctrl+Shift+Enter, a click on + Add: an open cell is committed
        first, then a node added by its name opens its name (left unnamed, it goes)."""
        self._finish_edit()
        before = QPersistentModelIndex(self.current_index())
        index = self.add_by_name(placement)
        node = self.model.node(index)
        if node is not None:
            self._pending = (node, self.undo_stack.index(), before)
        self.tree.edit(index)

    def _finish_edit(self) -> None:
        """Commit and close the open cell editor, if any (the row stays current)."""
        current = self.tree.currentIndex()
        editor = self.tree.indexWidget(current) if current.isValid() else None
        if editor is None:
            self._drop_unused()
            return
        parent, row = QPersistentModelIndex(current.parent()), current.row()
        self.delegate.commitData.emit(editor)
        self.delegate.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)
        # naming a node added by its name may have put another node in its place
        self.tree.setCurrentIndex(self.model.index(row, 0, parent))
        self._drop_unused()  # a row Enter added and left as it was goes first

    def _row_ended(self, index: QModelIndex) -> None:
        """Enter at the end of the row added last adds the next one and opens its name:
        into a new group, into the first branch of a new choice of groups, else after
        it. Left without an edit, that row goes again (:meth:`_drop_unused`)."""
        node = self.model.node(index)
        if node is None or node is not self.model.last_added or self.model.read_only:
            return
        if isinstance(node, Group):
            added = self.model.add_node(NodeKind.NUMBER, index, by_name=True)
        elif isinstance(node, Choice) and node.branches:
            branch = self.model.index_of(node.branches[0])
            added = self.model.add_node(NodeKind.NUMBER, branch, by_name=True)
        else:
            added = self.model.add_node(NodeKind.NUMBER, index.parent(), index.row() + 1,
                                        by_name=True)
        new = self.model.node(added)
        assert new is not None
        self._pending = (new, self.undo_stack.index(), QPersistentModelIndex(index))
        self.tree.setCurrentIndex(added)
        self.tree.edit(added)

    def _editor_closed(self, _editor: QWidget, hint: QAbstractItemDelegate.EndEditHint
                       ) -> None:
        if hint == QAbstractItemDelegate.EndEditHint.RevertModelCache:  # Escape
            self._drop_unused()
        else:  # Enter may go on to the next cell of the row: see once it has
            QTimer.singleShot(0, self._drop_unused)

    def _drop_unused(self) -> None:
        """Take away the row Enter added when it was left without an edit (Escape, a
        click elsewhere): no undo step stays for it."""
        if (self._pending is None or self.tree.state() == QAbstractItemView.State.EditingState
                or self._refusal):  # a refused name: the row stays, with the message
            return
        node, undo_index, before = self._pending
        self._pending = None
        if not self.model.in_tree(node) or self.undo_stack.index() != undo_index:
            return
        current = self.model.node(self.current_index())
        self.undo_stack.undo()
        forget = QUndoCommand()  # pushing an obsolete command drops the redo of the add
        forget.setObsolete(True)
        self.undo_stack.push(forget)
        if current is node and before.isValid():
            self.tree.setCurrentIndex(self.model.index(before.row(), 0, before.parent()))

    def _show_help(self) -> None:
        QMessageBox.information(self, "Building a space", EDITOR_HELP)

    def _show_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        """Show new rows and what they hold (a new choice's branches, a pasted group)."""
        self.tree.expand(parent)
        for row in range(first, last + 1):
            self.tree.expandRecursively(self.model.index(row, 0, parent))

    def _guard(self, action: Callable[[], object]) -> None:
        """Run an action; a refused edit is shown in the status line."""
        try:
            action()
        except ValueError as exc:
            self._on_refused(str(exc))

    def _on_changed(self) -> None:
        self._refusal = ""
        self._show_status()
        self._update_actions()
        self._timer.start()
        self.changed.emit()

    def _on_validity(self, valid: bool, reason: str) -> None:
        self._show_status()
        self.validityChanged.emit(valid, reason)

    def _on_refused(self, message: str) -> None:
        self._refusal = message
        self._show_status()

    def _show_status(self) -> None:
        valid, reason = self.model.validity()
        if self._refusal:
            self.status.setStyleSheet(NOTICE_STYLE)
            self.status.setText(f"Not done: {self._refusal}")
        else:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText("" if valid else f"The space cannot run: {reason}")
        self.status.setVisible(bool(self.status.text()))

    def _update_actions(self) -> None:
        node = self.model.node(self.current_index())
        editable = not self.model.read_only
        self.duplicate_action.setEnabled(editable and node is not None)
        self.delete_action.setEnabled(editable and node is not None)
        for menu in (self.add_menu, self.sibling_menu):
            menu.setEnabled(editable)
        self.add_after_action.setEnabled(editable)
        for button in self._menu_buttons:
            button.setEnabled(editable)
        for action in (self.import_action, self.paste_action, self.propose_action):
            action.setEnabled(editable)
        self.undo_action.setEnabled(editable and self.undo_stack.canUndo())
        self.redo_action.setEnabled(editable and self.undo_stack.canRedo())
        container = editable and node is not None and is_container(node)
        self.child_menu.setEnabled(container)
        self.add_inside_action.setEnabled(editable)  # a node without children says why
        for action in self.child_menu.actions():
            action.setEnabled(container and (not isinstance(node, Choice)
                                             or NodeKind(action.data()) is NodeKind.GROUP))

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        # the keyboard's adds, with their keys shown, beside the menus by kind
        menu.addActions([self.add_after_action, self.add_inside_action])
        for sub in (self.add_menu, self.child_menu, self.sibling_menu):
            menu.addMenu(sub)
        menu.addActions([self.duplicate_action, self.delete_action])
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _paste_clipboard(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            self._on_refused("Paste: the clipboard holds no text")
            return
        try:
            self.paste_space(text)
        except (ValidationError, SpaceEditError) as exc:
            self._on_refused(f"Paste: {exc}")

    def _propose_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Propose the space from a script", "",
                                              "Python scripts (*.py);;All files (*)")
        if name:
            self._file_action(functools.partial(self.propose_from_script, Path(name)),
                              "Propose from script failed")

    def _import_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import a space", "", FILE_FILTER)
        if name:
            self._file_action(lambda: self.import_space(Path(name)), "Import failed")

    def _export_dialog(self, fmt: SpaceFormat) -> None:
        suggested = "search_space.json" if fmt is SpaceFormat.NNI else "space.yaml"
        name, _ = QFileDialog.getSaveFileName(self, "Export the space", suggested, FILE_FILTER)
        if name:
            self._file_action(lambda: self.export_space(Path(name), fmt), "Export failed")

    def _file_action(self, action: Callable[[], object], title: str) -> None:
        try:
            action()
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self, title, str(exc))

