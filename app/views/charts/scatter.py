"""KPI against one parameter, picked from a combo box.

Numbers are plotted as they are (log-scaled ones on a log axis); strings,
booleans and branch names as jittered columns, one per category. Dots are
coloured by trial number (early dark, late bright, in :data:`SHADES` steps),
pruned trials are grey crosses (their KPI is from an early step), the best
trial is a star;
hovering a dot shows the trial's id and params.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.engine.params import flatten
from app.engine.trial import TrialState
from app.views.charts.axes import AxisKind, ParamAxis, build_axis, category_key
from app.views.charts.data import ChartData
from app.views.charts.style import BEST_PEN, colormap, make_plot, text_color

JITTER = 0.15
SHADES = 8
PRUNED_BRUSH = (150, 150, 150, 200)


class ParamScatterChart(QWidget):
    """A scatter of the KPI against the parameter chosen in :attr:`param_combo`."""

    def __init__(self, data: ChartData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.log_params: Collection[str] | None = None  # None: guess from the values
        self.param_combo = QComboBox()
        self.param_combo.setMinimumContentsLength(24)
        self.param_combo.currentTextChanged.connect(self._param_changed)
        top = QHBoxLayout()
        top.addWidget(QLabel("Parameter:"))
        top.addWidget(self.param_combo)
        top.addStretch(1)
        self.plot_widget = make_plot(self)
        self.plot_item = self.plot_widget.getPlotItem()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget)
        self.dot_items: list[pg.ScatterPlotItem] = []  # SHADES shades by number, then pruned
        hover_pen = pg.mkPen(text_color(), width=2)
        for index in range(SHADES + 1):
            if index < SHADES:
                brush = pg.mkBrush(colormap().map((index + 0.5) / SHADES, mode="qcolor"))
                item = pg.ScatterPlotItem(size=8, pen=None, brush=brush)
            else:
                item = pg.ScatterPlotItem(size=6, symbol="x", pen=None,
                                          brush=pg.mkBrush(*PRUNED_BRUSH))
            item.setData([], [], hoverable=True, tip=self._tip, hoverPen=hover_pen,
                         hoverSize=11)
            self.plot_item.addItem(item)
            self.dot_items.append(item)
        self.best_dot = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen(BEST_PEN),
                                           brush=pg.mkBrush(BEST_PEN))
        self.plot_item.addItem(self.best_dot)
        self._plotted = (np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
        self.axis: ParamAxis | None = None
        self._flat: dict[int, dict[str, Any]] = {}
        self._drawn_key: object = None
        self._seen = (-1, -1)

    def _tip(self, x: float, y: float, data: object) -> str:
        return self._data.describe_trial(int(data))  # type: ignore[call-overload]

    def plotted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y and trial id of every dot drawn (x is log10 of the value on a log axis)."""
        return self._plotted

    @property
    def param(self) -> str:
        """The parameter on the x axis ("" when there is none)."""
        return self.param_combo.currentText()

    def set_param(self, name: str) -> None:
        """Show the KPI against ``name``.

        Raises:
            ValueError: when no trial has that parameter.
        """
        index = self.param_combo.findText(name)
        if index < 0:
            raise ValueError(f"no trial has a parameter {name!r}")
        self.param_combo.setCurrentIndex(index)

    def refresh(self) -> None:
        """Redraw when trials changed since the last call."""
        data = self._data
        seen = (data.kpi_version, data.trials_version)
        if seen == self._seen:
            return
        self._seen = seen
        self._update_combo()
        self._draw()

    def _update_combo(self) -> None:
        names: dict[str, None] = {}
        for record in self._data.trials.values():
            for name in self._flat_params(record.id, record.params):
                names.setdefault(name, None)
        present = [self.param_combo.itemText(i) for i in range(self.param_combo.count())]
        if list(names) != present:
            current = self.param_combo.currentText()
            self.param_combo.blockSignals(True)
            self.param_combo.clear()
            self.param_combo.addItems(list(names))
            if current in names:
                self.param_combo.setCurrentText(current)
            self.param_combo.blockSignals(False)

    def _flat_params(self, trial_id: int, params: dict[str, Any]) -> dict[str, Any]:
        flat = self._flat.get(trial_id)
        if flat is None:
            flat = self._flat[trial_id] = flatten(params)
        return flat

    def _param_changed(self, _name: str) -> None:
        self._drawn_key = None
        self._draw()

    def _draw(self) -> None:
        data, name = self._data, self.param
        records = [r for r in data.trials.values()
                   if r.kpi is not None and np.isfinite(r.kpi) and data.is_shown(r.id)
                   and self._flat_params(r.id, r.params).get(name) is not None]
        key = (data.kpi_version, name, tuple((r.id, r.kpi) for r in records))
        if key == self._drawn_key:
            return
        self._drawn_key = key
        self.plot_item.setLabel("left", data.kpi_name or "KPI")
        values = [self._flat_params(r.id, r.params)[name] for r in records]
        log_param = None if self.log_params is None else name in self.log_params
        axis = self.axis = build_axis(name, values, log=log_param)
        bottom = self.plot_item.getAxis("bottom")
        self.plot_item.setLabel("bottom", axis.title)
        if axis.kind is AxisKind.CATEGORY:
            x = self._category_x(axis, values, [r.number for r in records])
            bottom.setTicks([[(i, c) for i, c in enumerate(axis.categories)], []])
        else:
            x = np.array(values, dtype=float)
            if axis.kind is AxisKind.LOG:  # the scatter item has no log mode: plot log10
                x = np.log10(x)
                bottom.setTicks(axis.log_ticks())
            else:
                bottom.setTicks(None)
        y = np.array([r.kpi for r in records], dtype=float)
        ids = np.array([r.id for r in records], dtype=np.int64)
        numbers = np.array([r.number for r in records], dtype=float)
        span = max(1.0, float(numbers.max() - numbers.min())) if len(numbers) else 1.0
        shade = (numbers - (numbers.min() if len(numbers) else 0)) / span
        group = np.minimum((shade * SHADES).astype(int), SHADES - 1)
        group[np.array([r.state is TrialState.PRUNED for r in records], dtype=bool)] = SHADES
        # One uniformly styled item per group: per-point brushes cost ~35 µs a point here.
        for index, item in enumerate(self.dot_items):
            mask = group == index
            item.setData(x=x[mask], y=y[mask], data=ids[mask])
        self._plotted = (x, y, ids)
        best = data.best_trial_id()
        where = [i for i, r in enumerate(records) if r.id == best]
        if where:
            self.best_dot.setData(x=x[where], y=y[where])
        else:
            self.best_dot.setData([], [])

    @staticmethod
    def _category_x(axis: ParamAxis, values: list[Any], numbers: list[int]) -> np.ndarray:
        index = {c: i for i, c in enumerate(axis.categories)}
        base = np.array([index[category_key(v)] for v in values], dtype=float)
        # Deterministic jitter by trial number, so dots do not dance between redraws.
        jitter = ((np.array(numbers, dtype=float) * 0.6180339887) % 1.0 - 0.5) * 2 * JITTER
        return base + jitter
