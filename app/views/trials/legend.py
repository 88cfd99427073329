"""The grid's legend (a swatch and a count per state) and the grid with its legend, scrollable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from app.application.live import HistoryEnd
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.grid import BEST_OUTLINE, TrialGrid
from app.views.trials.style import (
    LEGEND_STATES,
    PROGRESS_COLOUR,
    completed_colour,
    state_colour,
)

SWATCH = 12
SPACING = 14


class TrialLegend(QWidget):
    """One line: a swatch, the state's name and how many trials are in it.

    Completed shows a gradient from worst to best KPI; running shows its progress fill;
    a gold outline marks the best trial.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: dict[TrialState, int] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_counts(self, counts: dict[TrialState, int]) -> None:
        """Trials per state (missing states count 0)."""
        self._counts = dict(counts)
        self.update()

    def labels(self) -> list[str]:
        """The legend's entries as text, e.g. ``completed 12 (worst → best)``."""
        out = []
        for state in LEGEND_STATES:
            label = f"{state.value} {self._counts.get(state, 0)}"
            if state is TrialState.COMPLETED:
                label += " (worst → best)"
            out.append(label)
        return [*out, "best"]

    def sizeHint(self) -> QSize:
        return QSize(640, self.fontMetrics().height() + 8)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        x, middle = 4, self.height() // 2
        for state, label in zip([*LEGEND_STATES, None], self.labels(), strict=True):
            wide = SWATCH * 3 if state is TrialState.COMPLETED else SWATCH
            swatch = QRect(x, middle - SWATCH // 2, wide, SWATCH)
            self._paint_swatch(painter, state, swatch)
            x = swatch.right() + 5
            painter.setPen(self.palette().windowText().color())
            painter.drawText(QRect(x, 0, metrics.horizontalAdvance(label) + 2, self.height()),
                             Qt.AlignmentFlag.AlignVCenter, label)
            x += metrics.horizontalAdvance(label) + SPACING
        painter.end()

    @staticmethod
    def _paint_swatch(painter: QPainter, state: TrialState | None, rect: QRect) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        if state is None:  # the best trial's outline
            painter.setBrush(state_colour(TrialState.COMPLETED))
            painter.drawRoundedRect(rect, 2, 2)
            painter.setPen(QColor(BEST_OUTLINE))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 2, 2)
            return
        if state is TrialState.COMPLETED:
            gradient = QLinearGradient(rect.topLeft(), rect.topRight())
            gradient.setColorAt(0.0, completed_colour(0.0))
            gradient.setColorAt(1.0, completed_colour(1.0))
            painter.setBrush(gradient)
            painter.drawRoundedRect(rect, 2, 2)
            return
        painter.setBrush(state_colour(state))
        painter.drawRoundedRect(rect, 2, 2)
        if state is TrialState.RUNNING:
            painter.setBrush(QColor(PROGRESS_COLOUR))
            painter.drawRoundedRect(QRect(rect.left(), rect.top(), rect.width() // 2,
                                          rect.height()), 2, 2)


class TrialGridView(QWidget):
    """The legend above a scrollable :class:`TrialGrid`; forwards the grid's API.

    Signals:
        trialActivated(int trial_id): a tile was clicked.
    """

    trialActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend = TrialLegend()
        self.grid = TrialGrid()
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.grid)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.scroll_area, 1)
        self.grid.statesChanged.connect(self._recount)
        self.grid.trialActivated.connect(self.trialActivated)

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str, goal: Goal,
                   total_steps: int | None = None) -> None:
        """See :meth:`TrialGrid.set_trials`."""
        self.grid.set_trials(records, kpi_name, goal, total_steps)

    def update_trial(self, record: TrialRecord) -> None:
        """See :meth:`TrialGrid.update_trial`."""
        self.grid.update_trial(record)

    def set_progress(self, progress: Mapping[int, tuple[int, int | None]]) -> None:
        """See :meth:`TrialGrid.set_progress`."""
        self.grid.set_progress(progress)

    def add_points(self, points: Sequence[MetricPoint]) -> None:
        """See :meth:`TrialGrid.add_points`."""
        self.grid.add_points(points)

    def add_history(self, ends: Mapping[int, HistoryEnd]) -> None:
        """See :meth:`TrialGrid.add_history`."""
        self.grid.add_history(ends)

    def _recount(self) -> None:
        self.legend.set_counts(self.grid.state_counts())
