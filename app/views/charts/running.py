"""The running trials' curves: one path and one pen per trial, painted by a single item.

Each running trial is its own curve, replaced by :meth:`RunningCurvesItem.set_curve`
whenever it grows, but all of them live in one graphics item. Measured here with
32 running trials on a 1280x720 plot: 32 PlotCurveItems took 12.5 ms to paint
(Qt and pyqtgraph spend ~0.35 ms per item before a line is drawn), this item
1.6 ms; updating the 32 curves costs the same either way (~2.5 ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen, QTransform

from app.views.charts.geometry import decimate_peak
from app.views.charts.layer import Bounds, data_rect, finite_bounds, union

MAX_POINTS = 2000  # a longer curve is peak-decimated (more than a plot is pixels wide)


HEAD_RADIUS = 3.0
"""Pixels: each running curve's newest point is a dot, so a trial with one point so far
shows, and the eye finds where each one is now."""


@dataclass
class _Curve:
    x: np.ndarray
    y: np.ndarray
    pen: QPen
    path: QPainterPath
    bounds: Bounds | None
    head: QPointF | None
    """The newest finite point (data coordinates)."""


def _head(x: np.ndarray, y: np.ndarray) -> QPointF | None:
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(finite):
        return None
    last = finite[-1]
    return QPointF(float(x[last]), float(y[last]))


class RunningCurvesItem(pg.GraphicsObject):  # type: ignore[misc]
    """Many independent curves, each with its own pen, drawn in insertion order."""

    def __init__(self) -> None:
        super().__init__()
        self._curves: dict[int, _Curve] = {}
        self._bounds: Bounds | None = None
        # Cheap bold: a cosmetic 1 px pen drawn twice, 1 px apart, costs ~3.5 ms for 32
        # curves of 300 points, where a 2 px pen took ~9 ms.
        self.bold = True

    def set_curve(self, trial_id: int, x: np.ndarray, y: np.ndarray, pen: QPen) -> None:
        """Add or replace the curve of ``trial_id``.

        Raises:
            ValueError: when x and y differ in length.
        """
        self.set_curves([(trial_id, x, y, pen)])

    def set_curves(self, curves: Iterable[tuple[int, np.ndarray, np.ndarray, QPen]]) -> None:
        """Add or replace several curves at once (one geometry change for all).

        Raises:
            ValueError: when a curve's x and y differ in length.
        """
        for trial_id, x, y, pen in curves:
            if len(x) != len(y):
                raise ValueError(f"trial {trial_id}: {len(x)} x values but {len(y)} y values")
            if len(y) > MAX_POINTS:
                x, y = decimate_peak(x, y, MAX_POINTS)
            path = pg.arrayToQPath(x, y, connect="finite") if len(y) else QPainterPath()
            self._curves[trial_id] = _Curve(x, y, pen, path, finite_bounds(x, y), _head(x, y))
        self._changed()

    def remove(self, trial_ids: Iterable[int]) -> None:
        """Drop the curves of ``trial_ids`` (absent ones are ignored)."""
        removed = [self._curves.pop(t, None) for t in trial_ids]
        if any(curve is not None for curve in removed):
            self._changed()

    def clear(self) -> None:
        """Drop every curve."""
        self._curves.clear()
        self._changed()

    def trial_ids(self) -> list[int]:
        """The trials with a curve, in the order they were added."""
        return list(self._curves)

    def curve(self, trial_id: int) -> tuple[np.ndarray, np.ndarray, QPen]:
        """The x, y and pen drawn for a trial.

        Raises:
            KeyError: when the trial has no curve here.
        """
        curve = self._curves[trial_id]
        return curve.x, curve.y, curve.pen

    def __len__(self) -> int:
        return len(self._curves)

    def _changed(self) -> None:
        bounds: Bounds | None = None
        for curve in self._curves.values():
            bounds = union(bounds, curve.bounds)
        self.prepareGeometryChange()
        self._bounds = bounds
        self.informViewBoundsChanged()
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: object = None) -> tuple[float | None, float | None]:
        """Full data range along ``ax`` (0: x, 1: y) for auto-range."""
        if self._bounds is None:
            return None, None
        return self._bounds[2 * ax], self._bounds[2 * ax + 1]

    def boundingRect(self) -> QRectF:
        """The union of the curves' data bounds."""
        return data_rect(self._bounds)

    def shape(self) -> QPainterPath:
        """Empty: never hit-tested (the chart finds curves by nearest-curve lookup)."""
        return QPainterPath()

    def paint(self, p: QPainter, opt: object, widget: object = None) -> None:
        """Each curve's cached path with its pen, twice, one pixel apart (see :attr:`bold`),
        then a dot on its newest point."""
        world = p.worldTransform()
        shifts = (world, world * QTransform.fromTranslate(0, 1)) if self.bold else (world,)
        for transform in shifts:
            p.setWorldTransform(transform)
            for curve in self._curves.values():
                p.setPen(curve.pen)
                p.drawPath(curve.path)
        p.setWorldTransform(QTransform())  # dots in pixels, whatever the zoom
        p.setPen(Qt.PenStyle.NoPen)
        for curve in self._curves.values():
            if curve.head is not None:
                p.setBrush(curve.pen.color())
                p.drawEllipse(world.map(curve.head), HEAD_RADIUS, HEAD_RADIUS)
        p.setWorldTransform(world)
