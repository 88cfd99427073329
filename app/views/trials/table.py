"""The trial table: a filter bar (state check boxes, text box) over a sortable table view."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.views.trials.style import LEGEND_STATES, state_colour
from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel

RESIZE_PRECISION = 200  # rows sampled when fitting columns to their contents


class TrialFilterBar(QWidget):
    """A check box per state and a text box; every change emits the whole filter.

    Signals:
        filterChanged(object states: frozenset[TrialState] | None, str text): None
            when every state is checked.
    """

    filterChanged = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[TrialState, QCheckBox] = {}
        for state in LEGEND_STATES:
            box = QCheckBox(state.value)
            pixmap = QPixmap(10, 10)
            pixmap.fill(state_colour(state))
            box.setIcon(QIcon(pixmap))
            box.setChecked(True)
            box.toggled.connect(self._emit)
            self.boxes[state] = box
            layout.addWidget(box)
        self.text = QLineEdit()
        self.text.setPlaceholderText("Filter: text in any cell…")
        self.text.setClearButtonEnabled(True)
        self.text.textChanged.connect(self._emit)
        layout.addWidget(self.text, 1)
        self.count = QLabel()
        layout.addWidget(self.count)

    def states(self) -> frozenset[TrialState] | None:
        """The checked states (None: all of them)."""
        checked = frozenset(s for s, box in self.boxes.items() if box.isChecked())
        return None if len(checked) == len(self.boxes) else checked

    def set_states(self, states: Sequence[TrialState] | None) -> None:
        """Check exactly these states (None: all), emitting one filter change."""
        for state, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(states is None or state in states)
            box.blockSignals(False)
        self._emit()

    def _emit(self) -> None:
        self.filterChanged.emit(self.states(), self.text.text())


class TrialTable(QWidget):
    """:class:`TrialFilterBar` above a :class:`QTableView` of a :class:`TrialTableModel`.

    Click a header to sort (in the model, with numpy); double-click or Enter on a row
    activates its trial.

    Signals:
        trialActivated(int trial_id): a row was activated.
    """

    trialActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TrialTableModel(self)
        self.filter_bar = TrialFilterBar()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.setIconSize(QSize(9, 9))
        self.view.verticalHeader().setVisible(False)
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        header.setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.view, 1)
        self.filter_bar.filterChanged.connect(self._on_filter)
        self.view.activated.connect(self._on_activated)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._recount)
        self._recount()

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str) -> None:
        """Replace every row and fit the columns to their contents."""
        self.model.set_trials(records, kpi_name)
        self.view.resizeColumnsToContents()

    def update_trial(self, record: TrialRecord) -> None:
        """Add or refresh one trial's row."""
        columns = self.model.columnCount()
        self.model.update_trial(record)
        for column in range(columns, self.model.columnCount()):
            self.view.resizeColumnToContents(column)

    def selected_trial(self) -> int | None:
        """The trial of the current row, if any."""
        index = self.view.currentIndex()
        return index.data(TRIAL_ID_ROLE) if index.isValid() else None

    def _on_filter(self, states: frozenset[TrialState] | None, text: str) -> None:
        self.model.set_filter(states, text)

    def _on_activated(self, index: QModelIndex) -> None:
        trial_id = index.data(TRIAL_ID_ROLE)
        if trial_id is not None:
            self.trialActivated.emit(int(trial_id))

    def _recount(self) -> None:
        shown, total = self.model.rowCount(), self.model.total_count()
        self.filter_bar.count.setText(f"{shown} of {total} trials" if shown != total
                                      else f"{total} trials")
