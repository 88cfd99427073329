"""The right editor for each cell of the space tree.

Name: a line edit that accepts identifiers only and completes common and used
names inline. Type (numbers): float or int.
Default: a number box (scientific on log scales, whole numbers for integers),
false/true, text, or one of a choice's values or branches. Distribution / range
/ values: the distribution with its bounds and step for a number, the values of a
choice as one line, its branch names for a choice of groups; a number's range may
also be typed as one line of text. Every editor commits through ``setData``, so every
edit is one undo step (a number's range editor: one per field changed, or one for
the text) and a refused one is reported by the model.

Keyboard: Enter and Tab commit and go on to the row's next editable cell (Enter goes
from the name straight to the default and says ``rowEnded`` at the row's end, where
the editor may open a new row; Tab goes on to the next row); a pick from a combo box
commits at once (from the keyboard it goes on too).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QComboBox,
    QCompleter,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.engine.space.nodes import (
    NAME_RE,
    BooleanParam,
    Choice,
    ChoiceKind,
    Node,
    NumberParam,
    StringParam,
)
from app.views.space_editor.cells import Column, format_number, is_scientific
from app.views.space_editor.editors import (
    NumberRangeEditor,
    NumberSpinBox,
    PickCombo,
    ValuesEditor,
)
from app.views.space_editor.view import SpaceTreeView

Index = QModelIndex | QPersistentModelIndex
VALUES_EDITOR_WIDTH = 260


class Move(Enum):
    """Where a key that ends a cell's edit goes."""

    ENTER = "enter"  # along the row; its end stops there
    TAB = "tab"  # the next editable cell, on to the next row
    BACK = "back"  # Shift+Tab: the previous one


