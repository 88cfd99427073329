"""Axis titles under the parallel-coordinates chart that never overlap and never leave the plot.

:func:`fit_titles` decides (no Qt) where each title may go: one row when every
title fits between its neighbours, else two staggered rows (every other title
one line lower, so each gets twice the room); each title gets a slot that no
other title of its row enters and that stays inside the axis. :class:`AxisTitles`
is the chart's bottom axis: it puts one text item per title in its slot,
elided on the left when longer (the leaf of a dotted name is what tells axes
apart: ``…er.momentum``), with the full name as the item's tooltip.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from app.views.charts.style import text_color

TITLE_GAP_PX = 8.0  # the least room between two titles of one row
ROW_PAD_PX = 3.0


@dataclass(frozen=True)
class TitleSlot:
    """Where one title may be drawn: its row (0 on top) and the span it owns, in pixels."""

    row: int
    left: float
    right: float

    @property
    def width(self) -> float:
        """The room of the slot."""
        return max(0.0, self.right - self.left)

    def place(self, centre: float, width: float) -> float:
        """The left edge of a text ``width`` wide, centred on ``centre`` as far as it fits."""
        return min(max(centre - width / 2, self.left), max(self.left, self.right - width))


def fit_titles(centres: Sequence[float], widths: Sequence[float], left: float, right: float,
               gap: float = TITLE_GAP_PX) -> list[TitleSlot]:
    """Slots for titles centred on ``centres`` (ascending) with natural ``widths``.

    One row when every title fits its share of the axis between ``left`` and
    ``right``; else two rows, alternating. A slot reaches half way to the next
    title of its row (less half the ``gap``), and no further than the ends, so
    titles of one row never overlap and the first and last stay inside.

    Raises:
        ValueError: when the lengths differ or ``centres`` are not ascending.
    """
    if len(centres) != len(widths):
        raise ValueError(f"{len(centres)} title positions but {len(widths)} widths")
    if any(b < a for a, b in itertools.pairwise(centres)):
        raise ValueError("title positions must be ascending")
    one_row = _slots(centres, left, right, gap, rows=1)
    if all(w <= slot.width for w, slot in zip(widths, one_row, strict=True)):
        return one_row
    return _slots(centres, left, right, gap, rows=2)


def _slots(centres: Sequence[float], left: float, right: float, gap: float,
           rows: int) -> list[TitleSlot]:
    slots = []
    for index, centre in enumerate(centres):
        before = index - rows
        after = index + rows
        lo = left if before < 0 else (centres[before] + centre) / 2 + gap / 2
        hi = right if after >= len(centres) else (centre + centres[after]) / 2 - gap / 2
        slots.append(TitleSlot(index % rows, lo, hi))
    return slots


class AxisTitles(pg.AxisItem):  # type: ignore[misc]
    """A bottom axis that shows one title under each of the chart's vertical axes.

    :meth:`set_titles` gives the titles and their x in view coordinates; they are
    laid out again whenever the view is resized or its range changes.
    """

    _titles: tuple[tuple[float, str], ...] = ()  # pyqtgraph resizes the axis in __init__

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("bottom", **kwargs)
        self.setStyle(showValues=False, tickLength=0)
        self.setTicks([[], []])  # no ticks: the titles are the labels
        self.items: list[QGraphicsSimpleTextItem] = []
        self._rows = 0
        self._set_rows(1)

    def set_titles(self, titles: Sequence[tuple[float, str]]) -> None:
        """Show ``(x, full title)`` pairs, x ascending in view coordinates."""
        self._titles = tuple(titles)
        while len(self.items) < len(self._titles):
            item = QGraphicsSimpleTextItem(self)
            item.setBrush(text_color())
            self.items.append(item)
        for item in self.items[len(self._titles):]:
            item.setVisible(False)
        self._layout()

    def title_texts(self) -> list[tuple[str, str]]:
        """``(shown text, full title)`` of every title, left to right."""
        return [(item.text(), item.toolTip()) for item in self.items[:len(self._titles)]]

    def linkedViewChanged(self, view: pg.ViewBox, newRange: Any = None) -> None:
        """Lay the titles out again for the view's new range or size."""
        super().linkedViewChanged(view, newRange)
        self._layout()

    def resizeEvent(self, ev: Any = None) -> None:
        """Lay the titles out again for the axis' new width."""
        super().resizeEvent(ev)
        self._layout()

    def _layout(self) -> None:
        if not self._titles:
            return
        view = self.linkedView()
        if view is None:
            return
        bounds = self.mapRectFromParent(self.geometry())
        centres = [self.mapFromScene(view.mapViewToScene(QPointF(x, 0.0))).x()
                   for x, _title in self._titles]
        items = self.items[:len(self._titles)]
        metrics = QFontMetricsF(items[0].font())
        widths = [metrics.horizontalAdvance(title) for _x, title in self._titles]
        slots = fit_titles(centres, widths, bounds.left(), bounds.right())
        line = _line_height(metrics)
        for item, (_x, title), centre, slot in zip(items, self._titles, centres, slots,
                                                   strict=True):
            shown = metrics.elidedText(title, Qt.TextElideMode.ElideLeft, slot.width)
            item.setText(shown)
            item.setToolTip(title)
            width = metrics.horizontalAdvance(shown)
            item.setPos(slot.place(centre, width), ROW_PAD_PX + slot.row * line)
            item.setVisible(bool(shown))
        self._set_rows(1 + max(slot.row for slot in slots))

    def _set_rows(self, rows: int) -> None:
        if rows != self._rows:
            self._rows = rows
            line = _line_height(QFontMetricsF(self.items[0].font() if self.items else QFont()))
            self.setHeight(int(2 * ROW_PAD_PX + rows * line))


def _line_height(metrics: QFontMetricsF) -> float:
    """One row of titles: the font's line, rounded up as a text item's box is, and a pixel."""
    return math.ceil(metrics.height()) + 1.0
