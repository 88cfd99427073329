"""The per-experiment tabs (Space, Trials, Charts) behind one small interface.

The main window hands every experiment's data to :class:`ExperimentPanels`;
each tab keeps what it needs. Qt only: GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine.experiment import ExperimentConfig
from app.engine.records import MetricPoint, MetricSeries, TrialRecord
from app.engine.search.base import Goal
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

    def add_trials(self, records: Sequence[TrialRecord]) -> None:
        """More of the shown experiment's stored trials for the grid and the table (it is
        being opened; the charts were given them all at once)."""
        self.trials.table.model.add_trials(records)
        self.trials.grid_view.grid.add_trials(records)

    def add_history(self, series: Sequence[MetricSeries]) -> None:
        """Stored points of whole trials (the experiment is being opened): every point to
        the charts, to the grid only those that decide what its tiles show."""
        self.charts.add_series(series)
        if self._config is not None:
            self.trials.add_points(deciding_points(series, self._config.kpi.name,
                                                   self._config.kpi.goal))

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


def deciding_points(series: Sequence[MetricSeries], kpi_name: str, goal: Goal) -> list[MetricPoint]:
    """Of each series (ordered by step), the points the trial grid's tiles depend on: the
    last one (progress, and for the KPI its current value) and, for the KPI, before it
    the best finite one. :meth:`TrialGrid.add_points` given these shows what it shows
    given them all, for a fraction of the work. The KPI series of one length are
    searched together (one ``argmin`` for all of them)."""
    best = _best_indices([one for one in series if one.name == kpi_name and one.values],
                         goal)
    points: list[MetricPoint] = []
    for one in series:
        if not one.values:
            continue
        at = best.get(id(one))
        if at is not None:
            points.append(MetricPoint(one.trial_id, one.name, one.values[at],
                                      one.steps[at], 0.0))
        points.append(MetricPoint(one.trial_id, one.name, one.values[-1], one.steps[-1], 0.0))
    return points


def _best_indices(series: Sequence[MetricSeries], goal: Goal) -> dict[int, int]:
    """``id(series)`` -> the index of its best finite value (absent: none is finite)."""
    by_length: dict[int, list[MetricSeries]] = {}
    for one in series:
        by_length.setdefault(len(one.values), []).append(one)
    best: dict[int, int] = {}
    for group in by_length.values():
        values = np.array([one.values for one in group], dtype=np.float64) * goal.sign
        finite = np.isfinite(values)
        at = np.argmin(np.where(finite, values, np.inf), axis=1)
        found = finite[np.arange(len(group)), at]
        for one, index, ok in zip(group, at.tolist(), found.tolist(), strict=True):
            if ok:
                best[id(one)] = index
    return best
