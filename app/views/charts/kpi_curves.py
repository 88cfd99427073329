"""Live KPI curves of every trial against step.

Finished trials are one :class:`~app.views.charts.layer.FinishedCurvesItem`
(NaN-separated, appended to as trials finish, rebuilt only when a finished trial's
points change); each running trial is its own curve with its own colour,
replaced when it grows, all held by one
:class:`~app.views.charts.running.RunningCurvesItem` (one item per running trial
cost ~0.35 ms each per frame before drawing anything: 12.5 ms for 32, against
1.6 ms for the one item); the best trial is drawn thick and bright on top (a
PlotDataItem with peak auto-downsampling and clip-to-view), running trials above
the finished ones, and a pruned trial's curve ends with a cross.

Hover: the curve nearest the mouse (within :data:`HOVER_RADIUS_PX`) is found by
:func:`~app.views.charts.geometry.nearest_curve` on mouse move (rate limited),
highlighted, and its trial id and params are shown in a tooltip. This works
anywhere along a curve, not only at its points.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from app.views.charts.data import ChartData
from app.views.charts.geometry import JoinedCurves, join_curves, nearest_curve
from app.views.charts.hover import HoverTracker
from app.views.charts.layer import FinishedCurvesItem
from app.views.charts.running import RunningCurvesItem
from app.views.charts.style import (
    BEST_PEN,
    FINISHED_PEN,
    PRUNED_PEN,
    make_plot,
    running_color,
    text_color,
)

HOVER_RADIUS_PX = 6.0
MAX_POINTS_PER_CURVE = 1000  # a finished curve longer than this is peak-decimated
GROW_BY = 0.25
"""While history loads, the view grows by at least this share of its span when curves
leave it (see :meth:`KpiCurvesChart.set_loading`)."""
HELD_PADDING = 0.02
JOIN_POINTS = 30_000
"""At most about this many points of newly finished curves are joined and handed to
the finished layer per refresh; the rest follow in the next turns of the event loop
(an opened experiment's history arrives thousands of curves at a time)."""

NO_TITLE = ""
"""The title with no best trial: empty, but it keeps its room above the plot (the plot
shrinking when the first trial completes is a new view: every curve drawn anew)."""

Z_FINISHED, Z_PRUNED, Z_RUNNING, Z_BEST, Z_HOVER = 0, 5, 10, 20, 30


class KpiCurvesChart(QWidget):
    """KPI against step for all trials; call :meth:`refresh` from a 5–10 Hz timer.

    ``hover`` (a :class:`HoverTracker`) tells which trial is under the mouse.
    """

    def __init__(self, data: ChartData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.plot_widget = make_plot(self)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setLabel("bottom", "step")
        self.plot_item.setTitle(NO_TITLE)
        # For the PlotDataItems (the best curve): the plot's settings win over an item's
        # when it is added, so they are set here, before any item is.
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setClipToView(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        self.finished_item = FinishedCurvesItem(pen=pg.mkPen(FINISHED_PEN))
        self.finished_item.setZValue(Z_FINISHED)
        self.plot_item.addItem(self.finished_item)
        self.pruned_markers = pg.ScatterPlotItem(symbol="x", size=6, pen=None,
                                                 brush=pg.mkBrush(*PRUNED_PEN, 170))
        self.pruned_markers.setZValue(Z_PRUNED)
        # ~1,000 crosses are static between finishes: paint them once per view, not per frame
        self.pruned_markers.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # copies of (the ends of) curves the layers hold: bounds of their own, padded
        # by their pens and symbols, would move the view as they come and go
        self.plot_item.addItem(self.pruned_markers, ignoreBounds=True)
        self.best_item = pg.PlotDataItem(pen=pg.mkPen(BEST_PEN, width=3))
        self.best_item.setZValue(Z_BEST)
        self.plot_item.addItem(self.best_item, ignoreBounds=True)
        self.hover_item = pg.PlotCurveItem(pen=pg.mkPen(text_color(), width=2))
        self.hover_item.setZValue(Z_HOVER)
        self.plot_item.addItem(self.hover_item, ignoreBounds=True)
        self.running_item = RunningCurvesItem()
        self.running_item.setZValue(Z_RUNNING)
        self.plot_item.addItem(self.running_item)
        self._add_legend()

        self._finished_drawn: dict[int, int] = {}  # trial id -> buffer version drawn
        self._running_drawn: dict[int, int] = {}
        self._best_drawn: tuple[int | None, int] = (None, -1)
        self._seen = (-1, -1, -1)  # kpi, trials and buffer versions of the last refresh
        self._pending: set[int] = set()  # finished trials still to be drawn
        self._more = QTimer(self)  # draws the pending ones, a refresh at a time
        self._more.setSingleShot(True)
        self._more.setInterval(0)
        self._more.timeout.connect(self.refresh)
        self._loading = False
        self._held = False  # the view's range is held (set here, not auto-ranged)
        self.hover = HoverTracker(self.plot_widget, self.trial_at, data.describe_trial)
        self.hover.changed.connect(self._show_hovered)

    def _add_legend(self) -> None:
        legend = pg.LegendItem(offset=(-10, 10), labelTextColor=text_color(),
                               brush=pg.mkBrush(255, 255, 255, 0))
        legend.setParentItem(self.plot_item.getViewBox())
        legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        samples = [(pg.PlotDataItem(pen=pg.mkPen(BEST_PEN, width=3)), "best"),
                   (pg.PlotDataItem(pen=pg.mkPen(running_color(0))), "running"),
                   (pg.PlotDataItem(pen=pg.mkPen(FINISHED_PEN[:3])), "finished"),
                   (self.pruned_markers, "pruned")]
        for sample, label in samples:
            legend.addItem(sample, label)
        self.legend = legend

    def _running_pen(self, trial_id: int) -> QPen:
        record = self._data.trials.get(trial_id)
        # width 1 (cosmetic): a wider pen is drawn segment by segment, ~40% slower here
        pen: QPen = pg.mkPen(running_color(record.number if record is not None else trial_id))
        return pen

    @property
    def drawn_trials(self) -> int:
        """How many trials' curves the chart holds now (finished and running)."""
        return len(self._finished_drawn) + len(self._running_drawn)

    # -- drawing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the curves up to date with the chart data; cheap when nothing changed."""
        data = self._data
        seen = (data.kpi_version, data.trials_version, data.buffers.version)
        if seen == self._seen and not self._pending:
            return
        everything = seen[0] != self._seen[0]  # another KPI, goal or top-K filter
        if everything:
            self._clear()
            self.plot_item.setLabel("left", data.kpi_name or "KPI")
        points = data.buffers.touched_since(self._seen[2])
        trials = data.trials_changed_since(self._seen[1])
        self._seen = seen
        if (everything or points is None or trials is None
                or not self._refresh_changed(points | trials | self._pending)):
            self._refresh_all()
        self._refresh_best()
        if self._pending:
            self._more.start()
        self._settle_range()

    def expect_bounds(self, bounds: tuple[float, float, float, float] | None) -> None:
        """The bounds (step min, max, KPI min, max) that the curves of the experiment
        being opened will span, read beside them: the view takes its final range now
        rather than growing as they arrive (:meth:`set_loading`). Ignored when not
        loading, and under a top-K filter (its curves span less)."""
        self.refresh()  # another experiment's or KPI's changes first (they clear it)
        if not self._loading or self._data.top_k is not None or bounds is None:
            return
        self.finished_item.expect(bounds)
        if self._held:  # from the curves that came first
            self._held = False
            self.plot_item.getViewBox().enableAutoRange()

    def set_loading(self, loading: bool) -> None:
        """Whether an experiment's stored history is arriving. Meanwhile the view does
        not follow every batch of curves (each new view draws every curve anew): it
        grows by :data:`GROW_BY` of its span when curves leave it; once loaded it
        auto-ranges again."""
        self._loading = loading
        if not loading and self._held:
            self._held = False
            self.plot_item.getViewBox().enableAutoRange()
        self._settle_range()

    def _settle_range(self) -> None:
        """While loading without expected bounds, hold the view; once loaded and all
        drawn, let the curves' own bounds stand for those expected."""
        if self._loading and self.finished_item.expected is None:
            self._hold_range()
        elif not self._loading and not self._pending:
            self.finished_item.expect(None)

    def _hold_range(self) -> None:
        view = self.plot_item.getViewBox()
        if not self._held and not view.autoRangeEnabled()[0] and not (
                view.autoRangeEnabled()[1]):
            return  # the user zoomed or panned: the view is theirs
        x_low, x_high = self.finished_item.dataBounds(0)
        y_low, y_high = self.finished_item.dataBounds(1)
        if x_low is None or x_high is None or y_low is None or y_high is None:
            return
        (vx0, vx1), (vy0, vy1) = view.viewRange()
        if self._held and vx0 <= x_low and x_high <= vx1 and vy0 <= y_low and y_high <= vy1:
            return
        if not self._held:  # from the data, as auto-range pads them
            x_pad, y_pad = HELD_PADDING * (x_high - x_low), HELD_PADDING * (y_high - y_low)
            vx0, vx1, vy0, vy1 = x_low - x_pad, x_high + x_pad, y_low - y_pad, y_high + y_pad
        self._held = True
        view.setRange(xRange=_grown(vx0, vx1, x_low, x_high),
                      yRange=_grown(vy0, vy1, y_low, y_high), padding=0)

    def _refresh_all(self) -> None:
        name, buffers, data = self._data.kpi_name, self._data.buffers, self._data
        finished: dict[int, int] = {}
        running: dict[int, int] = {}
        for trial_id in buffers.trial_ids():
            if buffers.size(trial_id, name) == 0:
                continue
            if not data.is_finished(trial_id):  # top K or not: watching them is the point
                running[trial_id] = buffers.trial_version(trial_id)
            elif data.is_shown(trial_id):
                finished[trial_id] = buffers.trial_version(trial_id)
        self._refresh_finished(finished)
        self._refresh_running(running, complete=True)

    def _refresh_changed(self, trial_ids: set[int]) -> bool:
        """Update just these trials; False when that cannot be done (then refresh all)."""
        name, buffers, data = self._data.kpi_name, self._data.buffers, self._data
        if data.top_k is not None:
            return False  # a trial entering the top K may push another out: redraw (<= 50)
        new: list[int] = []
        ended: list[int] = []
        running: dict[int, int] = {}
        for trial_id in sorted(trial_ids):
            if buffers.size(trial_id, name) == 0:
                continue
            version = buffers.trial_version(trial_id)
            if data.is_finished(trial_id):
                drawn = self._finished_drawn.get(trial_id)
                if drawn is not None and drawn != version:
                    return False  # late points of a finished trial: rebuild
                if drawn is None:
                    new.append(trial_id)
                ended.append(trial_id)
            elif trial_id in self._finished_drawn:
                return False  # a finished trial became unfinished (records replaced)
            else:
                running[trial_id] = version
        self._append_finished(new)
        self._remove_running(ended)
        self._refresh_running(running, complete=False)
        return True

    def _refresh_finished(self, finished: dict[int, int]) -> None:
        drawn = self._finished_drawn
        if finished == drawn:
            return
        stale = any(finished.get(trial_id) != version for trial_id, version in drawn.items())
        if stale:
            kept = {t: v for t, v in drawn.items() if finished.get(t) == v}
            full = self._join(list(kept))
            self.finished_item.set_curves(full)
            self._finished_drawn = kept
            self._add_pruned_markers(full, reset=True)
        self._pending = set()
        self._append_finished([t for t in finished if t not in self._finished_drawn])

    def _append_finished(self, trial_ids: list[int]) -> None:
        """Draw the curves of these finished trials after the others: those of about
        :data:`JOIN_POINTS` points now, the rest (:attr:`_pending`) at the next refresh."""
        name, buffers = self._data.kpi_name, self._data.buffers
        take, budget = 0, JOIN_POINTS
        while take < len(trial_ids) and budget > 0:
            budget -= min(buffers.size(trial_ids[take], name), MAX_POINTS_PER_CURVE)
            take += 1
        self._pending = set(trial_ids[take:])
        if not take:
            return
        full = self._join(trial_ids[:take])
        self.finished_item.append_curves(full)
        for trial_id in trial_ids[:take]:
            self._finished_drawn[trial_id] = buffers.trial_version(trial_id)
        self._add_pruned_markers(full, reset=False)

    def _join(self, trial_ids: list[int]) -> JoinedCurves:
        name, buffers = self._data.kpi_name, self._data.buffers
        return join_curves([(t, *buffers.series(t, name)) for t in trial_ids],
                           MAX_POINTS_PER_CURVE)

    def _add_pruned_markers(self, curves: JoinedCurves, reset: bool) -> None:
        """Mark the ends of the pruned ones among ``curves`` (after the present marks)."""
        x, y, ids = curves.endpoints()
        mask = np.fromiter((self._data.is_pruned(int(t)) for t in ids), dtype=bool,
                           count=len(ids))
        if not reset:
            if not mask.any():
                return
            old_x, old_y = self.pruned_markers.getData()
            x, y = np.append(old_x, x[mask]), np.append(old_y, y[mask])
            mask = np.ones(len(x), dtype=bool)
        self.pruned_markers.setData(x[mask], y[mask])

    def _remove_running(self, trial_ids: list[int]) -> None:
        gone = [t for t in trial_ids if self._running_drawn.pop(t, None) is not None]
        if gone:
            self.running_item.remove(gone)

    def _refresh_running(self, running: dict[int, int], complete: bool) -> None:
        """Update the curves of ``running``; with ``complete``, drop the curves of all others."""
        name, buffers = self._data.kpi_name, self._data.buffers
        if complete:
            self._remove_running([t for t in self._running_drawn if t not in running])
        changed = []
        for trial_id, version in running.items():
            if self._running_drawn.get(trial_id) == version:
                continue
            pen = (self.running_item.curve(trial_id)[2] if trial_id in self._running_drawn
                   else self._running_pen(trial_id))
            changed.append((trial_id, *buffers.series(trial_id, name), pen))
            self._running_drawn[trial_id] = version
        if changed:
            self.running_item.set_curves(changed)

    def _refresh_best(self) -> None:
        data = self._data
        best = data.best_trial_id()
        version = -1 if best is None else data.buffers.trial_version(best)
        if (best, version) == self._best_drawn:
            return
        self._best_drawn = (best, version)
        if best is None:
            self.best_item.setData([], [])
            self.plot_item.setTitle(NO_TITLE)
            return
        self.best_item.setData(*data.buffers.series(best, data.kpi_name))
        record = data.trials[best]
        self.plot_item.setTitle(f"best: trial #{record.number}, {data.kpi_name} = "
                                f"{record.kpi:.6g}", color=text_color(), size="9pt")

    def _clear(self) -> None:
        self.finished_item.set_curves(JoinedCurves.empty())
        self.finished_item.expect(None)
        self._finished_drawn = {}
        self._pending = set()
        self.pruned_markers.setData([], [])
        self.running_item.clear()
        self._running_drawn = {}
        self.best_item.setData([], [])
        self.plot_item.setTitle(NO_TITLE)  # "nothing drawn" includes the best trial's title
        self._best_drawn = (None, -1)
        self.hover.set_trial(None)

    # -- hover -----------------------------------------------------------------------------

    def trial_at(self, x: float, y: float, radius_px: float = HOVER_RADIUS_PX) -> int | None:
        """The trial whose curve passes within ``radius_px`` screen pixels of data point (x, y)."""
        x_scale, y_scale = self.plot_item.getViewBox().viewPixelSize()
        if x_scale <= 0 or y_scale <= 0:
            return None
        name, buffers = self._data.kpi_name, self._data.buffers
        running = join_curves([(t, *buffers.series(t, name)) for t in self._running_drawn])
        found = [hit for curves in (self.finished_item.curves, running)
                 if (hit := nearest_curve(curves, x, y, x_scale, y_scale, radius_px)) is not None]
        return min(found, key=lambda hit: hit[1])[0] if found else None

    def hover_at(self, x: float, y: float) -> str:
        """Highlight the curve near data point (x, y) and return its tooltip text ("" if none)."""
        return self.hover.hover_at(x, y)

    def _show_hovered(self, trial_id: int | None) -> None:
        if trial_id is None:
            self.hover_item.setData([], [])
        else:
            self.hover_item.setData(*self._data.buffers.series(trial_id, self._data.kpi_name))


def _grown(low: float, high: float, data_low: float, data_high: float) -> tuple[float, float]:
    """The range ``low``..``high`` widened to hold ``data_low``..``data_high``: each side
    that must move moves by :data:`GROW_BY` of the span beyond the data."""
    span = max(high - low, data_high - data_low, 1e-9 * (1 + abs(data_low)))
    if data_low < low:
        low = data_low - GROW_BY * span
    if data_high > high:
        high = data_high + GROW_BY * span
    return low, high
