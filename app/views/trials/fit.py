"""Columns that grow with what a live run puts in them: :class:`ColumnFitter`.

A table loaded while the run's first trials were queued sized its columns for
"queued" and empty cells; the states, KPIs and times that come later would be cut
("co…", "11.9…"). Shortly after a change, each shown column that is now too narrow for
its contents is widened. Columns only grow, so a row that changes back does not make
the table jump, and a column the user sized by hand is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QTableView

SETTLE_MS = 300
"""How long after a change the columns are looked at (changes meanwhile wait with it)."""


class ColumnFitter(QObject):
    """Widens ``view``'s columns to their contents :data:`SETTLE_MS` after a change.

    Call :meth:`fit_all` for a new set of rows (it also forgets the user's sizes), and
    :meth:`schedule` for each change.
    """

    def __init__(self, view: QTableView, settle_ms: int = SETTLE_MS) -> None:
        super().__init__(view)
        self._view = view
        self._fitting = False
        self._by_hand: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(settle_ms)
        self._timer.timeout.connect(self.grow)
        view.horizontalHeader().sectionResized.connect(self._resized)

    @property
    def pending(self) -> bool:
        """A look at the columns is due."""
        return self._timer.isActive()

    def by_hand(self) -> frozenset[int]:
        """The columns the user sized (left alone until :meth:`fit_all`)."""
        return frozenset(self._by_hand)

    def fit_all(self) -> None:
        """Fit every column to its contents, narrower too; forget the user's sizes."""
        self._timer.stop()
        self._by_hand.clear()
        with self.quietly():
            self._view.resizeColumnsToContents()

    @contextmanager
    def quietly(self) -> Iterator[None]:
        """Resizes made inside (by the program: fitting, hiding, showing) are not the
        user's."""
        fitting, self._fitting = self._fitting, True
        try:
            yield
        finally:
            self._fitting = fitting

    @Slot()
    def schedule(self, *_args: object) -> None:
        """Look at the columns a moment from now (from the first change since the last
        look: a busy run, changing rows all the time, still gets its columns fitted)."""
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def grow(self) -> None:
        """Widen each shown column narrower than its contents (not those sized by hand)."""
        self._timer.stop()
        header = self._view.horizontalHeader()
        with self.quietly():
            for column in range(header.count()):
                if column in self._by_hand or self._view.isColumnHidden(column):
                    continue
                wanted = max(self._view.sizeHintForColumn(column),
                             header.sectionSizeHint(column))
                if wanted > header.sectionSize(column):
                    header.resizeSection(column, wanted)

    @Slot(int, int, int)
    def _resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting:
            self._by_hand.add(column)
