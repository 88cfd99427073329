"""Compare 2–5 trials side by side: a table of facts and parameters, and every metric overlaid.

The table has one column per trial (its colour in the header) and one row per
fact, then per dotted parameter; parameter rows whose values differ are
highlighted, and "Only differing parameters" hides the others. Below, one plot
per metric (the KPI first) overlays the trials' curves, each in its trial's
colour, with a legend of trial numbers. Right-click the plots to export them.
Opened from the window it stays live (:meth:`CompareDialog.follow`): running trials'
curves grow and a trial that ends gets its new KPI and state, every second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.views.charts.data import ChartData
from app.views.charts.export import ChartExportMenu
from app.views.charts.style import palette, text_color
from app.views.compare.rows import RowKind, Series, TrialSeries, compare_rows
from app.views.trials.table import COMPARE_MAX, COMPARE_MIN

TRIAL_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")
DIFFERS_BACKGROUND = "#fff1c2"
PLOT_COLUMNS = 2
PLOT_ROW_HEIGHT = 230
SYMBOLS_BELOW = 3  # curves this short get point symbols, or one point would not show
FOLLOW_MS = 1000
"""How often a followed dialog looks for new points and changed trials."""


class CompareDialog(QDialog):
    """2 to 5 trials side by side. Gets everything through its constructor (no database).

    Args:
        records: the trials, in the order of the columns.
        series: trial id -> metric name -> (steps, values); trials or metrics
            without points are simply not drawn.
        kpi_name: the KPI (its row is titled with it, its plot comes first).
        goal: which KPI is best (that cell is bold).
        parent: the owning window.

    Raises:
        ValueError: with fewer than 2 or more than 5 trials, or a trial twice.
    """

    def __init__(self, records: Sequence[TrialRecord], series: TrialSeries,
                 kpi_name: str = "KPI", goal: Goal = Goal.MIN,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if not COMPARE_MIN <= len(records) <= COMPARE_MAX:
            raise ValueError(f"compare needs {COMPARE_MIN} to {COMPARE_MAX} trials, "
                             f"got {len(records)}")
        ids = [r.id for r in records]
        if len(set(ids)) != len(ids):
            raise ValueError(f"compare got a trial twice: ids {ids}")
        self.records = list(records)
        self.kpi_name, self.goal = kpi_name, goal
        self._series = {r.id: dict(series.get(r.id, {})) for r in self.records}
        self._source: ChartData | None = None
        self._versions: dict[int, int] = {}
        self._timer: QTimer | None = None
        self.rows = compare_rows(self.records, kpi_name, goal)
        numbers = ", ".join(f"#{r.number}" for r in self.records)
        self.setWindowTitle(f"Compare trials {numbers}")
        self.resize(1000, 760)
        self.only_differences = QCheckBox("Only differing parameters")
        self.only_differences.toggled.connect(self._apply_row_filter)
        self.summary = QLabel(self._summary_text())
        self.table = self._build_table()
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(palette().color(QPalette.ColorRole.Base))
        self._plot_items: dict[str, pg.PlotItem] = {}
        self._curves: dict[tuple[str, int], pg.PlotDataItem] = {}
        self._draw_plots()
        self.export_menu = ChartExportMenu(self.plots, "compare-trials")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.plots)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(scroll)
        splitter.setSizes([330, 430])
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.only_differences)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

    @classmethod
    def from_chart_data(cls, trial_ids: Sequence[int], data: ChartData,
                        parent: QWidget | None = None) -> CompareDialog:
        """A dialog over the trials and metric points a Charts panel holds.

        Raises:
            ValueError: when a trial id is not in ``data``, or the count is not 2 to 5.
        """
        missing = [t for t in trial_ids if t not in data.trials]
        if missing:
            raise ValueError(f"cannot compare: trial ids {missing} are not in this experiment")
        records = [data.trials[t] for t in trial_ids]
        return cls(records, _series_of(trial_ids, data), data.kpi_name or "KPI", data.goal,
                   parent)

    # -- following a Charts panel's data -----------------------------------------------

    def follow(self, data: ChartData) -> None:
        """Keep the dialog current with ``data`` while it is open (see :meth:`refresh`)."""
        self._source = data
        self._versions = self._trial_versions(data)
        self._timer = QTimer(self)
        self._timer.setInterval(FOLLOW_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def refresh(self) -> bool:
        """Take in what changed in the followed data: new points extend the curves, a
        changed trial (it ended, its KPI) its column. Following ends when the data no
        longer holds these trials (another experiment is shown). True if anything changed.
        """
        data = self._source
        if data is None:
            return False
        if any(r.id not in data.trials for r in self.records):
            self._source = None
            if self._timer is not None:
                self._timer.stop()
            return False
        records = [data.trials[r.id] for r in self.records]
        versions = self._trial_versions(data)
        changed = False
        if records != self.records:
            self.records = records
            self.rows = compare_rows(records, self.kpi_name, self.goal)
            self._fill_table(self.table)
            self._apply_row_filter(self.only_differences.isChecked())
            self.summary.setText(self._summary_text())
            changed = True
        if versions != self._versions:
            self._versions = versions
            self._series = _series_of([r.id for r in records], data)
            self._redraw()
            changed = True
        return changed

    @property
    def following(self) -> bool:
        """Whether the dialog still follows a Charts panel's data."""
        return self._source is not None

    def _trial_versions(self, data: ChartData) -> dict[int, int]:
        return {r.id: data.buffers.trial_version(r.id) for r in self.records}

    # -- queries (tests, callers) ----------------------------------------------------------

    def trial_colour(self, trial_id: int) -> QColor:
        """The colour of a trial's column header and curves.

        Raises:
            KeyError: when the trial is not compared here.
        """
        ids = [r.id for r in self.records]
        if trial_id not in ids:
            raise KeyError(f"trial id {trial_id} is not compared here ({ids})")
        return QColor(TRIAL_COLOURS[ids.index(trial_id)])

    def metric_names(self) -> list[str]:
        """The metrics plotted, the KPI first, then in first-seen order."""
        return list(self._plot_items)

    def plot_item(self, metric: str) -> pg.PlotItem:
        """The plot of one metric.

        Raises:
            KeyError: when no trial reported that metric.
        """
        return self._plot_items[metric]

    def curve_data(self, metric: str, trial_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A drawn curve's steps and values.

        Raises:
            KeyError: when that trial has no curve of that metric.
        """
        x, y = self._curves[(metric, trial_id)].getData()
        return (np.empty(0) if x is None else np.asarray(x),
                np.empty(0) if y is None else np.asarray(y))

    def differing_params(self) -> list[str]:
        """The dotted parameters whose values differ between the trials."""
        return [row.label for row in self.rows if row.kind is RowKind.PARAM and row.differs]

    def visible_row_labels(self) -> list[str]:
        """The labels of the table rows shown (after "Only differing parameters")."""
        return [self.rows[i].label for i in range(len(self.rows))
                if not self.table.isRowHidden(i)]

    # -- building --------------------------------------------------------------------------

    def _summary_text(self) -> str:
        differing = sum(1 for row in self.rows if row.kind is RowKind.PARAM and row.differs)
        total = sum(1 for row in self.rows if row.kind is RowKind.PARAM)
        return (f"<b>{len(self.records)} trials</b> · {differing} of {total} parameters "
                f"differ (highlighted)")

    def _build_table(self) -> QTableWidget:
        table = QTableWidget()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setWordWrap(False)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        self._fill_table(table)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    def _fill_table(self, table: QTableWidget) -> None:
        table.setRowCount(len(self.rows))
        table.setColumnCount(len(self.records))
        for column, record in enumerate(self.records):
            swatch = QPixmap(10, 10)
            swatch.fill(self.trial_colour(record.id))
            header = QTableWidgetItem(QIcon(swatch), f"Trial #{record.number}")
            header.setToolTip(f"trial id {record.id}")
            table.setHorizontalHeaderItem(column, header)
        bold = QFont(table.font())
        bold.setBold(True)
        highlight = QBrush(QColor(DIFFERS_BACKGROUND))
        dark_text = QBrush(QColor("#111111"))
        for index, row in enumerate(self.rows):
            label = QTableWidgetItem(row.label)
            if row.differs:
                label.setFont(bold)
                label.setToolTip("the trials' values differ")
            table.setVerticalHeaderItem(index, label)
            for column, text in enumerate(row.cells):
                item = QTableWidgetItem(text)
                if row.differs:
                    item.setBackground(highlight)
                    item.setForeground(dark_text)
                if row.best == column:
                    item.setFont(bold)
                    item.setToolTip(f"the best {self.kpi_name} of these trials")
                table.setItem(index, column, item)
        table.resizeColumnsToContents()

    def _apply_row_filter(self, only_differences: bool) -> None:
        for index, row in enumerate(self.rows):
            hide = only_differences and row.kind is RowKind.PARAM and not row.differs
            self.table.setRowHidden(index, hide)

    def _draw_plots(self) -> None:
        names: dict[str, None] = {}
        if any(self.kpi_name in by_name for by_name in self._series.values()):
            names[self.kpi_name] = None
        for by_name in self._series.values():
            names.update(dict.fromkeys(by_name))
        axis_pen = pg.mkPen(text_color())
        for position, name in enumerate(names):
            item = self.plots.addPlot(row=position // PLOT_COLUMNS, col=position % PLOT_COLUMNS)
            item.setTitle(name, color=text_color(), size="9pt")
            item.setLabel("bottom", "step")
            item.showGrid(x=True, y=True, alpha=0.15)
            item.setMenuEnabled(False)
            for axis_name in ("left", "bottom"):
                axis = item.getAxis(axis_name)
                axis.setPen(axis_pen)
                axis.setTextPen(axis_pen)
                axis.enableAutoSIPrefix(False)
            item.setDownsampling(auto=True, mode="peak")
            item.setClipToView(True)
            item.addLegend(offset=(-8, 8), labelTextColor=text_color(),
                           brush=pg.mkBrush(255, 255, 255, 170))
            self._plot_items[name] = item
            self._draw_curves(name, item)
        rows = (len(names) + PLOT_COLUMNS - 1) // PLOT_COLUMNS
        self.plots.setMinimumHeight(max(rows, 1) * PLOT_ROW_HEIGHT)
        if not names:
            self.plots.addLabel("No metric points were reported by these trials.",
                                color=text_color())

    def _redraw(self) -> None:
        """New points: update each curve in place; a metric seen for the first time
        (or one gone) lays the plots out again."""
        names: set[str] = set()
        for by_name in self._series.values():
            names.update(by_name)
        if names != set(self._plot_items):
            self.plots.clear()
            self._plot_items.clear()
            self._curves.clear()
            self._draw_plots()
            return
        for name, item in self._plot_items.items():
            for record in self.records:
                curve = self._curves.get((name, record.id))
                series = self._series[record.id].get(name)
                if series is None:
                    continue
                if curve is None:
                    self._draw_curve(name, item, record)
                else:
                    curve.setData(*series)
                    curve.setSymbol("o" if len(series[0]) < SYMBOLS_BELOW else None)

    def _draw_curves(self, name: str, item: pg.PlotItem) -> None:
        for record in self.records:
            if name in self._series[record.id]:
                self._draw_curve(name, item, record)

    def _draw_curve(self, name: str, item: pg.PlotItem, record: TrialRecord) -> None:
        series: Mapping[str, Series] = self._series[record.id]
        x, y = series[name]
        colour = self.trial_colour(record.id)
        curve = item.plot(x, y, pen=pg.mkPen(colour, width=2), name=f"#{record.number}")
        curve.setSymbolBrush(colour)
        if len(x) < SYMBOLS_BELOW:
            curve.setSymbol("o")
        self._curves[(name, record.id)] = curve


def open_compare(trial_ids: Sequence[int], data: ChartData,
                 parent: QWidget | None = None) -> CompareDialog:
    """Show a non-modal :class:`CompareDialog` over ``data``, following it (deleted
    when closed).

    Connect ``TrialsPanel.compareRequested`` to this with the Charts panel's data.

    Raises:
        ValueError: see :meth:`CompareDialog.from_chart_data`.
    """
    dialog = CompareDialog.from_chart_data(trial_ids, data, parent)
    dialog.follow(data)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def _series_of(trial_ids: Sequence[int], data: ChartData) -> dict[int, dict[str, Series]]:
    """Copies of every metric series the trials have in ``data``."""
    buffers = data.buffers
    series: dict[int, dict[str, Series]] = {}
    for trial_id in trial_ids:
        series[trial_id] = {}
        for name in buffers.names():
            if buffers.size(trial_id, name):
                steps, values = buffers.series(trial_id, name)
                series[trial_id][name] = (steps.copy(), values.copy())
    return series
