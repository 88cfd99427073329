"""Columns that grow with what a live run puts in them: :class:`ColumnFitter`.

A table loaded while the run's first trials were queued sized its columns for
"queued" and empty cells; the states, KPIs and times that come later would be cut
("co…", "11.9…"). Shortly after a change, each shown column that is now too narrow for
its contents is widened. Columns only grow, so a row that changes back does not make
the table jump, and a column the user sized by hand is left as it is.

Measuring a column asks the model for a few hundred cells (5–12 ms a column for 2,000
trials on this machine, loaded), so the columns are looked at a few at a time, one
turn of the event loop each (a zero-time timer, :data:`STEP_BUDGET_S` a turn): an
experiment's table filling in never holds the window for a whole fit. While the table
is hidden (another tab in front) nothing is measured: one look is owed to when it
shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QTableView

SETTLE_MS = 300
"""How long after a change the columns are looked at (changes meanwhile wait with it)."""
STEP_BUDGET_S = 0.004
"""One turn measures columns until this much time has gone (at least one column)."""


class ColumnFitter(QObject):
    """Widens ``view``'s columns to their contents :data:`SETTLE_MS` after a change.

    Call :meth:`fit_all` for a new set of rows (it also forgets the user's sizes), and
    :meth:`schedule` for each change. Both go through the columns a few a turn.
    """

    def __init__(self, view: QTableView, settle_ms: int = SETTLE_MS) -> None:
        super().__init__(view)
        self._view = view
        self._fitting = False
        self._by_hand: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(settle_ms)
        self._timer.timeout.connect(lambda: self._start(fit=False))
        self._next: int | None = None  # the next column of the pass under way
        self._fit = False  # the pass under way fits (narrower too), not only widens
        self._stepper = QTimer(self)
        self._stepper.setSingleShot(True)
        self._stepper.setInterval(0)
        self._stepper.timeout.connect(self._step)
        self._owed: bool | None = None  # a look asked for while hidden (True: a fit)
        view.horizontalHeader().sectionResized.connect(self._resized)
        view.installEventFilter(self)

    @property
    def pending(self) -> bool:
        """A look at the columns is due or under way (or owed to when the view shows)."""
        return self._timer.isActive() or self._next is not None or self._owed is not None

    def by_hand(self) -> frozenset[int]:
        """The columns the user sized (left alone until :meth:`fit_all`)."""
        return frozenset(self._by_hand)

    def fit_all(self) -> None:
        """Fit every column to its contents, narrower too (a few columns a turn, from
        the next turn on); forget the user's sizes."""
        self._timer.stop()
        self._by_hand.clear()
        self._start(fit=True)

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
        """Widen each shown column narrower than its contents (not those sized by hand),
        all of them now."""
        self._timer.stop()
        self._start(fit=False)
        while self._next is not None:
            self._step(budget_s=float("inf"))

    def _start(self, fit: bool) -> None:
        """Go through the columns from the first (a fit under way stays a fit); while
        the view is hidden, when it shows."""
        fit = fit or (self._next is not None and self._fit)
        if not self._view.isVisible():
            self._owed = fit or bool(self._owed)
            self._next = None
            return
        self._fit, self._next = fit, 0
        self._stepper.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The view shows: the look owed since it was hidden."""
        if watched is self._view and event.type() == QEvent.Type.Show and (
                self._owed is not None):
            fit, self._owed = self._owed, None
            self._start(fit)
        return False

    @Slot()
    def _step(self, budget_s: float = STEP_BUDGET_S) -> None:
        """Look at the next columns, for about ``budget_s``."""
        if self._next is None:
            return
        started = time.perf_counter()
        header = self._view.horizontalHeader()
        with self.quietly():
            while self._next < header.count():
                column = self._next
                self._next += 1
                if column in self._by_hand or self._view.isColumnHidden(column):
                    continue
                wanted = max(self._view.sizeHintForColumn(column),
                             header.sectionSizeHint(column))
                if self._fit or wanted > header.sectionSize(column):
                    header.resizeSection(column, wanted)
                if time.perf_counter() - started >= budget_s:
                    break
        if self._next >= header.count():
            self._next = None
        else:
            self._stepper.start()

    @Slot(int, int, int)
    def _resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting:
            self._by_hand.add(column)
