"""The trial grid: one tile per trial in a wrapping grid, coloured by state, hover for details.

One widget paints every tile (no widget per tile): tile rectangles are computed
from the index, only the rows inside the exposed rectangle are painted, and every
change only schedules a repaint (``update()``), which Qt merges — so thousands of
trials and a stream of progress updates cost a few repaints a second.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.application.live import HistoryEnd
from app.engine.best import ranked
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials import text
from app.views.trials.style import (
    PROGRESS_COLOUR,
    completed_colour,
    state_colour,
    text_colour,
)
from app.views.trials.text import LiveFacts

DEFAULT_TILE = 34
GAP = 4
MIN_TILE = 8
MANY_TILES = 32
RECOUNT_MS = 250
"""Chunks of trials added (an experiment being opened) recount the states at most this
often: a count looks at every trial."""
"""More tiles changed at once than this repaint the grid once, not tile by tile."""
BEST_OUTLINE = "#ffb300"
STOPPING_HATCH = "#212121"
"""Hatching over a trial asked to stop that has not ended yet."""
HOVER_OUTLINE = "#212121"


class TrialGrid(QWidget):
    """Tiles in trial-number order; completed ones shaded by KPI rank (best = strongest).

    Put it in a :class:`QScrollArea` with ``widgetResizable``: it asks for the height
    its rows need at the width it gets. GUI thread only.

    Signals:
        trialActivated(int trial_id): a tile was clicked.
        statesChanged(): trials were added or changed state (the legend recounts).
    """

    trialActivated = Signal(int)
    statesChanged = Signal()

    def __init__(self, parent: QWidget | None = None, tile: int = DEFAULT_TILE) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._tile = DEFAULT_TILE
        self._trials: dict[int, TrialRecord] = {}
        self._states: Counter[TrialState] = Counter()
        """How many of :attr:`_trials` are in each state (kept as they change: a count of
        10,000 records per legend recount took ~15 ms)."""
        self._order: list[int] = []
        self._index: dict[int, int] = {}
        self._facts: dict[int, LiveFacts] = {}
        self._kpi_name = "KPI"
        self._goal = Goal.MIN
        self._default_total: int | None = None
        self._rank: dict[int, float] = {}
        self._best: int | None = None
        self._rank_dirty = False
        self._hovered: int | None = None
        self._stopping: frozenset[int] = frozenset()
        self._recount = QTimer(self)  # statesChanged for chunks of an opened experiment
        self._recount.setSingleShot(True)
        self._recount.setInterval(RECOUNT_MS)
        self._recount.timeout.connect(self.statesChanged)
        self.set_tile_size(tile)

    # --- data ---------------------------------------------------------------------------

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str, goal: Goal,
                   total_steps: int | None = None) -> None:
        """Show these trials, replacing any shown.

        Args:
            records: the experiment's trials (any order; tiles follow trial numbers).
            kpi_name: the KPI metric's name (labels; :meth:`add_points` follows it).
            goal: whether a lower or a higher KPI is better (for the shading).
            total_steps: the steps a trial runs when its progress report gives no total
                (the experiment's max epochs), or None.
        """
        self._kpi_name, self._goal, self._default_total = kpi_name, goal, total_steps
        self._trials = {r.id: r for r in records}
        self._states = Counter(r.state for r in self._trials.values())
        self._order = [r.id for r in sorted(records, key=lambda r: r.number)]
        self._index = {trial_id: i for i, trial_id in enumerate(self._order)}
        self._facts.clear()
        self._stopping = frozenset()
        self._hovered = None
        self._rank_dirty = True
        self._sync_height()
        self.update()
        self.statesChanged.emit()

    def update_trial(self, record: TrialRecord) -> None:
        """A trial was created, started, reported a KPI or finished."""
        previous = self._trials.get(record.id)
        self._trials[record.id] = record
        self._count_state(previous, record)
        if previous is None:
            self._insert(record)
        if previous is None or previous.state is not record.state:
            self.statesChanged.emit()
        reranks = record.state is TrialState.COMPLETED and (
            previous is None or previous.state is not record.state or previous.kpi != record.kpi)
        if reranks:
            self._rank_dirty = True
            self.update()  # a new rank may reshade every completed tile
        else:
            self._update_tile(record.id)

    def add_trials(self, records: Sequence[TrialRecord]) -> None:
        """Add or replace many trials at once (an experiment being opened): appended in
        order (or one re-order), one repaint, and the states recounted a moment later
        (at most every :data:`RECOUNT_MS` while chunks arrive)."""
        new = [r for r in records if r.id not in self._trials]
        for record in records:
            self._count_state(self._trials.get(record.id), record)
            self._trials[record.id] = record
        last = self._trials[self._order[-1]].number if self._order else None
        numbers = [r.number for r in new]
        if len(new) == len(records) and (last is None or not numbers or numbers[0] >= last) and (
                all(a <= b for a, b in itertools.pairwise(numbers))):
            for record in new:  # the next chunk of an experiment being opened: after the rest
                self._index[record.id] = len(self._order)
                self._order.append(record.id)
        else:
            self._order = [r.id for r in sorted(self._trials.values(), key=lambda r: r.number)]
            self._index = {trial_id: i for i, trial_id in enumerate(self._order)}
        self._rank_dirty = True
        self._sync_height()
        self.update()
        if not self._recount.isActive():  # a count of every trial: a few times a second
            self._recount.start()

    def _count_state(self, previous: TrialRecord | None, record: TrialRecord) -> None:
        """``record`` replaces ``previous`` (None: a new trial) in :attr:`_states`."""
        if previous is not None:
            self._states[previous.state] -= 1
        self._states[record.state] += 1

    def _insert(self, record: TrialRecord) -> None:
        """Add a tile in trial-number order (a new trial almost always goes last)."""
        if not self._order or self._trials[self._order[-1]].number <= record.number:
            self._index[record.id] = len(self._order)
            self._order.append(record.id)
        else:
            numbers = [self._trials[t].number for t in self._order]
            self._order.insert(bisect.bisect_right(numbers, record.number), record.id)
            self._index = {trial_id: i for i, trial_id in enumerate(self._order)}
            self.update()
        self._sync_height()

    def set_progress(self, progress: Mapping[int, tuple[int, int | None]]) -> None:
        """Trials' progress, trial id -> (step, total), drawn as a fill (total None: the
        default total)."""
        for trial_id, (step, total) in progress.items():
            old = self._facts.get(trial_id, LiveFacts())
            self._facts[trial_id] = LiveFacts(step, total if total else old.total,
                                              old.current_kpi, old.best_kpi)
        self._update_tiles(progress)

    def set_stopping(self, trial_ids: frozenset[int]) -> None:
        """The trials asked to stop that have not ended: drawn dimmed and hatched, and
        their tooltip says "stopping…"."""
        changed = self._stopping ^ trial_ids
        self._stopping = frozenset(trial_ids)
        for trial_id in changed:
            self._update_tile(trial_id)

    def is_stopping(self, trial_id: int) -> bool:
        """Whether the tile shows the trial as stopping."""
        return trial_id in self._stopping

    def set_best_kpi(self, trial_id: int, value: float | None) -> None:
        """The best KPI the trial has reported so far (shown in its tooltip)."""
        old = self._facts.get(trial_id, LiveFacts())
        self._facts[trial_id] = LiveFacts(old.step, old.total, old.current_kpi, value)

    def add_points(self, points: Iterable[MetricPoint]) -> None:
        """Metric points: KPI points update current and best KPI, any step updates progress."""
        touched: set[int] = set()
        for point in points:
            kpi = point.name == self._kpi_name
            self._see(point.trial_id, point.step, point.value if kpi else None,
                      point.value if kpi and math.isfinite(point.value) else None)
            touched.add(point.trial_id)
        self._update_tiles(touched)

    def _see(self, trial_id: int, step: int | None, kpi: float | None,
             best: float | None) -> None:
        """Take what a trial reported into its facts: ``step`` if later than the one
        known, ``kpi`` as its current KPI, ``best`` (finite) if better by the goal; None
        leaves each as it was."""
        old = self._facts.get(trial_id, LiveFacts())
        if step is None or (old.step is not None and old.step >= step):
            step = old.step
        if best is None or (old.best_kpi is not None
                            and not self._goal.better(best, old.best_kpi)):
            best = old.best_kpi
        self._facts[trial_id] = LiveFacts(step, old.total,
                                          old.current_kpi if kpi is None else kpi, best)

    def _update_tiles(self, trial_ids: Collection[int]) -> None:
        """Repaint these trials' tiles: each, or the whole grid once for many (a region
        of hundreds of rects costs more)."""
        if len(trial_ids) > MANY_TILES:
            self.update()
        else:
            for trial_id in trial_ids:
                self._update_tile(trial_id)

    def add_history(self, ends: Mapping[int, HistoryEnd]) -> None:
        """Where trials' stored points end (an experiment being opened): as
        :meth:`add_points` given each of them, for a fraction of the work."""
        for trial_id, end in ends.items():
            self._see(trial_id, end.step, end.kpi, end.best_kpi)
        self._update_tiles(ends)

    def facts(self, trial_id: int) -> LiveFacts:
        """What is known live about a trial: progress (with the default total) and KPIs.

        Raises:
            KeyError: when the grid has no such trial.
        """
        if trial_id not in self._trials:
            raise KeyError(f"trial {trial_id} is not in the grid")
        facts = self._facts.get(trial_id, LiveFacts())
        if facts.total is None and self._default_total:
            facts = LiveFacts(facts.step, self._default_total, facts.current_kpi, facts.best_kpi)
        return facts

    def trial_ids(self) -> list[int]:
        """The trials shown, in tile order."""
        return list(self._order)

    def state_counts(self) -> dict[TrialState, int]:
        """How many trials are in each state (CREATED counted as QUEUED)."""
        counts = {state: n for state, n in self._states.items() if n > 0}
        if TrialState.CREATED in counts:
            counts[TrialState.QUEUED] = counts.get(TrialState.QUEUED, 0) + counts.pop(
                TrialState.CREATED)
        return counts

    def tooltip_text(self, trial_id: int, now: datetime | None = None) -> str:
        """What hovering the trial's tile shows (see :func:`text.tooltip_text`).

        Raises:
            KeyError: when the grid has no such trial.
        """
        return text.tooltip_text(self._trials[trial_id], self._kpi_name, self.facts(trial_id),
                                 now, stopping=trial_id in self._stopping)

    # --- geometry -----------------------------------------------------------------------

    def set_tile_size(self, size: int) -> None:
        """Tile edge in pixels.

        Raises:
            ValueError: when size is below the smallest readable tile.
        """
        if size < MIN_TILE:
            raise ValueError(f"tile size must be at least {MIN_TILE} px, got {size}")
        self._tile = size
        self._sync_height()
        self.update()

    def _pitch(self) -> int:
        return self._tile + GAP

    def columns(self, width: int | None = None) -> int:
        """How many tiles fit in a row at ``width`` (default: the current width)."""
        return max(1, ((self.width() if width is None else width) - GAP) // self._pitch())

    def _left(self) -> int:
        """Where the first column starts: the rows are centred in the width."""
        used = self.columns() * self._pitch() + GAP
        return GAP + max(0, (self.width() - used) // 2)

    def _tile_rect_at(self, index: int) -> QRect:
        row, column = divmod(index, self.columns())
        return QRect(self._left() + column * self._pitch(), GAP + row * self._pitch(),
                     self._tile, self._tile)

    def tile_rect(self, trial_id: int) -> QRect:
        """Where the trial's tile is drawn (widget coordinates).

        Raises:
            KeyError: when the grid has no such trial.
        """
        return self._tile_rect_at(self._index[trial_id])

    def trial_at(self, point: QPoint) -> int | None:
        """The trial whose tile is under ``point``, or None (gaps and empty space)."""
        column, x_in = divmod(point.x() - self._left(), self._pitch())
        row, y_in = divmod(point.y() - GAP, self._pitch())
        if column < 0 or row < 0 or column >= self.columns():
            return None
        if x_in >= self._tile or y_in >= self._tile:
            return None
        index = row * self.columns() + column
        return self._order[index] if index < len(self._order) else None

    def heightForWidth(self, width: int) -> int:
        rows = math.ceil(len(self._order) / self.columns(width)) if self._order else 1
        return GAP + rows * self._pitch()

    def hasHeightForWidth(self) -> bool:
        return True

    def sizeHint(self) -> QSize:
        width = 16 * self._pitch() + GAP
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(self._pitch() + GAP, self._pitch() + GAP)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._sync_height()

    def _sync_height(self) -> None:
        """Ask a scroll area for the height every row needs at the current width."""
        self.setMinimumHeight(self.heightForWidth(self.width()))
        self.updateGeometry()

    # --- painting -----------------------------------------------------------------------

    def tile_colour(self, trial_id: int) -> QColor:
        """The tile's fill: its state's colour; completed ones shaded by KPI rank.

        Raises:
            KeyError: when the grid has no such trial.
        """
        self._ensure_rank()
        record = self._trials[trial_id]
        if record.state is TrialState.COMPLETED:
            return completed_colour(self._rank.get(trial_id, 0.0))
        return state_colour(record.state)

    def best_trial(self) -> int | None:
        """The completed trial with the best KPI (outlined in gold), if any."""
        self._ensure_rank()
        return self._best

    def _ensure_rank(self) -> None:
        if not self._rank_dirty:
            return
        scored = ranked(self._trials.values(), self._goal)
        count = len(scored)
        self._rank = {r.id: 1.0 - i / max(count - 1, 1) for i, r in enumerate(scored)}
        self._best = scored[0].id if scored else None
        self._rank_dirty = False

    def paintEvent(self, event: QPaintEvent) -> None:
        self._ensure_rank()
        exposed = event.rect()
        columns, pitch = self.columns(), self._pitch()
        first = max(0, (exposed.top() - GAP) // pitch) * columns
        last = min(len(self._order), (exposed.bottom() // pitch + 1) * columns)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPixelSize(max(7, self._tile // 3))
        painter.setFont(font)
        radius = max(2, self._tile // 8)
        for index in range(first, last):
            self._paint_tile(painter, index, radius)
        painter.end()

    def _paint_tile(self, painter: QPainter, index: int, radius: int) -> None:
        trial_id = self._order[index]
        record = self._trials[trial_id]
        rect = self._tile_rect_at(index)
        colour = self.tile_colour(trial_id)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, radius, radius)
        if record.state is TrialState.RUNNING:
            fraction = self.facts(trial_id).fraction
            if fraction:
                fill = QRect(rect)
                fill.setWidth(max(1, round(rect.width() * fraction)))
                painter.setBrush(QColor(PROGRESS_COLOUR))
                painter.drawRoundedRect(fill, radius, radius)
                colour = QColor(PROGRESS_COLOUR) if fraction > 0.5 else colour
        if trial_id in self._stopping:
            painter.setBrush(QBrush(QColor(STOPPING_HATCH), Qt.BrushStyle.BDiagPattern))
            painter.drawRoundedRect(rect, radius, radius)
        outline = (HOVER_OUTLINE if trial_id == self._hovered
                   else BEST_OUTLINE if trial_id == self._best else None)
        if outline is not None:
            painter.setPen(QPen(QColor(outline), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), radius, radius)
        if self._tile >= 20:
            painter.setPen(text_colour(colour))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(record.number))

    def _update_tile(self, trial_id: int) -> None:
        if not self.isVisible():
            return  # painted in full when shown
        index = self._index.get(trial_id)
        if index is not None:
            self.update(self._tile_rect_at(index))

    # --- interaction --------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            self._show_tooltip(event.pos(), event.globalPos())
            return True
        return super().event(event)

    def _show_tooltip(self, pos: QPoint, global_pos: QPoint) -> None:
        trial_id = self.trial_at(pos)
        if trial_id is None:
            QToolTip.hideText()
            return
        QToolTip.showText(global_pos, self.tooltip_text(trial_id), self, self.tile_rect(trial_id))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        hovered = self.trial_at(pos)
        if hovered != self._hovered:
            for trial_id in (self._hovered, hovered):
                if trial_id is not None:
                    self._update_tile(trial_id)
            self._hovered = hovered
            if QToolTip.isVisible():  # follow the mouse from tile to tile
                self._show_tooltip(pos, event.globalPosition().toPoint())
        self.setCursor(Qt.CursorShape.PointingHandCursor if hovered is not None
                       else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._hovered is not None:
            self._update_tile(self._hovered)
            self._hovered = None
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        trial_id = self.trial_at(event.position().toPoint())
        if trial_id is not None and event.button() == Qt.MouseButton.LeftButton:
            self.trialActivated.emit(trial_id)
        super().mouseReleaseEvent(event)
