"""The Trials tab: the grid with its legend above the table, fed through one small interface."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from app.application.live import HistoryEnd
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.views.trials.columns import ColumnChoices
from app.views.trials.legend import TrialGridView
from app.views.trials.table import TrialTable


class TrialsPanel(QWidget):
    """Grid (top) and table (bottom) of one experiment's trials. GUI thread only.

    Signals:
        trialActivated(int trial_id): a tile was clicked or a row activated (open the
            trial's :class:`~app.views.trials.detail.TrialDetail`).
        compareRequested(list trial_ids): the user asked to compare 2 to 5 trials
            (open a :class:`~app.views.compare.CompareDialog`).
    """

    trialActivated = Signal(int)
    compareRequested = Signal(list)

    def __init__(self, parent: QWidget | None = None,
                 column_choices: ColumnChoices | None = None) -> None:
        super().__init__(parent)
        self.grid_view = TrialGridView()
        self.table = TrialTable(column_choices=column_choices)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.grid_view)
        self.splitter.addWidget(self.table)
        self.splitter.setSizes([320, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.grid_view.trialActivated.connect(self.trialActivated)
        self.table.trialActivated.connect(self.trialActivated)
        self.table.compareRequested.connect(self.compareRequested)

    def set_trials(self, records: Sequence[TrialRecord], kpi_name: str, goal: Goal,
                   total_steps: int | None = None) -> None:
        """Show an experiment's trials (total_steps: its max epochs, for progress fills)."""
        self.grid_view.set_trials(records, kpi_name, goal, total_steps)
        self.table.set_trials(records, kpi_name, goal)

    def set_column_choices(self, choices: ColumnChoices | None) -> None:
        """Remember the table's hidden columns per experiment in ``choices``."""
        self.table.set_column_choices(choices)

    def update_trial(self, record: TrialRecord) -> None:
        """A trial was added or changed."""
        self.grid_view.update_trial(record)
        self.table.update_trial(record)

    def add_points(self, points: Sequence[MetricPoint]) -> None:
        """A batch of live metric points (KPI so far and progress steps)."""
        self.grid_view.add_points(points)

    def add_history(self, ends: Mapping[int, HistoryEnd]) -> None:
        """Where trials' stored points end (an experiment being opened): see
        :meth:`TrialGrid.add_history`."""
        self.grid_view.add_history(ends)

    def set_progress(self, progress: Mapping[int, tuple[int, int | None]]) -> None:
        """Trials' progress as reported, trial id -> (step, total)."""
        self.grid_view.set_progress(progress)

    def set_stopping(self, trial_ids: frozenset[int]) -> None:
        """The trials asked to stop that have not ended ("stopping…" on tile and row)."""
        self.grid_view.grid.set_stopping(trial_ids)
        self.table.model.set_stopping(trial_ids)
