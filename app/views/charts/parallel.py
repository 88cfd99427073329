"""Parallel coordinates: one polyline per trial across its parameters and the KPI.

Every numeric parameter is an axis scaled to [0, 1] (log-scaled ones on a log
scale), strings, booleans and branch names are categories; a trial without a
value on an axis (a conditional branch not taken, no KPI yet) passes through the
"—" band below the axes at :data:`MISSING_POSITION`, so every line stays whole
and reaches the KPI axis. The axes' titles are laid out by
:class:`~app.views.charts.titles.AxisTitles` (never overlapping, elided with
the full name as tooltip). Lines are
coloured by KPI: trials are binned into :data:`COLOR_BINS` colours and each bin
is ONE NaN-separated curve item, better bins drawn on top; trials without a KPI
are grey and at the bottom. 2,000 trials are 17 items, not 2,000.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.engine.params import flatten
from app.engine.trial import TrialState
from app.views.charts.axes import ParamAxis, build_axes, build_axis
from app.views.charts.data import ChartData
from app.views.charts.geometry import JoinedCurves, nearest_curve
from app.views.charts.hover import HoverTracker
from app.views.charts.style import (
    BEST_PEN,
    NO_KPI_PEN,
    colormap,
    make_plot,
    palette,
    text_color,
)
from app.views.charts.titles import AxisTitles

COLOR_BINS = 16
HOVER_RADIUS_PX = 5.0
MISSING_POSITION = -0.15
"""Where a trial without a value on an axis crosses it: the middle of the "—" band."""
MISSING_BAND = (-0.2, -0.1)
MISSING_LABEL = "—"


class ParallelCoordinatesChart(QWidget):
    """One line per trial over parameter axes and a last KPI axis, coloured by KPI."""

    def __init__(self, data: ChartData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.log_params: Collection[str] | None = None  # None: guess from the values
        self.titles = AxisTitles()
        self.plot_widget = make_plot(self, bottom=self.titles)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.hideAxis("left")
        self.titles.setPen(pg.mkPen(0, 0, 0, 0))  # no axis line under the titles
        self.plot_item.showGrid(x=False, y=False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.axes: list[ParamAxis] = []
        self.line_items: list[pg.PlotCurveItem] = []  # one per colour bin, then no-KPI
        self.best_item = pg.PlotCurveItem(pen=pg.mkPen(BEST_PEN, width=3))
        self.best_item.setZValue(COLOR_BINS + 2)
        self.plot_item.addItem(self.best_item)
        self.axis_lines = pg.PlotCurveItem(pen=pg.mkPen(text_color(), width=1), connect="pairs")
        self.axis_lines.setZValue(COLOR_BINS + 3)
        self.plot_item.addItem(self.axis_lines)
        self.hover_item = pg.PlotCurveItem(pen=pg.mkPen(text_color(), width=2), connect="finite")
        self.hover_item.setZValue(COLOR_BINS + 4)
        self.plot_item.addItem(self.hover_item)
        band = palette().color(QPalette.ColorRole.Text)
        band.setAlpha(28)
        self.missing_band = pg.LinearRegionItem(MISSING_BAND, orientation="horizontal",
                                                movable=False, brush=pg.mkBrush(band),
                                                pen=pg.mkPen(None))
        self.missing_band.setZValue(-1)
        self.missing_band.setVisible(False)
        self.plot_item.addItem(self.missing_band)
        self._labels: list[pg.TextItem] = []
        self._axes_drawn: list[tuple[str, list[tuple[float, str]], bool]] = []
        self._lines = JoinedCurves.empty()
        self._flat: dict[int, dict[str, Any]] = {}
        self._missing_axes: list[bool] = []  # per axis: some trial has no value there
        self._drawn_key: object = None
        self._seen = (-1, -1)
        self.hover = HoverTracker(self.plot_widget, self.trial_at, data.describe_trial)
        self.hover.changed.connect(self._show_hovered)

    def refresh(self) -> None:
        """Redraw when a trial's state, KPI or the set of trials changed."""
        data = self._data
        seen = (data.kpi_version, data.trials_version)
        if seen == self._seen:
            return
        self._seen = seen
        key = (data.kpi_version, None if self.log_params is None else tuple(self.log_params),
               tuple((r.id, r.state, r.kpi) for r in data.trials.values()))
        if key == self._drawn_key:
            return
        self._drawn_key = key
        self._draw()

    def _draw(self) -> None:
        data = self._data
        records = [r for r in data.trials.values()
                   if r.state is not TrialState.CREATED and data.is_shown(r.id)]
        rows = [self._flat_params(r.id, r.params) for r in records]
        axes = build_axes(rows, self.log_params)
        kpis = [r.kpi if r.kpi is not None and np.isfinite(r.kpi) else None for r in records]
        kpi_axis = build_axis(data.kpi_name or "KPI", kpis, log=False)
        self.axes = [*axes, kpi_axis]
        n_axes = len(self.axes)
        matrix = np.full((len(records), n_axes + 1), np.nan)  # last column: separator
        for column, axis in enumerate(axes):
            matrix[:, column] = axis.positions([row.get(axis.name) for row in rows])
        matrix[:, n_axes - 1] = kpi_axis.positions(kpis)
        kpi_pos = matrix[:, n_axes - 1].copy()
        missing = np.isnan(matrix[:, :-1])
        self._missing_axes = [bool(m) for m in missing.any(axis=0)]
        matrix[:, :-1][missing] = MISSING_POSITION  # through the band: every line whole
        ids = np.array([r.id for r in records], dtype=np.int64)
        self._lines = JoinedCurves(
            x=np.tile(np.append(np.arange(n_axes, dtype=float), np.nan), len(records)),
            y=matrix.ravel(), ids=np.repeat(ids, n_axes + 1),
            ends=np.arange(len(records), dtype=np.intp) * (n_axes + 1) + n_axes - 1)
        self._draw_lines(matrix, kpi_pos)
        self._draw_best(matrix, ids)
        self._draw_axes()
        self.hover.set_trial(None)

    def _flat_params(self, trial_id: int, params: dict[str, Any]) -> dict[str, Any]:
        flat = self._flat.get(trial_id)
        if flat is None:  # a trial's params never change, so flatten once
            flat = self._flat[trial_id] = flatten(params)
        return flat

    def _draw_lines(self, matrix: np.ndarray, kpi_pos: np.ndarray) -> None:
        goodness = kpi_pos if self._data.goal.sign < 0 else 1.0 - kpi_pos
        bins = np.where(np.isfinite(goodness),
                        np.minimum((np.nan_to_num(goodness) * COLOR_BINS).astype(int),
                                   COLOR_BINS - 1), COLOR_BINS)
        while len(self.line_items) < COLOR_BINS + 1:
            index = len(self.line_items)
            if index < COLOR_BINS:
                color = colormap().map((index + 0.5) / COLOR_BINS, mode="qcolor")
                color.setAlpha(170)
                pen = pg.mkPen(color)
            else:
                pen = pg.mkPen(NO_KPI_PEN)
            item = pg.PlotCurveItem(pen=pen, connect="finite")
            item.setZValue(index + 1 if index < COLOR_BINS else 0)
            self.plot_item.addItem(item)
            self.line_items.append(item)
        n_cols = matrix.shape[1]
        x = np.append(np.arange(n_cols - 1, dtype=float), np.nan)
        for index, item in enumerate(self.line_items):
            rows = matrix[bins == index]
            if len(rows) == 0:
                item.setData([], [])
                continue
            item.setData(np.tile(x, len(rows)), rows.ravel(), connect="finite")

    def _draw_best(self, matrix: np.ndarray, ids: np.ndarray) -> None:
        best = self._data.best_trial_id()
        where: np.ndarray = np.flatnonzero(ids == best) if best is not None else np.empty(0)
        if len(where) == 0:
            self.best_item.setData([], [])
            return
        row = matrix[where[0], :-1]
        self.best_item.setData(np.arange(len(row), dtype=float), row, connect="finite")

    def _draw_axes(self) -> None:
        n = len(self.axes)
        layout = [(axis.title, axis.ticks(), missing)
                  for axis, missing in zip(self.axes, self._missing_axes, strict=True)]
        if layout == self._axes_drawn:
            return  # the same axes and labels: keep the text items (costly to make)
        self._axes_drawn = layout
        xs = np.repeat(np.arange(n, dtype=float), 2)
        ys = np.tile([0.0, 1.0], n)
        self.axis_lines.setData(xs, ys, connect="pairs")
        for label in self._labels:
            self.plot_item.removeItem(label)
        self._labels = []
        color = text_color()
        fill = palette().color(QPalette.ColorRole.Base)
        fill.setAlpha(200)
        for i, (title, ticks, missing) in enumerate(layout):
            labels = [(position, text, "") for position, text in ticks]
            if missing:
                labels.append((MISSING_POSITION, MISSING_LABEL,
                               f"trials with no value for {title} cross here"))
            for position, text, tip in labels:
                label = pg.TextItem(text, color=color, anchor=(0, 0.5), fill=pg.mkBrush(fill))
                label.setZValue(COLOR_BINS + 5)
                label.setPos(i + 0.03, position)
                label.setToolTip(tip)
                self.plot_item.addItem(label)
                self._labels.append(label)
        any_missing = any(missing for _t, _k, missing in layout)
        self.missing_band.setVisible(any_missing)
        self.titles.set_titles([(float(i), axis.title) for i, axis in enumerate(self.axes)])
        self.plot_item.setXRange(-0.2, max(n - 1, 1) + 0.6, padding=0)
        self.plot_item.setYRange(MISSING_BAND[0] - 0.03 if any_missing else -0.08, 1.08,
                                 padding=0)
        self.plot_item.setTitle(f"colour: {self._data.kpi_name or 'KPI'} (yellow = best)",
                                color=color, size="9pt")

    def axis_labels(self, index: int) -> list[str]:
        """The value labels drawn along axis ``index`` (bottom to top, "—" for the band)."""
        labels = [label for label in self._labels if round(label.pos().x()) == index]
        return [label.textItem.toPlainText()
                for label in sorted(labels, key=lambda label: label.pos().y())]

    @property
    def line_count(self) -> int:
        """How many trial polylines are drawn (across all colour bins)."""
        return len(self._lines.ends)

    def lines(self) -> JoinedCurves:
        """Every trial's polyline, joined (positions in [0, 1]; :data:`MISSING_POSITION` where
        a trial has no value; NaN only as the separator after each line)."""
        return self._lines

    def trial_at(self, x: float, y: float, radius_px: float = HOVER_RADIUS_PX) -> int | None:
        """The trial whose polyline passes nearest to (x, y) in plot coordinates."""
        x_scale, y_scale = self.plot_item.getViewBox().viewPixelSize()
        if x_scale <= 0 or y_scale <= 0:
            return None
        found = nearest_curve(self._lines, x, y, x_scale, y_scale, radius_px)
        return None if found is None else found[0]

    def _show_hovered(self, trial_id: int | None) -> None:
        lines = self._lines
        mask = lines.ids == trial_id
        if trial_id is None or not mask.any():
            self.hover_item.setData([], [])
            return
        self.hover_item.setData(lines.x[mask], lines.y[mask], connect="finite")
