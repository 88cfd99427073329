"""The per-experiment tabs (Space, Trials, Charts) behind one small interface.

The main window hands every experiment's data to :class:`ExperimentPanels`;
each tab keeps what it needs. Qt only: GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
)

from app.engine.experiment import ExperimentConfig
from app.engine.params import flatten
from app.engine.records import MetricPoint, TrialRecord
from app.engine.space.nodes import Space
from app.views.charts.panel import ChartsPanel
from app.views.space_editor import SpaceEditor
from app.views.trial_grid import TrialGrid

PREVIEW_COUNT = 10


class TrialList(QTreeWidget):
    """One row per trial: number, state, KPI, host, duration; hover for every parameter."""

    HEADERS = ("#", "state", "KPI", "host", "seconds", "params")

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderLabels(list(self.HEADERS))
        self.setRootIsDecorated(False)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setAlternatingRowColors(True)
        self._items: dict[int, QTreeWidgetItem] = {}

    def set_trials(self, trials: Sequence[TrialRecord]) -> None:
        """Replace every row."""
        self.clear()
        self._items.clear()
        for trial in trials:
            self.update_trial(trial)

    def update_trial(self, trial: TrialRecord) -> None:
        """Add or refresh the trial's row."""
        item = self._items.get(trial.id)
        if item is None:
            item = QTreeWidgetItem()
            self._items[trial.id] = item
            self.addTopLevelItem(item)
        flat = flatten(trial.params)
        seconds = ((trial.ended_at - trial.started_at).total_seconds()
                   if trial.started_at and trial.ended_at else None)
        values = (trial.number, trial.state.value,
                  "" if trial.kpi is None else f"{trial.kpi:.6g}", trial.host or "",
                  "" if seconds is None else f"{seconds:.1f}",
                  ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in flat.items()))
        for column, value in enumerate(values):
            item.setData(column, Qt.ItemDataRole.DisplayRole, value)
        tip = "\n".join([f"trial {trial.number}: {trial.state.value}",
                         *(f"{k} = {v}" for k, v in flat.items())])
        if trial.error:
            tip += f"\n\n{trial.error.splitlines()[0]}"
        for column in range(len(self.HEADERS)):
            item.setToolTip(column, tip)

    def row_count(self) -> int:
        """How many trials are listed."""
        return self.topLevelItemCount()


class ExperimentPanels(QObject):
    """Owns the Space, Trials and Charts widgets of the main window.

    Signals:
        stopTrial(int trial_id): the user asked to stop one trial.
    """

    stopTrial = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.space = SpaceEditor()
        self.trial_list = TrialList()
        self.grid = TrialGrid()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        self.trials = QSplitter(Qt.Orientation.Vertical)
        self.trials.addWidget(scroll)
        self.trials.addWidget(self.trial_list)
        self.trials.setSizes([300, 400])
        self.charts = ChartsPanel()
        self._config: ExperimentConfig | None = None

    def show(self, config: ExperimentConfig, trials: Sequence[TrialRecord],
             points: Sequence[MetricPoint]) -> None:
        """Load an experiment: its space, trials and stored metric points."""
        self._config = config
        self.space.set_space(config.space)
        self.trial_list.set_trials(trials)
        self.grid.set_trials(list(trials), config.kpi.name, config.kpi.goal)
        self.charts.set_experiment(config.kpi.name, config.kpi.goal, config.space)
        self.charts.set_trials(trials)
        self.charts.add_points(points)
        self.charts.refresh()

    def update_trial(self, record: TrialRecord) -> None:
        """A trial changed."""
        self.trial_list.update_trial(record)
        self.grid.update_trial(record)
        self.charts.update_trial(record)

    def add_points(self, points: Sequence[MetricPoint]) -> None:
        """New metric points (batched by the bridge)."""
        self.charts.add_points(points)
        total = self._config.limits.max_epochs if self._config is not None else None
        latest: dict[int, int] = {}
        for point in points:
            if point.step is not None:
                latest[point.trial_id] = max(latest.get(point.trial_id, 0), point.step)
        for trial_id, step in latest.items():
            self.grid.set_progress(trial_id, step, total)

    def current_space(self) -> Space | None:
        """The space as edited in the Space tab."""
        return self.space.space()

    def space_validity(self) -> tuple[bool, str]:
        """Whether the edited space may run, and why not."""
        return self.space.validity()
