"""The space tree's view: keyboard entry along a row, and columns wide enough for names."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from app.views.space_editor.cells import Column

Index = QModelIndex | QPersistentModelIndex

MIN_WIDTHS = {Column.NAME: 150, Column.TYPE: 90, Column.DEFAULT: 80}
"""The narrowest each fitted column gets (an empty tree keeps its headers readable)."""
PADDING = 16


class SpaceTreeView(QTreeView):
    """A tree whose Tab, Enter and typing walk a row's editable cells.

    Typing on a selected cell starts editing it with what was typed; Tab goes from
    name to type to default to range or values, then to the next row's name (the
    delegate's Enter skips a number's type); Shift+Tab goes back. The Name, Type and Default
    columns grow to fit their contents (never below :data:`MIN_WIDTHS`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.SelectedClicked
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        for column, width in MIN_WIDTHS.items():
            self.setColumnWidth(column, width)

    def moveCursor(self, action: QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        current = self.currentIndex()
        moves = {QAbstractItemView.CursorAction.MoveNext: 1,
                 QAbstractItemView.CursorAction.MovePrevious: -1}
        if action in moves and current.isValid():
            target = self.next_editable(current, moves[action])
            if target.isValid():
                return target
        return super().moveCursor(action, modifiers)

    def next_editable(self, current: QModelIndex, step: int) -> QModelIndex:
        """The next (step 1) or previous (-1) editable cell, across rows."""
        model = self.model()
        row = current
        column = current.column() + step
        while row.isValid():
            count = model.columnCount(row.parent())
            while 0 <= column < count:
                cell = row.siblingAtColumn(column)
                if model.flags(cell) & Qt.ItemFlag.ItemIsEditable:
                    return cell
                column += step
            row = self.indexBelow(row.siblingAtColumn(0)) if step > 0 \
                else self.indexAbove(row.siblingAtColumn(0))
            column = 0 if step > 0 else model.columnCount(row.parent()) - 1
        return QModelIndex()

    def fit_columns(self) -> None:
        """Widen Name, Type and Default to their contents (with the indentation of
        the deepest row); a column the user made wider stays as wide."""
        for column, least in MIN_WIDTHS.items():
            wanted = max(least, self.sizeHintForColumn(column) + PADDING)
            if self.columnWidth(column) < wanted:
                self.setColumnWidth(column, wanted)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if model is not None:
            for signal in (model.rowsInserted, model.modelReset, model.dataChanged):
                signal.connect(lambda *_: self.fit_columns())
        self.expanded.connect(lambda *_: self.fit_columns())
