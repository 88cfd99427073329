"""The Charts tab (pyqtgraph): live KPI curves, best so far, parallel coordinates, KPI vs param.

Data flows one way: the panel's slots store records and points in a
:class:`~app.views.charts.data.ChartData`; a timer redraws the visible chart from it.
"""

from __future__ import annotations

from app.views.charts.best_so_far import BestSoFarChart
from app.views.charts.buffers import MetricBuffers
from app.views.charts.data import ChartData
from app.views.charts.kpi_curves import KpiCurvesChart
from app.views.charts.panel import ChartsPanel
from app.views.charts.parallel import ParallelCoordinatesChart
from app.views.charts.scatter import ParamScatterChart

__all__ = ["BestSoFarChart", "ChartData", "ChartsPanel", "KpiCurvesChart", "MetricBuffers",
           "ParallelCoordinatesChart", "ParamScatterChart"]
