"""Colours and the plot widget every chart starts from (follows the light/dark palette)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem, QWidget

FINISHED_PEN = (120, 140, 175, 90)  # all finished curves: quiet, translucent
BEST_PEN = (235, 140, 0)
PRUNED_PEN = (210, 60, 50)
NO_KPI_PEN = (150, 150, 150, 110)
COLORMAP = "viridis"


def palette() -> QPalette:
    """The application's palette (the default one before a QApplication exists)."""
    app = QApplication.instance()
    return app.palette() if isinstance(app, QApplication) else QPalette()


def text_color() -> QColor:
    """The palette's text colour: axes, labels, the hover highlight."""
    return palette().color(QPalette.ColorRole.Text)


def make_plot(parent: QWidget | None = None, title: str | None = None,
              bottom: pg.AxisItem | None = None) -> pg.PlotWidget:
    """A PlotWidget on the palette's base colour with grid lines and a few-pixel margin.

    ``bottom`` replaces the bottom axis (e.g. the parallel-coordinates titles).
    """
    plot = pg.PlotWidget(parent=parent, background=palette().color(QPalette.ColorRole.Base),
                         axisItems=None if bottom is None else {"bottom": bottom})
    item = plot.getPlotItem()
    axis_pen = pg.mkPen(text_color())
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(axis_pen)
        axis.setTextPen(axis_pen)
        axis.enableAutoSIPrefix(False)  # "loss (x0.001)" reads worse than plain numbers
        # The grid is drawn by the axes and costs ~15 ms per repaint of a 1280x720 plot
        # here; cached, it is redrawn only when the range or size changes.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    if title:
        item.setTitle(title, color=text_color())
    return plot


RUNNING_COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#e377c2",
                  "#8c564b", "#7f7f7f", "#bcbd22", "#0b5394")  # tab10 without its orange


def running_color(number: int) -> QColor:
    """A distinct colour for a running trial, stable by trial number (never the best's orange)."""
    return QColor(RUNNING_COLORS[number % len(RUNNING_COLORS)])


def colormap() -> pg.ColorMap:
    """The colour scale for KPI values (low to high)."""
    return pg.colormap.get(COLORMAP)
