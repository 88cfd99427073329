"""The trial grid: one tile per trial, coloured by state, with a hover tooltip.

Painted by one widget (no widget per tile), so thousands of trials stay cheap:
only tiles inside the exposed rectangle are drawn, and updates just schedule a
repaint, which Qt coalesces.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState

TILE = 34
GAP = 4
STATE_COLOURS: dict[TrialState, str] = {
    TrialState.CREATED: "#bdbdbd",
    TrialState.QUEUED: "#bdbdbd",
    TrialState.RUNNING: "#42a5f5",
    TrialState.COMPLETED: "#2e7d32",
    TrialState.FAILED: "#c62828",
    TrialState.STOPPED: "#8d6e63",
    TrialState.PRUNED: "#f9a825",
    TrialState.LOST: "#6a1b9a",
}


class TrialGrid(QWidget):
    """Tiles in trial order; completed ones shaded by KPI rank (best = strongest).

    Signals:
        trialActivated(int trial_id): a tile was clicked.
    """

    trialActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._trials: dict[int, TrialRecord] = {}
        self._order: list[int] = []
        self._progress: dict[int, tuple[int, int | None]] = {}
        self._kpi_name = "KPI"
        self._goal = Goal.MIN
        self._rank: dict[int, float] = {}

    # --- data ------------------------------------------------------------------------

    def set_trials(self, records: list[TrialRecord], kpi_name: str, goal: Goal) -> None:
        """Show these trials (replacing any shown)."""
        self._kpi_name, self._goal = kpi_name, goal
        self._trials = {r.id: r for r in records}
        self._order = [r.id for r in sorted(records, key=lambda r: r.number)]
        self._progress.clear()
        self._rerank()
        self.updateGeometry()
        self.update()

    def update_trial(self, record: TrialRecord) -> None:
        """A trial was created, started or finished."""
        if record.id not in self._trials:
            self._order.append(record.id)
            self.updateGeometry()
        previous = self._trials.get(record.id)
        self._trials[record.id] = record
        if previous is None or previous.kpi != record.kpi or previous.state is not record.state:
            self._rerank()
        self.update()

    def set_progress(self, trial_id: int, step: int, total: int | None) -> None:
        """A running trial's progress (drawn as a fill)."""
        self._progress[trial_id] = (step, total)
        self.update()

    def _rerank(self) -> None:
        scored = [(self._goal.sign * r.kpi, r.id) for r in self._trials.values()
                  if r.state is TrialState.COMPLETED and r.kpi is not None
                  and math.isfinite(r.kpi)]
        scored.sort()
        count = len(scored)
        self._rank = {tid: 1.0 - i / max(count - 1, 1) for i, (_, tid) in enumerate(scored)}

    # --- geometry --------------------------------------------------------------------

    def _columns(self) -> int:
        return max(1, (self.width() - GAP) // (TILE + GAP))

    def tile_rect(self, index: int) -> QRect:
        """Where the index-th tile is drawn."""
        columns = self._columns()
        row, column = divmod(index, columns)
        return QRect(GAP + column * (TILE + GAP), GAP + row * (TILE + GAP), TILE, TILE)

    def trial_at(self, point: QPoint) -> int | None:
        """The trial under a point, if any."""
        column = (point.x() - GAP) // (TILE + GAP)
        row = (point.y() - GAP) // (TILE + GAP)
        if column < 0 or row < 0 or column >= self._columns():
            return None
        index = row * self._columns() + column
        if index >= len(self._order) or not self.tile_rect(index).contains(point):
            return None
        return self._order[index]

    def sizeHint(self) -> QSize:
        rows = math.ceil(len(self._order) / self._columns()) if self._order else 1
        return QSize(12 * (TILE + GAP), GAP + rows * (TILE + GAP))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        columns = max(1, (width - GAP) // (TILE + GAP))
        rows = math.ceil(len(self._order) / columns) if self._order else 1
        return GAP + rows * (TILE + GAP)

    # --- painting and interaction ------------------------------------------------------

    def colour(self, trial_id: int) -> QColor:
        """The tile colour: by state, completed ones shaded by KPI rank."""
        record = self._trials[trial_id]
        colour = QColor(STATE_COLOURS[record.state])
        if record.state is TrialState.COMPLETED:
            rank = self._rank.get(trial_id, 0.5)
            colour.setAlphaF(0.25 + 0.75 * rank)
        return colour

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, trial_id in enumerate(self._order):
            rect = self.tile_rect(index)
            if not rect.intersects(exposed):
                continue
            record = self._trials[trial_id]
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.colour(trial_id))
            painter.drawRoundedRect(rect, 4, 4)
            step, total = self._progress.get(trial_id, (0, None))
            if record.state is TrialState.RUNNING and total:
                fill = QRect(rect)
                fill.setWidth(int(rect.width() * min(step / total, 1.0)))
                painter.setBrush(QColor("#1565c0"))
                painter.drawRoundedRect(fill, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(record.number))
        painter.end()

    def tooltip_text(self, trial_id: int) -> str:
        """What hovering the trial's tile shows."""
        record = self._trials[trial_id]
        lines = [f"trial {record.number} — {record.state.value}"]
        step, total = self._progress.get(trial_id, (None, None))
        if step is not None:
            lines.append(f"progress {step}/{total}" if total else f"step {step}")
        lines.append(f"host {record.host or '—'}, GPU {','.join(map(str, record.gpus)) or '—'}")
        if record.started_at:
            end = record.ended_at or datetime.now(UTC)
            lines.append(f"started {record.started_at.astimezone():%Y-%m-%d %H:%M:%S}, "
                         f"{(end - record.started_at).total_seconds():.1f} s")
        kpi = "—" if record.kpi is None else f"{record.kpi:.6g}"
        lines.append(f"{self._kpi_name} {kpi}")
        lines.extend(f"{k} = {v:.6g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in flatten(record.params).items())
        if record.error:
            lines.append(record.error.splitlines()[0])
        return "\n".join(lines)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            trial_id = self.trial_at(event.pos())
            if trial_id is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip_text(trial_id), self)
            return True
        return super().event(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        trial_id = self.trial_at(event.position().toPoint())
        if trial_id is not None and event.button() == Qt.MouseButton.LeftButton:
            self.trialActivated.emit(trial_id)
        super().mouseReleaseEvent(event)
