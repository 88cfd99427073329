"""The trial table's item model: sorting and filtering inside the model, with numpy.

A ``QSortFilterProxyModel`` over a Python model took 7 s to sort 10,000 rows on
this machine, so the model keeps a row index array instead: view row ``r`` shows
trial ``rows[r]`` of :class:`TrialRows`. Sorting is one ``argsort`` and a
``layoutChanged``; a filter change resets the model; a live update that moves a
row in the current order schedules one re-sort (coalesced, a few per second).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)

from app.application.live import STOPPING
from app.engine.failing import first_line
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.rows import Column, IndexArray, TrialFilter, TrialRows
from app.views.trials.style import state_colour

TRIAL_ID_ROLE = Qt.ItemDataRole.UserRole + 1
RESORT_MS = 200
TICK_MS = 1000
MAX_RUNS = 64  # a re-filter removing more separate runs of rows than this resets the model
AnyIndex = QModelIndex | QPersistentModelIndex
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.TextAlignmentRole,
                    TRIAL_ID_ROLE})
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class TrialTableModel(QAbstractTableModel):
    """One row per trial: #, state, KPI, duration, host, GPUs, started, ended, then every
    parameter.

    Parameter columns appear as trials with new dotted names arrive. Read-only; GUI
    thread only. ``data(index, TRIAL_ID_ROLE)`` gives a row's trial id.

    Attributes:
        last_sort_ms: how long the last sort (argsort and layout change) took.
    """

    def __init__(self, parent: QObject | None = None, resort_ms: int = RESORT_MS,
                 tick_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self._data = TrialRows()
        self._rows: IndexArray = np.empty(0, dtype=np.intp)
        self._stopping: frozenset[int] = frozenset()
        self._filter = TrialFilter()
        self._sort_column: int | None = None
        self._descending = False
        self.last_sort_ms = 0.0
        self._resort = QTimer(self)
        self._resort.setSingleShot(True)
        self._resort.setInterval(resort_ms)
        self._resort.timeout.connect(self.flush)
        self._tick = QTimer(self)  # running trials' durations grow
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self._tick_durations)

    # --- content ------------------------------------------------------------------------

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str,
                   goal: Goal = Goal.MIN) -> None:
        """Replace every row (keeps the filter and the sort column).

        ``goal`` says which KPIs are best, for the top-K filter.
        """
        self.beginResetModel()
        self._data.clear()
        self._stopping = frozenset()
        self._data.kpi_name = kpi_name
        self._data.goal = goal
        self._take(records)
        self._rows = self._ordered()
        self.endResetModel()
        self._sync_tick()

    def set_stopping(self, trial_ids: frozenset[int]) -> None:
        """The trials asked to stop that have not ended: their state reads "stopping…"."""
        changed, self._stopping = self._stopping ^ trial_ids, frozenset(trial_ids)
        column = int(Column.STATE)
        for trial_id in changed:
            row = self.row_of(trial_id)
            if row is not None:
                index = self.index(row, column)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def add_trials(self, records: Iterable[TrialRecord]) -> None:
        """Add many trials at once (an experiment being opened, a chunk at a time).

        New trials are appended as one row insertion (their new parameter columns as
        one column insertion before), never a model reset: a reset makes the view
        forget its selection, scroll position and column sizes, and re-ordering all
        rows per chunk made opening 10,000 trials quadratic. In a sorted table (or
        with a top-K filter) the rows are ordered by one re-sort a moment after the
        last chunk (coalesced, like :meth:`update_trial`). Trials held already are
        refreshed as :meth:`update_trial` does. Keeps the filter and the sort column.
        """
        fresh: list[tuple[TrialRecord, dict[str, Any]]] = []
        for record in records:
            if self._data.index_of(record.id) is not None:
                self.update_trial(record)
            else:
                fresh.append((record, flatten(record.params)))
        if not fresh:
            return
        names: dict[str, None] = {}
        for _record, flat in fresh:
            names.update(dict.fromkeys(self._data.new_param_names(flat)))
        if names:
            first = self._data.column_count()
            self.beginInsertColumns(QModelIndex(), first, first + len(names) - 1)
            self._data.add_param_names(names)
            self.endInsertColumns()
        added = [self._data.upsert(record, flat)[0] for record, flat in fresh]
        if self._filter.top_k is not None:  # the newcomers may push others out
            self._resort.start()
        else:
            shown = [index for index in added if self._data.accepts(index, self._filter)]
            if shown:
                end = len(self._rows)
                self.beginInsertRows(QModelIndex(), end, end + len(shown) - 1)
                self._rows = np.append(self._rows, np.asarray(shown, dtype=np.intp))
                self.endInsertRows()
                if self._sorting_by() is not None and not self._still_ordered(len(shown)):
                    self._resort.start()
        if not self._tick.isActive() and any(
                record.state is TrialState.RUNNING for record, _flat in fresh):
            self._tick.start()  # (new rows stop no tick: not a look at every row per chunk)

    def _take(self, records: Iterable[TrialRecord]) -> None:
        """Hold these records (their params' columns too); the caller resets the model."""
        for record in records:
            flat = flatten(record.params)
            self._data.add_param_names(self._data.new_param_names(flat))
            self._data.upsert(record, flat)

    def update_trials(self, records: Iterable[TrialRecord]) -> None:
        """Add or refresh several trials (see :meth:`update_trial`)."""
        for record in records:
            self.update_trial(record)

    def update_trial(self, record: TrialRecord) -> None:
        """Add a trial or refresh its row; rows that no longer pass the filter leave.

        A new or changed row that may break the sort order triggers one re-sort a
        moment later (:meth:`flush` applies it at once).
        """
        flat = flatten(record.params)
        names = self._data.new_param_names(flat)
        if names:
            first = self._data.column_count()
            self.beginInsertColumns(QModelIndex(), first, first + len(names) - 1)
            self._data.add_param_names(names)
            self.endInsertColumns()
        index, _ = self._data.upsert(record, flat)
        found = np.flatnonzero(self._rows == index)
        row = int(found[0]) if len(found) else None
        if self._filter.top_k is not None:
            # one trial may push another out of the top K: re-filter all, a moment later
            if row is not None:
                self.dataChanged.emit(self.index(row, 0),
                                      self.index(row, self.columnCount() - 1))
            self._resort.start()
            self._sync_tick()
            return
        visible = self._data.accepts(index, self._filter)
        if row is not None and visible:
            self.dataChanged.emit(self.index(row, 0),
                                  self.index(row, self.columnCount() - 1))
        elif row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            self._rows = np.delete(self._rows, row)
            self.endRemoveRows()
        elif visible:
            end = len(self._rows)
            self.beginInsertRows(QModelIndex(), end, end)
            self._rows = np.append(self._rows, np.intp(index))
            self.endInsertRows()
        if visible and self._sorting_by() is not None:
            self._resort.start()
        self._sync_tick()

    def trial_id(self, row: int) -> int:
        """The trial shown in view row ``row``.

        Raises:
            IndexError: when the row does not exist.
        """
        if not 0 <= row < len(self._rows):
            raise IndexError(f"row {row} out of range: the table shows {len(self._rows)}")
        return self._data.record(int(self._rows[row])).id

    def row_of(self, trial_id: int) -> int | None:
        """The view row showing the trial, or None (unknown or filtered out)."""
        index = self._data.index_of(trial_id)
        if index is None:
            return None
        found = np.flatnonzero(self._rows == index)
        return int(found[0]) if len(found) else None

    def total_count(self) -> int:
        """How many trials the model holds, shown or not."""
        return len(self._data)

    def header_names(self) -> list[str]:
        """Every column's title."""
        return [self._data.header(c) for c in range(self._data.column_count())]

    def column_key(self, column: int) -> str:
        """A column's stable name (``kpi``, ``ended``, ``param:lr``); see ``TrialRows``.

        Raises:
            ValueError: when the column does not exist.
        """
        return self._data.column_key(column)

    def column_of(self, key: str) -> int | None:
        """The column named ``key`` by :meth:`column_key`, or None."""
        return self._data.column_of(key)

    # --- filter and sort ----------------------------------------------------------------

    @property
    def filter(self) -> TrialFilter:
        """The filter in force."""
        return self._filter

    def set_filter(self, states: Iterable[TrialState] | None = None, text: str = "") -> None:
        """Show only trials in ``states`` (None: all) having ``text`` in some cell.

        The top-K part of the filter stays as it is.
        """
        flt = TrialFilter(None if states is None else frozenset(states), text,
                          self._filter.top_k)
        if flt == self._filter:
            return
        self.beginResetModel()
        self._filter = flt
        self._rows = self._ordered()
        self.endResetModel()

    def set_top_k(self, k: int | None) -> None:
        """Show only the ``k`` completed trials with the best KPI (None: every trial).

        Rows leave and arrive by row removal and insertion, so the selection of the
        rows that stay is kept.

        Raises:
            ValueError: when ``k`` is below 1.
        """
        flt = TrialFilter(self._filter.states, self._filter.text, k)
        if flt != self._filter:
            self._filter = flt
            self._refilter()

    def top_k(self) -> int | None:
        """The top-K filter in force (None: off)."""
        return self._filter.top_k

    def sort_column(self) -> int | None:
        """The column rows are sorted by (None: arrival order)."""
        return self._sort_column

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (-1: arrival order); empty cells go last in both directions."""
        if column >= self.columnCount():
            raise ValueError(f"no column {column}: the table has {self.columnCount()}")
        self._sort_column = None if column < 0 else column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._apply_order()

    def flush(self) -> None:
        """Apply a pending re-sort (and, with a top-K filter, re-filter) now."""
        self._resort.stop()
        if self._filter.top_k is not None:
            self._refilter()
        elif self._sorting_by() is not None:
            self._apply_order()

    def _refilter(self) -> None:
        """Bring the rows in line with the filter: remove, insert, then order."""
        wanted = self._data.mask(self._filter)
        gone = np.flatnonzero(~wanted[self._rows])
        runs = np.split(gone, np.flatnonzero(np.diff(gone) != 1) + 1) if len(gone) else []
        if len(runs) > MAX_RUNS:
            self.beginResetModel()
            self._rows = self._ordered()
            self.endResetModel()
            return
        for run in reversed(runs):
            first, last = int(run[0]), int(run[-1])
            self.beginRemoveRows(QModelIndex(), first, last)
            self._rows = np.delete(self._rows, np.s_[first:last + 1])
            self.endRemoveRows()
        shown = np.zeros(len(self._data), dtype=bool)
        shown[self._rows] = True
        new = np.flatnonzero(wanted & ~shown)
        if len(new):
            end = len(self._rows)
            self.beginInsertRows(QModelIndex(), end, end + len(new) - 1)
            self._rows = np.append(self._rows, new.astype(np.intp))
            self.endInsertRows()
        self._apply_order()  # arrival order too, when no column is sorted

    def _still_ordered(self, appended: int) -> bool:
        """Whether the last ``appended`` rows (just appended) keep the sort order: they
        sort after the row before them and among themselves (the usual case when an
        experiment opens sorted by number), so no re-sort is due."""
        column = self._sorting_by()
        assert column is not None
        keys = self._data.key_array(column)[self._rows[-(appended + 1):]]
        if self._descending:
            keys = -keys
        missing = np.isnan(keys)  # empty cells go last
        if missing.any() and not missing[int(np.argmax(missing)):].all():
            return False
        present = keys[~missing]
        return bool(np.all(present[1:] >= present[:-1]))

    def _sorting_by(self) -> int | None:
        """The column rows are sorted by now: the sort column, while it exists (a param
        column of the experiment shown before, or of trials still loading, comes back
        once the column does; until then rows keep arrival order)."""
        column = self._sort_column
        return column if column is not None and column < self._data.column_count() else None

    def _ordered(self) -> IndexArray:
        column = self._sorting_by()
        return self._data.order(self._filter, column, self._descending)

    def _apply_order(self) -> None:
        started = time.perf_counter()
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        new = self._ordered()
        position = np.full(len(self._data), -1, dtype=np.intp)
        position[new] = np.arange(len(new), dtype=np.intp)
        persistent = self.persistentIndexList()
        self._rows = new
        moved = []
        for item in persistent:
            row = int(position[old[item.row()]]) if item.row() < len(old) else -1
            moved.append(self.index(row, item.column()) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()
        self.last_sort_ms = (time.perf_counter() - started) * 1000

    def _sync_tick(self) -> None:
        running = self._data.has_running()
        if running and not self._tick.isActive():
            self._tick.start()
        elif not running:
            self._tick.stop()

    def _tick_durations(self) -> None:
        if len(self._rows):
            self.dataChanged.emit(self.index(0, Column.DURATION),
                                  self.index(len(self._rows) - 1, Column.DURATION),
                                  [Qt.ItemDataRole.DisplayRole])

    # --- Qt model interface -------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._data.column_count()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._rows) or not 0 <= column < self._data.column_count():
            return None
        trial = int(self._rows[row])
        if role == Qt.ItemDataRole.DisplayRole:
            if column == Column.STATE and self._data.record(trial).id in self._stopping:
                return STOPPING
            return self._data.cell(trial, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if self._data.is_numeric(column) else None
        record = self._data.record(trial)
        if role == TRIAL_ID_ROLE:
            return record.id
        if role == Qt.ItemDataRole.DecorationRole:
            return state_colour(record.state) if column == Column.STATE else None
        text = self._data.cell(trial, column)  # the tooltip
        if column == Column.STATE and record.error:
            return f"{text}: {first_line(record.error)}"
        return text

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < self.columnCount():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._data.header(section)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _FLAGS
