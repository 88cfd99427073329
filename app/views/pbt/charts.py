"""The PBT tab's three charts: the lineage (population over time), the best trial's
schedule, and the KPI curves by segment with a marker at each exploit."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.application.lineage import Lineage, Schedule, SegmentCurve
from app.views.charts.style import BEST_PEN, colormap, make_plot, running_color, text_color
from app.views.pbt.geometry import copy_edges, last_step, log_scaled, schedule_lines

SPAN_WIDTH = 6
MARKER_SIZE = 9


class LineageChart(QWidget):
    """One row per trial, one bar per segment along training steps (coloured by the
    first mutated parameter's value), a vertical line from donor to copier at each
    exploit with a marker on the copier's row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = make_plot(self, "population over training (who copied whom)")
        item = self.plot_widget.getPlotItem()
        item.setLabel("bottom", "training step")
        item.setLabel("left", "trial")
        item.invertY(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.spans: list[pg.PlotDataItem] = []
        self.edges = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(text_color(), width=1.5))
        self.markers = pg.ScatterPlotItem(size=MARKER_SIZE, symbol="t", pen=None,
                                          brush=pg.mkBrush(text_color()))
        self.plot_widget.addItem(self.edges)
        self.plot_widget.addItem(self.markers)

    def set_lineage(self, found: Lineage) -> None:
        """Draw ``found`` (replaces what was drawn)."""
        for span_item in self.spans:
            self.plot_widget.removeItem(span_item)
        self.spans = []
        name = found.mutated[0] if found.mutated else None
        values = [_number(s.params.get(name)) for s in found.spans] if name else []
        shade = _shader(values)
        end = last_step(found)
        for position, span in enumerate(found.spans):
            stop = span.end if span.end is not None else end
            colour = shade(values[position]) if values else running_color(span.trial)
            span_item = pg.PlotDataItem([span.start, max(stop, span.start)],
                                        [span.trial, span.trial],
                                        pen=pg.mkPen(colour, width=SPAN_WIDTH))
            self.plot_widget.addItem(span_item)
            self.spans.append(span_item)
        self.plot_widget.getPlotItem().getAxis("left").setTicks(
            [[(float(number), str(number)) for number in found.trials]])
        xs, ys = copy_edges(found)
        self.edges.setData(xs, ys)
        self.markers.setData([c.step for c in found.copies], [c.trial for c in found.copies])
        title = "population over training (who copied whom)"
        if name:
            title += f"; colour: {name}"
        self.plot_widget.getPlotItem().setTitle(title, color=text_color())


class ScheduleChart(QWidget):
    """The best trial's schedule: one small plot per mutated parameter, its value as a
    step function over training steps (log axis when it spans more than 10x)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = make_plot(self, "best trial's schedule")
        self.plot_widget.getPlotItem().setLabel("bottom", "training step")
        self.plot_widget.getPlotItem().addLegend(offset=(-10, 10))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.lines: dict[str, pg.PlotDataItem] = {}

    def set_schedule(self, schedule: Schedule | None, why_not: str = "") -> None:
        """Draw ``schedule``; None clears the chart and puts ``why_not`` in the title."""
        item = self.plot_widget.getPlotItem()
        for line in self.lines.values():
            self.plot_widget.removeItem(line)
        self.lines = {}
        if item.legend is not None:
            item.legend.clear()
        if schedule is None:
            item.setTitle(why_not or "no schedule yet", color=text_color())
            return
        kpi = "" if schedule.kpi is None else f", KPI {schedule.kpi:.4g}"
        item.setTitle(f"schedule of trial {schedule.trial}{kpi}", color=text_color())
        every: list[float] = []
        for position, name in enumerate(schedule.mutated):
            xs, ys = schedule_lines(schedule, name)
            every.extend(ys.tolist())
            line = pg.PlotDataItem(xs, ys, name=name,
                                   pen=pg.mkPen(running_color(position), width=2.5))
            self.plot_widget.addItem(line)
            self.lines[name] = line
        logarithmic = log_scaled(every)
        item.setLogMode(y=logarithmic)
        item.setLabel("left", "value (log scale)" if logarithmic else "value")


class SegmentCurvesChart(QWidget):
    """Each trial's KPI by segment: a segment that starts from a donor's checkpoint is
    joined to the donor's value at that step, with a diamond marker there; the best
    trial's segments are drawn thick in the best colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = make_plot(self, "KPI by segment (diamond: exploit)")
        self.plot_widget.getPlotItem().setLabel("bottom", "training step")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.curves: list[pg.PlotDataItem] = []
        self.joins = pg.ScatterPlotItem(size=MARKER_SIZE, symbol="d", pen=None,
                                        brush=pg.mkBrush(text_color()))
        self.plot_widget.addItem(self.joins)

    def set_curves(self, curves: list[SegmentCurve], kpi_name: str,
                   best: int | None) -> None:
        """Draw ``curves``; trial ``best``'s on top, highlighted."""
        for curve_item in self.curves:
            self.plot_widget.removeItem(curve_item)
        self.curves = []
        self.plot_widget.getPlotItem().setLabel("left", kpi_name)
        ordered = sorted(curves, key=lambda c: (c.trial == best, c.trial, c.segment))
        joins_x: list[float] = []
        joins_y: list[float] = []
        for curve in ordered:
            pen = (pg.mkPen(BEST_PEN, width=3) if curve.trial == best
                   else pg.mkPen(running_color(curve.trial), width=1.5))
            xs = np.asarray(curve.steps, float)
            ys = np.asarray(curve.values, float)
            curve_item = pg.PlotDataItem(xs, ys, pen=pen)
            self.plot_widget.addItem(curve_item)
            self.curves.append(curve_item)
            if curve.joined:
                joins_x.append(float(xs[0]))
                joins_y.append(float(ys[0]))
        self.joins.setData(joins_x, joins_y)
        self.joins.setZValue(10)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _shader(values: list[float]) -> Callable[[float], object]:
    """Colour for a value between the smallest and the largest (log when they span >10x)."""
    finite = [v for v in values if math.isfinite(v)]
    logarithmic = log_scaled(finite)
    scale = [math.log10(v) for v in finite] if logarithmic else finite
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    cmap = colormap()

    def shade(value: float) -> object:
        if not math.isfinite(value):
            return (150, 150, 150)
        where = math.log10(value) if logarithmic and value > 0 else value
        fraction = 0.5 if high <= low else (where - low) / (high - low)
        return cmap.map(min(max(fraction, 0.0), 1.0), mode="qcolor")

    return shade
