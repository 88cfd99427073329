"""The Charts tab: KPI curves, best so far, parallel coordinates, KPI-vs-parameter and
parameter importance, with a top-K chooser and "Export PNG/SVG…" on every chart."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.engine.records import MetricPoint, MetricSeries, TrialRecord
from app.engine.search.base import Goal
from app.engine.space.nodes import Space
from app.views.charts.axes import log_scaled_params
from app.views.charts.best_so_far import BestSoFarChart
from app.views.charts.data import ChartData
from app.views.charts.export import ChartExportMenu
from app.views.charts.kpi_curves import KpiCurvesChart
from app.views.charts.parallel import ParallelCoordinatesChart
from app.views.charts.scatter import ParamScatterChart
from app.views.importance.chart import ImportanceChart
from app.views.trials.topk import TOP_K_CHOICES, TopKBox

REFRESH_MS = 125  # 8 Hz
# Parallel coordinates and the scatter redraw everything (~17 and ~11 ms for 2,000
# trials): while trials stream, the timer redraws them at most this often.
SLOW_CHART_MIN_S = 0.5
LOADING_MIN_S = 0.5
"""While an experiment's history is loading, the visible chart redraws at most this
often: each batch of curves may widen the view, and a wider view redraws every curve."""


class ChartsPanel(QWidget):
    """Five charts in tabs over one :class:`ChartData`.

    Feeding it (``set_trials``, ``update_trial``, ``add_points``) only stores data;
    drawing happens in :meth:`refresh`, which a :data:`REFRESH_MS` timer calls and
    which redraws only the visible chart (a chart brought into view is refreshed
    at once). GUI thread only: connect the engine bridge's signals to these slots.

    The top-K chooser (:attr:`top_k_box`, in the tab bar's corner) limits the KPI
    curves, parallel coordinates and KPI-vs-parameter to the K best completed
    trials; best so far and importance always use every trial. Right-click any
    plot for "Export PNG…" / "Export SVG…" (:attr:`export_menus`).
    """

    def __init__(self, parent: QWidget | None = None, auto_refresh: bool = True) -> None:
        super().__init__(parent)
        self.data = ChartData()
        self.curves = KpiCurvesChart(self.data)
        self.best = BestSoFarChart(self.data)
        self.parallel = ParallelCoordinatesChart(self.data)
        self.scatter = ParamScatterChart(self.data)
        self.importance = ImportanceChart(self.data)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.curves, "KPI curves")
        self.tabs.addTab(self.best, "Best so far")
        self.tabs.addTab(self.parallel, "Parallel coordinates")
        self.tabs.addTab(self.scatter, "KPI vs parameter")
        self.tabs.addTab(self.importance, "Parameter importance")
        self.top_k_box = TopKBox()
        self.tabs.setCornerWidget(self.top_k_box, Qt.Corner.TopRightCorner)
        self.top_k_box.topKChanged.connect(self.set_top_k)
        self.export_menus = [
            ChartExportMenu(plot, name) for plot, name in (
                (self.curves.plot_widget, "kpi-curves"),
                (self.best.by_number, "best-so-far-by-trial"),
                (self.best.by_time, "best-so-far-by-time"),
                (self.parallel.plot_widget, "parallel-coordinates"),
                (self.scatter.plot_widget, "kpi-vs-parameter"),
                (self.importance.plot_widget, "parameter-importance"))]
        self.tabs.currentChanged.connect(lambda _index: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._slow_drawn = 0.0
        self._loading = False
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        if auto_refresh:
            self.timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        """Draw what arrived while hidden as soon as the panel is shown."""
        super().showEvent(event)
        self.refresh()

    def set_experiment(self, kpi_name: str, goal: Goal, space: Space | None = None) -> None:
        """Show another experiment: forget all trials and points.

        ``space``, when given, tells which numbers are log-distributed (log axes);
        without it, positive numbers spanning two decades or more get log axes.
        """
        self.data.set_experiment(kpi_name, goal)
        log_params = log_scaled_params(space) if space is not None else None
        self.parallel.log_params = log_params
        self.scatter.log_params = log_params

    def set_trials(self, records: Iterable[TrialRecord]) -> None:
        """Replace the trial records (e.g. after loading the experiment's history)."""
        self.data.set_trials(records)

    def update_trial(self, record: TrialRecord) -> None:
        """A trial was created, started or finished."""
        if self.data.trials.get(record.id) != record:
            self.data.update_trial(record)

    def add_points(self, points: Sequence[MetricPoint]) -> None:
        """Buffer metric points; they are drawn at the next refresh."""
        self.data.add_points(points)

    def add_series(self, series: Sequence[MetricSeries]) -> None:
        """Buffer stored points a series at a time (loading history; see
        :class:`~app.engine.records.MetricSeries`); drawn at the next refresh."""
        stepped = []  # as one change of the buffers (see MetricBuffers.extend_many)
        for one in series:
            if np.isnan(one.steps).any():  # the buffers number points without a step
                self.data.add_points([
                    MetricPoint(one.trial_id, one.name, value,
                                None if math.isnan(step) else int(step), 0.0)
                    for step, value in zip(one.steps.tolist(), one.values.tolist(),
                                           strict=True)])
            else:
                stepped.append((one.trial_id, one.name, one.steps, one.values))
        self.data.buffers.extend_many(stepped)
        if self._loading and not self.curves.drawn_trials and self.isVisible():
            self.refresh()  # the first curves at once, not at the next tick

    def expect_bounds(self, name: str, bounds: tuple[float, float, float, float] | None
                      ) -> None:
        """The bounds of metric ``name``'s stored points, read while the experiment is
        opened: when it is the KPI, its curves take their final range at once (see
        :meth:`KpiCurvesChart.expect_bounds`)."""
        if name == self.data.kpi_name:
            self.curves.expect_bounds(bounds)

    def set_top_k(self, k: int | None) -> None:
        """Draw only the ``k`` best completed trials (None: all) and redraw.

        Raises:
            ValueError: when ``k`` is below 1.
        """
        self.data.set_top_k(k)
        if self.top_k_box.top_k() != k and k in TOP_K_CHOICES:
            self.top_k_box.blockSignals(True)
            self.top_k_box.set_top_k(k)
            self.top_k_box.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the visible chart from the buffered data (cheap when nothing changed)."""
        chart = self.tabs.currentWidget()
        if isinstance(chart, KpiCurvesChart | BestSoFarChart | ParallelCoordinatesChart
                      | ParamScatterChart | ImportanceChart):
            chart.refresh()

    def set_loading(self, loading: bool) -> None:
        """Whether an experiment's stored history is arriving (batches of whole trials):
        redraw less often meanwhile, and at once when it is all there."""
        self._loading = loading
        self.curves.set_loading(loading)
        if not loading:
            self.refresh()

    def _tick(self) -> None:
        if not self.isVisible():
            return
        chart = self.tabs.currentWidget()
        if self._loading or chart in (self.parallel, self.scatter):
            now = time.monotonic()
            if now - self._slow_drawn < (LOADING_MIN_S if self._loading else SLOW_CHART_MIN_S):
                return
            self._slow_drawn = now
        self.refresh()

    def refresh_all(self) -> None:
        """Redraw every chart, visible or not (screenshots, tests)."""
        for chart in (self.curves, self.best, self.parallel, self.scatter, self.importance):
            chart.refresh()
