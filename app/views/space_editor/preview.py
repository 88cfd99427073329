"""The side panel: ten sampled configurations of the space and its grid size."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.errors import Problem
from app.engine.params import flatten
from app.engine.search import Algorithm, GridSearcher, make_searcher, searcher_problems
from app.engine.space.nodes import Space
from app.views.space_editor.cells import format_number

PREVIEW_COUNT = 10
MUTED_STYLE = "color: #666;"
ERROR_STYLE = "color: #c62828;"


def sample_configurations(space: Space, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` configurations drawn by the random searcher, in dotted form."""
    searcher = make_searcher(Algorithm.RANDOM, space, seed=seed)
    out = []
    for trial_id in range(1, count + 1):
        params = searcher.suggest(trial_id)
        if params is None:
            break
        out.append(flatten(params))
    return out


def grid_text(space: Space, algorithm: Algorithm | None = None) -> tuple[str, bool]:
    """The grid facts of ``space`` and whether they are a problem for ``algorithm``.

    ``Grid size: 1,440 points``, or why grid search cannot enumerate the space:
    a problem (True) only when the experiment searches with grid; for any other
    algorithm, or none chosen yet, a piece of information (False).
    """
    problems = searcher_problems(Algorithm.GRID, space)
    if not problems:
        size = GridSearcher(space).size
        return f"Grid size: {size:,} point{'s' if size != 1 else ''}", False
    more = len(problems) - 1
    reason = f"{problems[0]}" + (f" (and {more} more)" if more else "")
    if algorithm is Algorithm.GRID:
        return f"Grid search not possible: {reason}", True
    used = "other algorithms sample it" if algorithm is None else f"{algorithm.value} samples it"
    return f"Grid size: not countable ({used}; grid search would need: {reason})", False


class SpacePreview(QWidget):
    """Ten random configurations (one row each, a column per dotted name) and the grid size.

    ``algorithm`` is the experiment's searcher (None: not chosen); grid facts are a
    problem only for grid search.

    Events:
        resampleRequested(): the person asked for other samples.
    """

    resampleRequested = Signal()

    def __init__(self, count: int = PREVIEW_COUNT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = count
        self.seed = 0
        self.algorithm: Algorithm | None = None
        self.samples: list[dict[str, Any]] = []
        self._unsampled: Space | None = None  # shown while hidden: sampled when painted
        self._sampling_due = False
        self._painted = False  # shown is not yet painted: the window's first paint comes later
        self.title = QLabel(f"<b>{count} sampled configurations</b>")
        self.resample = QPushButton("Resample")
        self.resample.setToolTip("draw other random configurations")
        self.resample.clicked.connect(self._next_seed)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(MUTED_STYLE)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.grid_label = QLabel()
        self.grid_label.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch()
        head.addWidget(self.resample)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.grid_label)

    def show_space(self, space: Space, problems: list[Problem]) -> None:
        """Sample ``space`` again; an invalid space shows why instead.

        While the preview is hidden (another tab is current, or the window is not shown
        yet, as at start-up), the grid facts are told now and the samples are drawn after
        it is first painted: the random searcher loads hyperopt and scipy, a second the
        window's first paint does without.
        """
        self.samples = []
        self._unsampled = None
        if problems:
            self.message.setText(f"Fix the space to preview it: {problems[0]}")
            self.grid_label.setText("")
        else:
            text, is_problem = grid_text(space, self.algorithm)
            self.grid_label.setText(text)
            self.grid_label.setStyleSheet(ERROR_STYLE if is_problem else MUTED_STYLE)
            if not self.isVisible() or not self._painted:
                self._unsampled = space
                self.message.setText("Sampling…")
                self.message.setVisible(True)
                self._fill()
                return
            self._sample(space)
        self.message.setVisible(bool(self.message.text()))
        self._fill()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Once painted, draw the samples :meth:`show_space` left for when the preview
        is seen: in the next turn of the event loop, after the window's paint."""
        super().paintEvent(event)
        self._painted = True
        if self._unsampled is not None and not self._sampling_due:
            self._sampling_due = True
            QTimer.singleShot(0, self._sample_unsampled)

    def _sample_unsampled(self) -> None:
        self._sampling_due = False
        if self._unsampled is None:  # a new space came meanwhile and was sampled
            return
        space, self._unsampled = self._unsampled, None
        self._sample(space)
        self.message.setVisible(bool(self.message.text()))
        self._fill()

    def _sample(self, space: Space) -> None:
        try:
            self.samples = sample_configurations(space, self.count, self.seed)
        except Exception as exc:  # the preview must never take the editor down
            self.message.setText(f"Cannot sample this space: {exc}")
        else:
            searched = bool(self.samples) and any(len(set(map(repr, column))) > 1
                                                 for column in self._columns().values())
            self.message.setText("" if searched else
                                 "Nothing is searched yet: switch AUTO on for a parameter.")

    def _columns(self) -> dict[str, list[Any]]:
        names: dict[str, list[Any]] = {}
        for sample in self.samples:
            for name in sample:
                names.setdefault(name, [])
        for sample in self.samples:
            for name, column in names.items():
                column.append(sample.get(name, ""))
        return names

    def _fill(self) -> None:
        columns = self._columns()
        self.table.setUpdatesEnabled(False)
        self.table.clear()
        self.table.setRowCount(len(self.samples))
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(list(columns))
        for col, values in enumerate(columns.values()):
            for row, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(_cell(value)))
        # once, not per item: ResizeToContents made 500 columns take seconds
        self.table.resizeColumnsToContents()
        self.table.setUpdatesEnabled(True)

    def _next_seed(self) -> None:
        self.seed += 1
        self.resampleRequested.emit()


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return format_number(value)
    return str(value)
