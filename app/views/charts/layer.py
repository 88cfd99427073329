"""One plot item for every finished curve, painted from an image that grows in slices.

Drawing the 600,000 points of 2,000 finished trials takes 100–500 ms here, far
too long for one frame, and Qt's own item cache repaints all of them whenever
the data change (every time a trial finishes). This item keeps an image of what
it painted in screen coordinates, and a frame is one image blit. Whatever must be
drawn onto it is drawn a slice at a time, between turns of the event loop (a
zero-time timer; each turn draws :data:`SLICE_POINTS`-point slices for at most
:data:`SLICE_BUDGET_S`), so the window answers while 600,000 points are drawn:

- newly finished curves are drawn onto the image as it stands;
- when the view changes (zoom, pan, resize, auto-range as an experiment's curves
  arrive), the image painted for the old view is shown mapped onto the new one at
  once, and the curves are drawn anew for the new view on a second image, which
  replaces it when complete (a further change starts that over).

Appending never copies what is already there: curves are kept as a list of
parts (joined only when someone asks for :attr:`FinishedCurvesItem.curves`), and
the data bounds that auto-range needs are kept up to date part by part.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QPainterPath, QPen, QTransform

from app.views.charts.geometry import JoinedCurves, concat_joined

SLICE_POINTS = 4_000
"""Points drawn by one call (~1.5 ms on this machine, idle, as line segments)."""
SLICE_BUDGET_S = 0.008
"""One turn of the event loop draws slices until this much time has gone."""
SHOW_EVERY_S = 0.25
"""While curves are drawn onto the image shown, it is repainted at most this often."""

Bounds = tuple[float, float, float, float]  # x min, x max, y min, y max


def finite_bounds(x: np.ndarray, y: np.ndarray) -> Bounds | None:
    """x min, x max, y min, y max over the points where both are finite; None if none is."""
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return None
    fx, fy = x[finite], y[finite]
    return float(fx.min()), float(fx.max()), float(fy.min()), float(fy.max())


def data_rect(bounds: Bounds | None) -> QRectF:
    """The rect of data bounds, never empty: Qt skips an item whose rect has no area."""
    if bounds is None:
        return QRectF()
    x0, x1, y0, y1 = bounds
    return QRectF(x0, y0, max(x1 - x0, 1e-12 * (1 + abs(x0))),
                  max(y1 - y0, 1e-12 * (1 + abs(y0))))


def union(a: Bounds | None, b: Bounds | None) -> Bounds | None:
    """The bounds covering both (None stands for nothing)."""
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


class FinishedCurvesItem(pg.PlotCurveItem):  # type: ignore[misc]
    """A :class:`pyqtgraph.PlotCurveItem` over NaN-separated curves, painted in slices.

    ``set_curves`` replaces everything (the image is drawn anew); ``append_curves``
    adds curves that are drawn onto the image in the next turns of the event loop.
    The item never takes part in Qt's hit tests (its shape is empty), so moving the
    mouse over 600,000 points costs nothing; the chart finds the curve under the
    mouse with :func:`~app.views.charts.geometry.nearest_curve` on :attr:`curves`.

    Attributes:
        full_renders: how many times the curves were drawn anew for a view (tests).
        largest_slice: the most points one ``drawPath`` was given (tests).
    """

    def __init__(self, pen: object) -> None:
        super().__init__(pen=pen, connect="finite")
        self._parts: list[JoinedCurves] = []
        self._size = 0
        self._data_bounds: Bounds | None = None
        self._expected: Bounds | None = None
        self._image: QImage | None = None  # what is shown, for the view self._key
        self._key: tuple[object, ...] | None = None
        self._world = QTransform()  # of self._key
        self._painted = 0  # points of the curves on self._image (when not self._fresh)
        self._fresh: QImage | None = None  # being drawn anew for self._key
        self._fresh_painted = 0
        self._slicer = QTimer()
        self._slicer.setSingleShot(True)
        self._slicer.setInterval(0)
        self._slicer.timeout.connect(self._draw_slices)
        self._shown_at = 0.0
        self._segments: Any = None  # pyqtgraph's array of QLineF, reused slice to slice
        self.full_renders = 0
        self.largest_slice = 0

    # -- data ------------------------------------------------------------------------------

    @property
    def curves(self) -> JoinedCurves:
        """Every curve this item holds, joined (the parts are merged once, then cached)."""
        if len(self._parts) > 1:
            self._parts = [concat_joined(self._parts)]
        return self._parts[0] if self._parts else JoinedCurves.empty()

    @property
    def complete(self) -> bool:
        """Whether the image shows every curve, drawn for the view shown."""
        return (self._image is not None and self._fresh is None
                and self._painted == self._size) or self._size == 0

    def set_curves(self, curves: JoinedCurves) -> None:
        """Replace all curves: the picture starts blank (nothing of the curves replaced,
        another experiment's, stays on screen) and fills in, a slice a turn."""
        self._parts = [curves] if len(curves) else []
        self._size = len(curves)
        self._data_bounds = finite_bounds(curves.x, curves.y) if len(curves) else None
        self._image, self._fresh, self._key = None, None, None
        self._data_changed()

    @property
    def expected(self) -> Bounds | None:
        """The bounds this item was told its curves will reach (see :meth:`expect`)."""
        return self._expected

    def expect(self, bounds: Bounds | None) -> None:
        """Report ``bounds`` with the curves' own (None: the curves' alone) until told
        otherwise: an opened experiment's, read beside its points, so a view that
        auto-ranges on this item takes its final range before the curves arrive (a
        new range draws every curve anew, and the axes)."""
        if bounds != self._expected:
            before = self._reported()
            self._expected = bounds
            if self._reported() != before:
                self._data_changed()

    def _reported(self) -> Bounds | None:
        return union(self._data_bounds, self._expected)

    def append_curves(self, curves: JoinedCurves) -> None:
        """Add curves after the present ones; they are drawn in the next turns, and
        shown as the slices are drawn (a repaint of the whole plot costs 5–50 ms: one
        per batch of an opened experiment's curves was most of the plot's paints)."""
        if not len(curves):
            return
        self._parts.append(curves)
        self._size += len(curves)
        before = self._reported()
        self._data_bounds = union(self._data_bounds, finite_bounds(curves.x, curves.y))
        if self._image is not None:
            self._slicer.start()
        if self._reported() != before or self._image is None:
            self._data_changed()  # the view may grow (or the item was never painted)

    def _data_changed(self) -> None:
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.sigPlotChanged.emit(self)
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """The joined x and y arrays (NaN between curves)."""
        curves = self.curves
        return curves.x, curves.y

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: object = None) -> tuple[float | None, float | None]:
        """Full data range along ``ax`` (0: x, 1: y), with the bounds expected
        (:meth:`expect`); ``frac`` and ``orthoRange`` are ignored."""
        bounds = self._reported()
        if bounds is None:
            return None, None
        return bounds[2 * ax], bounds[2 * ax + 1]

    def boundingRect(self) -> QRectF:
        """The data bounds, with those expected (the image is blitted only where this
        rect is exposed)."""
        return data_rect(self._reported())

    def shape(self) -> QPainterPath:
        """Empty: the item is never hit-tested (see the class docstring)."""
        return QPainterPath()

    # -- painting --------------------------------------------------------------------------

    def paint(self, p: QPainter, opt: object, widget: object = None) -> None:
        """Blit the image; a changed view first gets the old image mapped onto it.

        While a pyqtgraph exporter draws the scene (PNG, SVG), the curves are drawn as
        paths instead, so an SVG holds vectors rather than a screen-sized picture.
        """
        if not self._size:
            return
        if self._exportOpts is not False:
            p.setPen(self.opts["pen"])
            curves = self.curves
            p.drawPath(pg.arrayToQPath(curves.x, curves.y, connect="finite"))
            return
        world = p.worldTransform()
        device = p.device()
        size = (widget.width(), widget.height()) if widget is not None else (  # type: ignore[attr-defined]
            device.width(), device.height())
        dpr = device.devicePixelRatioF()
        key = (world.m11(), world.m12(), world.m21(), world.m22(), world.dx(), world.dy(),
               size, dpr, id(self.opts["pen"]), self.opts["antialias"])
        if self._image is None or key != self._key:
            self._new_view(key, world, size, dpr)
        elif self._painted < self._size or self._fresh is not None:
            self._slicer.start()
        assert self._image is not None
        p.save()
        p.setWorldTransform(QTransform())
        p.drawImage(QPointF(0, 0), self._image)
        p.restore()

    def _new_view(self, key: tuple[object, ...], world: QTransform, size: tuple[int, int],
                  dpr: float) -> None:
        """Draw the curves for a new view: at once when they fit in one slice; else show
        the old image mapped onto the new view and draw them anew in slices (with no old
        image, straight onto the one shown, the first slice now)."""
        old, old_world = self._image, self._world
        self._key, self._world = key, QTransform(world)
        self._image = _blank(size, dpr)
        self._fresh = None
        self.full_renders += 1
        if old is not None and self._size > SLICE_POINTS:
            inverse, invertible = old_world.inverted()
            if invertible:
                painter = QPainter(self._image)
                try:
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                    painter.setTransform(inverse * world)
                    painter.drawImage(QPointF(0, 0), old)
                finally:
                    painter.end()
            self._fresh = _blank(size, dpr)
            self._fresh_painted = 0
            self._slicer.start()
            return
        self._painted = self._slice_end(0)
        self._draw_slice(self._image, 0, self._painted)
        if self._painted < self._size:
            self._slicer.start()

    def _draw_slices(self) -> None:
        """One turn's work: slices of the fresh image, or of the curves not yet drawn."""
        if self._image is None:
            return
        started = time.perf_counter()
        swapped = shown = False
        while True:  # at least one slice a turn
            if self._fresh is not None:
                end = self._slice_end(self._fresh_painted)
                self._draw_slice(self._fresh, self._fresh_painted, end)
                self._fresh_painted = end
                if end >= self._size:
                    self._image, self._fresh = self._fresh, None
                    self._painted = end
                    swapped = True
            elif self._painted < self._size:
                end = self._slice_end(self._painted)
                self._draw_slice(self._image, self._painted, end)
                self._painted = end
                shown = True
            else:
                break
            if time.perf_counter() - started >= SLICE_BUDGET_S:
                break
        # a paint redraws the whole plot (axes, legend, every item): only for a
        # difference on screen, and while curves are being added, a few times a second
        now = time.perf_counter()
        if swapped or (shown and (self.complete or now - self._shown_at >= SHOW_EVERY_S)):
            self._shown_at = now
            self.update()
        if self._fresh is not None or self._painted < self._size:
            self._slicer.start()

    def _slice_end(self, start: int) -> int:
        """Where the slice from ``start`` ends: after its last NaN (the end of a curve),
        so no segment is drawn twice; after :data:`SLICE_POINTS` points if it has none."""
        end = min(self._size, start + SLICE_POINTS)
        if end == self._size:
            return end
        x, y = self._points(start, end)
        breaks = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
        return start + int(breaks[-1]) + 1 if len(breaks) else end

    def _draw_slice(self, image: QImage, start: int, end: int) -> None:
        """Draw points ``start`` to ``end`` of the curves onto ``image`` for the view
        shown (from the point before, when a curve goes on across ``start``)."""
        if end <= start:
            return
        if start > 0:
            before_x, before_y = self._points(start - 1, start)
            if np.isfinite(before_x[0]) and np.isfinite(before_y[0]):
                start -= 1
        x, y = self._points(start, end)
        self.largest_slice = max(self.largest_slice, len(x))
        painter = QPainter(image)
        try:
            painter.setWorldTransform(self._world)
            if self.opts["antialias"]:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                painter.setPen(self.opts["pen"])
                painter.drawPath(pg.arrayToQPath(x, y, connect="finite"))
            else:
                self._draw_segments(painter, x, y)
        finally:
            painter.end()

    def _draw_segments(self, painter: QPainter, x: np.ndarray, y: np.ndarray) -> None:
        """The curves as separate line segments with flat caps: without antialiasing,
        Qt strokes a path of thousands of short curves at ~3.5 µs a point here, and
        draws the same segments at ~0.4 µs (``bench/gui_load_store.py``: the drawing
        was most of the GUI thread's time opening 10,000 trials). Flat caps leave out
        a segment's last pixel, so the joints of a translucent pen are not blended
        twice: the picture differs from the path's in ~1.5 % of its pixels."""
        pen = QPen(self.opts["pen"])
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        self._segments = arrayToLineSegments(x, y, connect="finite", finiteCheck=True,
                                             out=self._segments)
        painter.drawLines(*self._segments.drawargs())

    def _points(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y of points ``start`` to ``end`` of the joined curves, from the parts
        they lie in (the parts are not joined: that would copy every point)."""
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        offset = 0
        for part in self._parts:
            low, high = max(start - offset, 0), min(end - offset, len(part))
            if low < high:
                xs.append(part.x[low:high])
                ys.append(part.y[low:high])
            offset += len(part)
            if offset >= end:
                break
        if len(xs) == 1:
            return xs[0], ys[0]
        return np.concatenate(xs or [np.empty(0)]), np.concatenate(ys or [np.empty(0)])


def _blank(size: tuple[int, int], dpr: float) -> QImage:
    """A transparent image covering a widget of ``size`` (logical pixels)."""
    image = QImage(max(1, round(size[0] * dpr)), max(1, round(size[1] * dpr)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(0)
    return image
