"""Tooltips for the trial under the mouse, by nearest-curve lookup on (rate-limited) mouse move."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QToolTip

HOVER_RATE_HZ = 30


class HoverTracker(QObject):
    """Finds the trial under the mouse on a plot and shows its description as a tooltip.

    ``lookup(x, y)`` maps a point in data coordinates to a trial id or None;
    ``describe(trial_id)`` gives the tooltip text.

    Signals:
        changed(object): the hovered trial id, or None when the mouse leaves it.
    """

    changed = Signal(object)

    def __init__(self, plot: pg.PlotWidget, lookup: Callable[[float, float], int | None],
                 describe: Callable[[int], str]) -> None:
        super().__init__(plot)
        self._plot = plot
        self._lookup = lookup
        self._describe = describe
        self.trial_id: int | None = None
        self.text = ""
        self._proxy = pg.SignalProxy(plot.scene().sigMouseMoved, rateLimit=HOVER_RATE_HZ,
                                     slot=self._on_mouse_moved)

    def hover_at(self, x: float, y: float) -> str:
        """Hover data point (x, y): updates :attr:`trial_id` and returns the text ("" if none)."""
        self.set_trial(self._lookup(x, y))
        return self.text

    def set_trial(self, trial_id: int | None) -> None:
        """Make ``trial_id`` the hovered trial (None: nothing hovered)."""
        if trial_id is not None:
            self.text = self._describe(trial_id)
        if trial_id == self.trial_id:
            return
        self.trial_id = trial_id
        if trial_id is None:
            self.text = ""
        self.changed.emit(trial_id)

    def _on_mouse_moved(self, args: tuple[QPointF]) -> None:
        view = self._plot.getPlotItem().getViewBox()
        pos = args[0]
        if not view.sceneBoundingRect().contains(pos):
            self.set_trial(None)
            QToolTip.hideText()
            return
        point = view.mapSceneToView(pos)
        if self.hover_at(point.x(), point.y()):
            QToolTip.showText(QCursor.pos(), self.text, self._plot)
        else:
            QToolTip.hideText()
