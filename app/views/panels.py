"""The per-experiment tabs (Space, Trials, Charts) behind one small interface.

The main window hands every experiment's data to :class:`ExperimentPanels`;
each tab keeps what it needs. Qt only: GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from app.engine.experiment import ExperimentConfig
from app.engine.records import MetricPoint, TrialRecord
from app.engine.space.nodes import Space
from app.views.charts.panel import ChartsPanel
from app.views.space_editor import SpaceEditor
from app.views.trials import TrialsPanel


class ExperimentPanels(QObject):
    """Owns the Space, Trials and Charts widgets of the main window.

    Signals:
        stopTrial(int trial_id): the user asked to stop one trial.
    """

    stopTrial = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.space = SpaceEditor()
        self.trials = TrialsPanel()
        self.charts = ChartsPanel()
        self._config: ExperimentConfig | None = None

    def show(self, config: ExperimentConfig, trials: Sequence[TrialRecord],
             points: Sequence[MetricPoint], *, space: bool = True) -> None:
        """Load an experiment: its space (unless ``space`` is False: the editor keeps
        what it holds), trials and stored metric points."""
        self._config = config
        self.space.set_algorithm(config.algorithm)
        if space:
            self.space.set_space(config.space)
        self.trials.set_trials(trials, config.kpi.name, config.kpi.goal,
                               config.limits.max_epochs)
        self.charts.set_experiment(config.kpi.name, config.kpi.goal, config.space)
        self.charts.set_trials(trials)
        self.charts.add_points(points)
        self.charts.refresh()

    def update_trial(self, record: TrialRecord) -> None:
        """A trial changed."""
        self.trials.update_trial(record)
        self.charts.update_trial(record)

    def add_points(self, points: Sequence[MetricPoint]) -> None:
        """New metric points (batched by the bridge)."""
        self.charts.add_points(points)
        self.trials.add_points(points)

    def current_space(self) -> Space | None:
        """The space as edited in the Space tab."""
        return self.space.space()

    def space_validity(self) -> tuple[bool, str]:
        """Whether the edited space may run, and why not."""
        return self.space.validity()