class SpaceItemDelegate(QStyledItemDelegate):
    """Creates, fills and reads the editor of each editable cell.

    Events:
        rowEnded(QModelIndex): Enter (or a pick from the keyboard) on the last
            editable cell of a row; the index is the row's first column.
    """

    rowEnded = Signal(QModelIndex)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cells: dict[int, QPersistentModelIndex] = {}
        self.names: Callable[[Node], list[str]] = lambda _node: []
        """The names the name cell of a node completes (set by the editor)."""

    def _opened(self, editor: QWidget, index: Index) -> QWidget:
        self._cells[id(editor)] = QPersistentModelIndex(index)
        if isinstance(editor, PickCombo):
            editor.picked.connect(lambda popup, e=editor: self._picked(e, popup))
        return editor

    def destroyEditor(self, editor: QWidget, index: Index) -> None:
        self._cells.pop(id(editor), None)
        super().destroyEditor(editor, index)

    def _picked(self, combo: PickCombo, popup: bool) -> None:
        if popup:  # a mouse pick applies and stays on the cell
            self.commitData.emit(combo)
            self.closeEditor.emit(combo, QAbstractItemDelegate.EndEditHint.NoHint)
        else:  # from the keyboard it goes on, as Enter does
            self._commit_and_go(combo, Move.ENTER)

    def _commit_and_go(self, editor: QWidget, move: Move) -> None:
        """Commit ``editor`` and open the cell ``move`` leads to: Enter goes along the
        row (from the name straight to the default: Tab also stops at a number's type)
        and says ``rowEnded`` at its end; Tab and Shift+Tab go on across rows.

        The position is kept as parent and row, not as the cell's index: naming a node
        added by its name may put a node of another kind in its place."""
        cell = self._cells.get(id(editor))
        no_hint = QAbstractItemDelegate.EndEditHint.NoHint
        if cell is None or not cell.isValid():
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, no_hint)
            return
        model = cell.model()
        parent = QPersistentModelIndex(cell.parent())
        row, column = cell.row(), cell.column()
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, no_hint)
        index = model.index(row, column, parent)
        view = self.parent()
        if not index.isValid() or not isinstance(view, SpaceTreeView):
            return
        if move is Move.ENTER:
            target = _next_in_row(index)
        else:
            target = view.next_editable(index, 1 if move is Move.TAB else -1)
        if target.isValid():
            view.setCurrentIndex(target)
            view.edit(target)
        elif move is Move.ENTER:
            view.setCurrentIndex(index)
            self.rowEnded.emit(index.siblingAtColumn(0))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (isinstance(watched, QWidget) and id(watched) in self._cells
                and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)):
            key = event.key()
            acceptable = not (isinstance(watched, QLineEdit)
                              and not watched.hasAcceptableInput())
            if isinstance(watched, NumberRangeEditor) and key in (
                    Qt.Key.Key_Return, Qt.Key.Key_Enter) and watched.text_problem():
                return True  # said beside the text, which stays to be fixed
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and acceptable:
                self._commit_and_go(watched, Move.ENTER)
                return True
            cell = self._cells[id(watched)]
            if (key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and acceptable
                    and cell.column() == Column.NAME):
                self._commit_and_go(watched, Move.BACK if key == Qt.Key.Key_Backtab
                                    or event.modifiers() & Qt.KeyboardModifier.ShiftModifier
                                    else Move.TAB)
                return True
        return super().eventFilter(watched, event)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: Index) -> QWidget:
        return self._opened(self._create(parent, option, index), index)

    def _create(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        node: Node = index.internalPointer()
        column = Column(index.column())
        if column is Column.NAME:
            editor = QLineEdit(parent)
            editor.setValidator(QRegularExpressionValidator(NAME_RE.pattern, editor))
            editor.setToolTip("letters, digits and _, starting with a letter; a common "
                              "name or one of the space completes as you type (Delete "
                              "drops the completion); Enter: on to the default")
            completer = QCompleter(sorted(set(self.names(node))), editor)
            completer.setCompletionMode(QCompleter.CompletionMode.InlineCompletion)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
            completer.setModelSorting(QCompleter.ModelSorting.CaseSensitivelySortedModel)
            editor.setCompleter(completer)
            return editor
        if column is Column.TYPE and isinstance(node, NumberParam):
            return _combo(parent, [("float", "float"), ("int", "int")])
        if column is Column.DEFAULT and (default := _default_editor(parent, node)) is not None:
            return default
        if column is Column.SEARCH and isinstance(node, NumberParam):
            return NumberRangeEditor(parent)
        if column is Column.SEARCH and isinstance(node, Choice):
            return ValuesEditor(parent)
        return super().createEditor(parent, option, index)

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        node: Node = index.internalPointer()
        edit_value: Any = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, NumberRangeEditor) and isinstance(node, NumberParam):
            editor.set_fields(edit_value, node.gives_int)
        elif isinstance(editor, ValuesEditor):
            editor.set_values(edit_value)
            editor.selectAll()
        elif isinstance(editor, NumberSpinBox):
            editor.set_number(edit_value)
            editor.selectAll()  # typing replaces it, as in a spreadsheet
        elif isinstance(editor, QComboBox):
            found = next((i for i in range(editor.count())
                          if _same(editor.itemData(i), edit_value)), -1)
            editor.setCurrentIndex(max(found, 0))
        elif isinstance(editor, QLineEdit):
            editor.setText("" if edit_value is None else str(edit_value))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        value: Any
        if isinstance(editor, NumberRangeEditor) and editor.typed_text() is not None:
            if editor.typed_text():  # the whole range as text: one undo step
                model.setData(index, editor.typed_text())
            return
        if isinstance(editor, NumberRangeEditor):
            for change in editor.field_steps():  # one undo step each
                if not model.setData(index, change):
                    return
            return
        if isinstance(editor, ValuesEditor):
            value = editor.values()
        elif isinstance(editor, NumberSpinBox):
            editor.interpretText()
            value = editor.number()
        elif isinstance(editor, QComboBox):
            value = editor.currentData()
        elif isinstance(editor, QLineEdit):
            value = editor.text()
        else:
            return
        model.setData(index, value)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem,
                             index: Index) -> None:
        rect = QRect(option.rect)
        if isinstance(editor, NumberRangeEditor | ValuesEditor):
            # wider (and taller) than the cell, shifted left to stay inside the view
            hint = editor.sizeHint()
            width = VALUES_EDITOR_WIDTH if isinstance(editor, ValuesEditor) else hint.width()
            rect.setWidth(max(rect.width(), width))
            rect.setHeight(max(rect.height(), hint.height()))
            view = editor.parentWidget()
            if view is not None and rect.right() > view.width():
                rect.moveLeft(max(0, view.width() - rect.width()))
        editor.setGeometry(rect)


def _next_in_row(index: QModelIndex) -> QModelIndex:
    """The row's next editable cell after ``index`` for Enter (the name skips the type:
    Tab stops there); invalid at the row's end."""
    model = index.model()
    for column in range(index.column() + 1, model.columnCount(index.parent())):
        if index.column() == Column.NAME and column == Column.TYPE:
            continue
        cell = index.siblingAtColumn(column)
        if model.flags(cell) & Qt.ItemFlag.ItemIsEditable:
            return cell
    return QModelIndex()


def _default_editor(parent: QWidget, node: Node) -> QWidget | None:
    if isinstance(node, NumberParam):
        return NumberSpinBox(parent, scientific=is_scientific(node), integer=node.gives_int)
    if isinstance(node, BooleanParam):
        return _combo(parent, [("false", False), ("true", True)])
    if isinstance(node, StringParam):
        return QLineEdit(parent)
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            return _combo(parent, [(b.name, b.name) for b in node.branches])
        return _combo(parent, [(format_number(v) if isinstance(v, int | float) else str(v), v)
                               for v in node.values])
    return None


def _combo(parent: QWidget, items: list[tuple[str, Any]]) -> QComboBox:
    combo = PickCombo(parent)
    for text, data in items:
        combo.addItem(text, data)
    return combo


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b
