"""One plot item for every finished curve, painted from an image that grows curve by curve.

Drawing the 600,000 points of 2,000 finished trials takes 100–500 ms here, far
too long for every frame, and Qt's own item cache repaints all of them whenever
the data change (every time a trial finishes). This item keeps an image of what
it painted in screen coordinates: while the view's transform stays the same, a
newly finished curve is drawn onto that image and every frame is one image
blit. When the view changes (zoom, pan, resize, auto-range) the image is painted
anew, from a coarse copy of the curves while the view keeps changing and in full
detail once it has rested for :data:`DETAIL_DELAY_MS`.

Appending never copies what is already there: curves are kept as a list of
parts (joined only when someone asks for :attr:`FinishedCurvesItem.curves`), and
the data bounds that auto-range needs are kept up to date part by part.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtGui import QImage, QPainter, QPainterPath, QTransform

from app.views.charts.geometry import JoinedCurves, concat_joined

DETAIL_DELAY_MS = 250
COARSE_POINTS_PER_CURVE = 32
COARSE_ABOVE_POINTS = 100_000  # below this, even a changing view is painted in full
RAPID_S = 0.3  # two view changes closer than this count as the view "moving"

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
    """A :class:`pyqtgraph.PlotCurveItem` over NaN-separated curves with an incremental cache.

    ``set_curves`` replaces everything (the image is repainted); ``append_curves``
    adds curves that are drawn onto the cached image at the next paint. The item
    never takes part in Qt's hit tests (its shape is empty), so moving the mouse
    over 600,000 points costs nothing; the chart finds the curve under the mouse
    with :func:`~app.views.charts.geometry.nearest_curve` on :attr:`curves`.
    """

    def __init__(self, pen: object) -> None:
        super().__init__(pen=pen, connect="finite")
        self._parts: list[JoinedCurves] = []
        self._coarse_parts: list[JoinedCurves] = []
        self._size = 0
        self._data_bounds: Bounds | None = None
        self._image: QImage | None = None
        self._key: tuple[object, ...] | None = None
        self._painted = 0  # points of the full curves already on the image
        self._painted_coarse = False
        self._last_change = 0.0
        self._detail = QTimer()
        self._detail.setSingleShot(True)
        self._detail.setInterval(DETAIL_DELAY_MS)
        self._detail.timeout.connect(self.update)
        self.full_renders = 0  # how many times the whole image was painted (for tests)

    # -- data ------------------------------------------------------------------------------

    @property
    def curves(self) -> JoinedCurves:
        """Every curve this item holds, joined (the parts are merged once, then cached)."""
        if len(self._parts) > 1:
            self._parts = [concat_joined(self._parts)]
        return self._parts[0] if self._parts else JoinedCurves.empty()

    def _coarse(self) -> JoinedCurves:
        if len(self._coarse_parts) > 1:
            self._coarse_parts = [concat_joined(self._coarse_parts)]
        return self._coarse_parts[0] if self._coarse_parts else JoinedCurves.empty()

    def set_curves(self, curves: JoinedCurves, coarse: JoinedCurves) -> None:
        """Replace all curves; ``coarse`` is the same curves with fewer points."""
        self._parts = [curves] if len(curves) else []
        self._coarse_parts = [coarse] if len(coarse) else []
        self._size = len(curves)
        self._data_bounds = finite_bounds(curves.x, curves.y) if len(curves) else None
        self._image = None
        self._painted = 0
        self._data_changed()

    def append_curves(self, curves: JoinedCurves, coarse: JoinedCurves) -> None:
        """Add curves after the present ones; only they are painted at the next frame."""
        if not len(curves):
            return
        self._parts.append(curves)
        self._coarse_parts.append(coarse)
        self._size += len(curves)
        self._data_bounds = union(self._data_bounds, finite_bounds(curves.x, curves.y))
        self._data_changed()

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
        """Full data range along ``ax`` (0: x, 1: y); ``frac`` and ``orthoRange`` are ignored."""
        if self._data_bounds is None:
            return None, None
        return self._data_bounds[2 * ax], self._data_bounds[2 * ax + 1]

    def boundingRect(self) -> QRectF:
        """The data bounds (the image is blitted only where this rect is exposed)."""
        return data_rect(self._data_bounds)

    def shape(self) -> QPainterPath:
        """Empty: the item is never hit-tested (see the class docstring)."""
        return QPainterPath()

    # -- painting --------------------------------------------------------------------------

    def paint(self, p: QPainter, opt: object, widget: object = None) -> None:
        """Blit the cached image after bringing it up to date.

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
        now = time.perf_counter()
        image = self._image
        if image is None or key != self._key:
            moving = image is not None and now - self._last_change < RAPID_S
            self._last_change = now
            self._key = key
            image = self._render_all(world, size, dpr, moving and self._size > COARSE_ABOVE_POINTS)
        elif self._painted_coarse and not self._detail.isActive():
            image = self._render_all(world, size, dpr, coarse=False)
        elif self._painted < self._size:
            for part in self._unpainted():
                self._draw(image, world, part.x, part.y)
            self._painted = self._size
        p.save()
        p.setWorldTransform(QTransform())
        p.drawImage(QPointF(0, 0), image)
        p.restore()

    def _unpainted(self) -> list[JoinedCurves]:
        """The parts (or the tail of a merged part) not yet drawn on the image."""
        out: list[JoinedCurves] = []
        offset = 0
        for part in self._parts:
            end = offset + len(part)
            if end > self._painted:
                start = max(0, self._painted - offset)
                out.append(part if start == 0 else JoinedCurves(
                    part.x[start:], part.y[start:], part.ids[start:], part.ends[:0]))
            offset = end
        return out

    def _render_all(self, world: QTransform, size: tuple[int, int], dpr: float,
                    coarse: bool) -> QImage:
        image = QImage(max(1, round(size[0] * dpr)), max(1, round(size[1] * dpr)),
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        image.fill(0)
        curves = self._coarse() if coarse else self.curves
        self._draw(image, world, curves.x, curves.y)
        self._image = image
        self._painted = self._size
        self._painted_coarse = coarse
        self.full_renders += 1
        if coarse:
            self._detail.start()
        return image

    def _draw(self, image: QImage, world: QTransform, x: np.ndarray, y: np.ndarray) -> None:
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, bool(self.opts["antialias"]))
            painter.setWorldTransform(world)
            painter.setPen(self.opts["pen"])
            painter.drawPath(pg.arrayToQPath(x, y, connect="finite"))
        finally:
            painter.end()
