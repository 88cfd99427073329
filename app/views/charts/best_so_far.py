"""Best-so-far KPI against trial number and against wall time, side by side."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.engine.best import competing_kpi
from app.engine.records import TrialRecord
from app.views.charts.axes import best_so_far
from app.views.charts.data import ChartData
from app.views.charts.style import BEST_PEN, NO_KPI_PEN, make_plot

_UNITS = ((2 * 3600, 3600.0, "h"), (120, 60.0, "min"), (0, 1.0, "s"))


def time_unit(span_s: float) -> tuple[float, str]:
    """Seconds per unit and its name for a time span: s, min or h."""
    for above, seconds, name in _UNITS:
        if span_s >= above:
            return seconds, name
    return 1.0, "s"


def steps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A staircase through (x, y): each value holds until the next x."""
    if len(x) < 2:
        return x, y
    return np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]


class BestSoFarChart(QWidget):
    """Two plots: best KPI so far by trial number, and by elapsed time since the first start.

    Every completed trial with a KPI is a dot; the staircase is the best so far. Pruned
    and stopped trials are left out: their KPI comes from an early step.
    """

    def __init__(self, data: ChartData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.by_number = make_plot(self, "best so far, by trial")
        self.by_time = make_plot(self, "best so far, by time")
        self.by_number.getPlotItem().setLabel("bottom", "trial number")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.by_number)
        layout.addWidget(self.by_time)
        self.number_dots, self.number_line = self._items(self.by_number)
        self.time_dots, self.time_line = self._items(self.by_time)
        self._seen = (-1, -1)

    @staticmethod
    def _items(plot: pg.PlotWidget) -> tuple[pg.ScatterPlotItem, pg.PlotDataItem]:
        dots = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(NO_KPI_PEN))
        line = pg.PlotDataItem(pen=pg.mkPen(BEST_PEN, width=2))
        plot.addItem(dots)
        plot.addItem(line)
        return dots, line

    def refresh(self) -> None:
        """Redraw when trials changed since the last call."""
        data = self._data
        seen = (data.kpi_version, data.trials_version)
        if seen == self._seen:
            return
        self._seen = seen
        for plot in (self.by_number, self.by_time):
            plot.getPlotItem().setLabel("left", data.kpi_name or "KPI")
        done = [r for r in data.trials.values() if competing_kpi(r) is not None]
        self._draw_by_number(sorted(done, key=lambda r: r.number))
        self._draw_by_time(done)

    def _draw_by_number(self, done: list[TrialRecord]) -> None:
        x = np.array([r.number for r in done], dtype=float)
        y = np.array([r.kpi for r in done], dtype=float)
        self.number_dots.setData(x, y)
        self.number_line.setData(*steps(x, best_so_far(y, self._data.goal)))

    def _draw_by_time(self, done: list[TrialRecord]) -> None:
        timed = sorted(((r.ended_at, r) for r in done if r.ended_at is not None),
                       key=lambda pair: pair[0])
        starts = [r.started_at or r.created_at for r in self._data.trials.values()]
        if not timed or not starts:
            self.time_dots.setData([], [])
            self.time_line.setData([], [])
            return
        origin = min(starts)
        seconds = np.array([(ended - origin).total_seconds() for ended, _ in timed])
        unit, label = time_unit(float(seconds.max()))
        x = seconds / unit
        y = np.array([r.kpi for _, r in timed], dtype=float)
        self.by_time.getPlotItem().setLabel("bottom", f"elapsed ({label})")
        self.time_dots.setData(x, y)
        self.time_line.setData(*steps(x, best_so_far(y, self._data.goal)))
