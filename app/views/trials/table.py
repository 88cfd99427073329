"""The trial table: a filter bar (state check boxes, text box, top K) over a sortable table view.

Rows can be selected several at a time and compared; the header's context menu
hides and shows columns, remembered per experiment by a
:class:`~app.views.trials.columns.ColumnChoices`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.columns import ALWAYS_SHOWN, ColumnChoices
from app.views.trials.fit import ColumnFitter
from app.views.trials.rows import Column
from app.views.trials.style import LEGEND_STATES, state_colour
from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel
from app.views.trials.topk import TOP_K_CHOICES, TopKBox

RESIZE_PRECISION = 200  # rows sampled when fitting columns to their contents
COMPARE_MIN, COMPARE_MAX = 2, 5
"""How many selected trials "Compare selected" takes."""


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
    """:class:`TrialFilterBar`, a top-K chooser and "Compare selected" above a
    :class:`QTableView` of a :class:`TrialTableModel`.

    Click a header to sort (in the model, with numpy); double-click or Enter on a row
    activates its trial; Ctrl/Shift-click selects several rows. Right-click a row for
    Open and Compare, a header for the columns to show.

    Signals:
        trialActivated(int trial_id): a row was activated.
        compareRequested(list trial_ids): "Compare selected" with 2 to 5 rows
            selected (trial ids in row order).
    """

    trialActivated = Signal(int)
    compareRequested = Signal(list)

    def __init__(self, parent: QWidget | None = None,
                 column_choices: ColumnChoices | None = None) -> None:
        super().__init__(parent)
        self.model = TrialTableModel(self)
        self.filter_bar = TrialFilterBar()
        self.top_k_box = TopKBox()
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip(
            f"Compare {COMPARE_MIN} to {COMPARE_MAX} trials side by side "
            "(Ctrl- or Shift-click rows to select them)")
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setIconSize(QSize(9, 9))
        self.view.verticalHeader().setVisible(False)
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        header.setStretchLastSection(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_column_menu)
        self.fitter = ColumnFitter(self.view)
        """Widens columns as a live run fills them (not those the user sized)."""
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_row_menu)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_bar, 1)
        top.addWidget(self.top_k_box)
        top.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self._goal = Goal.MIN
        self._choices = column_choices
        self._experiment: str | None = None
        self._hidden: frozenset[str] = frozenset()
        self.filter_bar.filterChanged.connect(self._on_filter)
        self.top_k_box.topKChanged.connect(self.set_top_k)
        self.compare_button.clicked.connect(self.request_compare)
        self.view.activated.connect(self._on_activated)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._recount)
        for signal in (self.model.rowsRemoved, self.model.modelReset):  # the selection
            signal.connect(self._selection_changed)  # shrinks without selectionChanged
        self.model.modelReset.connect(self._apply_hidden)
        self.model.columnsInserted.connect(self._apply_hidden)
        self.model.dataChanged.connect(self.fitter.schedule)
        self.model.rowsInserted.connect(self._rows_inserted)
        self._recount()
        self._selection_changed()

    # --- content ------------------------------------------------------------------------

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str,
                   goal: Goal = Goal.MIN, experiment: str | None = None) -> None:
        """Replace every row and fit the columns to their contents.

        Args:
            records: the experiment's trials.
            kpi_name: the KPI's name (the KPI column's title).
            goal: which KPIs are best (for the top-K filter).
            experiment: the key the column choices are remembered under (default:
                the trials' experiment id).
        """
        self._goal = goal
        self._set_experiment(experiment if experiment is not None else
                             str(records[0].experiment_id) if records else None)
        self.model.set_trials(records, kpi_name, goal)
        self.fitter.fit_all()

    def update_trial(self, record: TrialRecord) -> None:
        """Add or refresh one trial's row."""
        if self._experiment is None:
            self._set_experiment(str(record.experiment_id))
        columns = self.model.columnCount()
        self.model.update_trial(record)
        with self.fitter.quietly():
            for column in range(columns, self.model.columnCount()):
                self.view.resizeColumnToContents(column)

    # --- selection and compare ----------------------------------------------------------

    def selected_trial(self) -> int | None:
        """The trial of the current row, if any."""
        index = self.view.currentIndex()
        return index.data(TRIAL_ID_ROLE) if index.isValid() else None

    def selected_trials(self) -> list[int]:
        """The trials of the selected rows, in row order."""
        rows = sorted(index.row() for index in self.view.selectionModel().selectedRows())
        return [self.model.trial_id(row) for row in rows]

    def select_trials(self, trial_ids: Sequence[int]) -> None:
        """Select exactly the rows of these trials (those filtered out are skipped)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for trial_id in trial_ids:
            row = self.model.row_of(trial_id)
            if row is not None:
                selection.select(self.model.index(row, 0), flags)

    def can_compare(self) -> bool:
        """Whether the selection is 2 to 5 trials."""
        return COMPARE_MIN <= len(self.selected_trials()) <= COMPARE_MAX

    def request_compare(self) -> bool:
        """Emit :attr:`compareRequested` for the selected trials; False when not 2 to 5."""
        trial_ids = self.selected_trials()
        if not COMPARE_MIN <= len(trial_ids) <= COMPARE_MAX:
            return False
        self.compareRequested.emit(trial_ids)
        return True

    def row_menu(self) -> QMenu:
        """The rows' context menu: open the current trial, compare the selected ones."""
        menu = QMenu(self)
        current = self.selected_trial()
        open_action = menu.addAction("Open trial")
        open_action.setEnabled(current is not None)
        if current is not None:
            open_action.triggered.connect(lambda: self.trialActivated.emit(int(current)))
        count = len(self.selected_trials())
        compare = menu.addAction(f"Compare selected ({count})" if self.can_compare() else
                                 f"Compare selected (select {COMPARE_MIN}–{COMPARE_MAX} rows)")
        compare.setEnabled(self.can_compare())
        compare.triggered.connect(self.request_compare)
        return menu

    def _show_row_menu(self, pos: QPoint) -> None:
        self.row_menu().exec(self.view.viewport().mapToGlobal(pos))

    def _selection_changed(self, *_args: object) -> None:
        count = len(self.view.selectionModel().selectedRows())
        self.compare_button.setEnabled(COMPARE_MIN <= count <= COMPARE_MAX)
        self.compare_button.setText(f"Compare selected ({count})" if count > 1
                                    else "Compare selected")

    # --- top K --------------------------------------------------------------------------

    def set_top_k(self, k: int | None) -> None:
        """Show only the ``k`` best completed trials (None: all), best first.

        Raises:
            ValueError: when ``k`` is below 1.
        """
        self.model.set_top_k(k)
        if k is not None:  # the best first, whatever the sort was
            descending = self._goal is Goal.MAX
            self.view.sortByColumn(Column.KPI, Qt.SortOrder.DescendingOrder if descending
                                   else Qt.SortOrder.AscendingOrder)
        if self.top_k_box.top_k() != k and k in TOP_K_CHOICES:
            self.top_k_box.blockSignals(True)
            self.top_k_box.set_top_k(k)
            self.top_k_box.blockSignals(False)
        self._recount()

    # --- columns ------------------------------------------------------------------------

    def set_column_choices(self, choices: ColumnChoices | None) -> None:
        """Remember hidden columns in ``choices`` (None: only while the table lives)."""
        self._choices = choices
        self._load_hidden()

    def hidden_columns(self) -> frozenset[str]:
        """The keys of the hidden columns (see ``TrialTableModel.column_key``)."""
        return self._hidden

    def set_column_visible(self, key: str, visible: bool) -> None:
        """Show or hide a column by key, and remember it for the experiment.

        Raises:
            ValueError: when ``key`` is a column that is always shown.
        """
        if key in ALWAYS_SHOWN and not visible:
            raise ValueError(f"column {key!r} is always shown")
        self._hidden = self._hidden - {key} if visible else self._hidden | {key}
        if self._choices is not None and self._experiment is not None:
            self._choices.set_hidden(self._experiment, self._hidden)
        self._apply_hidden()

    def column_menu(self) -> QMenu:
        """A checkable entry per column, then "Show all columns"."""
        menu = QMenu(self)
        for column in range(self.model.columnCount()):
            key = self.model.column_key(column)
            action = menu.addAction(self.model.headerData(column, Qt.Orientation.Horizontal))
            action.setCheckable(True)
            action.setChecked(key not in self._hidden)
            action.setEnabled(key not in ALWAYS_SHOWN)
            action.setData(key)
            action.toggled.connect(lambda on, key=key: self.set_column_visible(key, on))
            if column == Column.ENDED:
                menu.addSeparator()  # parameters below
        menu.addSeparator()
        show_all = menu.addAction("Show all columns")
        show_all.setEnabled(bool(self._hidden))
        show_all.triggered.connect(self._show_all_columns)
        return menu

    def _show_column_menu(self, pos: QPoint) -> None:
        header = self.view.horizontalHeader()
        self.column_menu().exec(header.mapToGlobal(pos))

    def _show_all_columns(self) -> None:
        for key in list(self._hidden):
            self.set_column_visible(key, True)

    def _set_experiment(self, experiment: str | None) -> None:
        if experiment != self._experiment:
            self._experiment = experiment
            self._load_hidden()

    def _load_hidden(self) -> None:
        if self._choices is not None and self._experiment is not None:
            self._hidden = self._choices.hidden(self._experiment)
        self._apply_hidden()

    def _apply_hidden(self, *_args: object) -> None:
        with self.fitter.quietly():
            for column in range(self.model.columnCount()):
                self.view.setColumnHidden(column, self.model.column_key(column) in self._hidden)

    # --- slots --------------------------------------------------------------------------

    def _rows_inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        """Rows the column fit looks at arrived: look again. Fitting measures the rows in
        view and :data:`RESIZE_PRECISION` more, so rows appended far below them (an
        experiment's chunks) change no column."""
        bottom = self.view.rowAt(self.view.viewport().height() - 1)
        if bottom < 0 or first <= bottom + RESIZE_PRECISION:
            self.fitter.schedule()

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
