"""The per-experiment tabs (Space, Trials, Charts) behind one small interface.

The main window hands every experiment's data to :class:`ExperimentPanels`;
each tab keeps what it needs. Qt only: GUI thread.

The Trials and Charts tabs need numpy and pyqtgraph (~0.5 s of CPU to import): each is
made on first use, in place of a blank page that holds its tab until then (see
:func:`swap_tab`), so that a window can be painted before they load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from app.application.live import HistoryEnd
from app.engine.experiment import ExperimentConfig
from app.engine.records import MetricPoint, MetricSeries, TrialRecord
from app.engine.space.nodes import Space
from app.views.space_editor import SpaceEditor

if TYPE_CHECKING:
    from app.views.charts.panel import ChartsPanel
    from app.views.trials.panel import TrialsPanel


class ExperimentPanels(QObject):
    """Owns the Space, Trials and Charts widgets of the main window.

    The Trials and Charts panels are made when first asked for (:attr:`trials`,
    :attr:`charts`, or :meth:`build`); until then :attr:`trials_page` and
    :attr:`charts_page`, blank widgets, hold their places in the window's tabs.

    Signals:
        stopTrial(int trial_id): the user asked to stop one trial.
        panelBuilt(QWidget page, QWidget panel): the Trials or Charts panel was just made;
            it is to take the place of ``page`` (emitted before the panel is handed out).
    """

    stopTrial = Signal(int)
    panelBuilt = Signal(QWidget, QWidget)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.space = SpaceEditor()
        self.trials_page = QWidget()
        self.charts_page = QWidget()
        self._trials: TrialsPanel | None = None
        self._charts: ChartsPanel | None = None
        self._config: ExperimentConfig | None = None

    @property
    def trials(self) -> TrialsPanel:
        """The Trials tab's panel (made now, with numpy, if it was not yet)."""
        if self._trials is None:
            from app.views.trials.panel import TrialsPanel

            self._trials = TrialsPanel()
            self.panelBuilt.emit(self.trials_page, self._trials)
        return self._trials

    @property
    def charts(self) -> ChartsPanel:
        """The Charts tab's panel (made now, with pyqtgraph, if it was not yet)."""
        if self._charts is None:
            from app.views.charts.panel import ChartsPanel

            self._charts = ChartsPanel()
            self.panelBuilt.emit(self.charts_page, self._charts)
        return self._charts

    def is_built(self) -> bool:
        """Both the Trials and the Charts panel have been made."""
        return self._trials is not None and self._charts is not None

    def build(self) -> None:
        """Make the Trials and Charts panels now, if they were not yet."""
        _ = self.trials, self.charts

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

    def load_trials(self, first: Sequence[TrialRecord], every: Sequence[TrialRecord]) -> None:
        """The shown experiment's trials as read while it is opened: the grid and the
        table take ``first`` (the rest follow through :meth:`add_trials`), the charts
        ``every`` one (the experiment stays as :meth:`show` set it: what the charts
        learnt meanwhile, such as the bounds of its curves, stays)."""
        config = self._config
        if config is None:
            raise RuntimeError("load_trials before show: no experiment is shown")
        self.trials.set_trials(first, config.kpi.name, config.kpi.goal,
                               config.limits.max_epochs)
        self.charts.set_trials(every)

    def add_trials(self, records: Sequence[TrialRecord]) -> None:
        """More of the shown experiment's stored trials for the grid and the table (it is
        being opened; the charts were given them all at once)."""
        self.trials.table.model.add_trials(records)
        self.trials.grid_view.grid.add_trials(records)

    def add_history(self, series: Sequence[MetricSeries],
                    ends: Mapping[int, HistoryEnd]) -> None:
        """Stored points of whole trials (the experiment is being opened): every point to
        the charts, to the grid where each trial's points end (what its tiles show)."""
        self.charts.add_series(series)
        self.trials.add_history(ends)

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


def swap_tab(tabs: QTabWidget, page: QWidget, widget: QWidget) -> None:
    """Put ``widget`` in the place of ``page`` in ``tabs``: the same index, title, tooltip,
    enabled and visible state, current if ``page`` was; ``page`` is deleted later.

    Raises:
        ValueError: ``page`` is not one of the tabs.
    """
    index = tabs.indexOf(page)
    if index < 0:
        raise ValueError("the page to replace is not a tab")
    current = tabs.currentIndex() == index
    enabled, visible = tabs.isTabEnabled(index), tabs.isTabVisible(index)
    tabs.insertTab(index, widget, tabs.tabText(index))
    tabs.setTabToolTip(index, tabs.tabToolTip(index + 1))
    tabs.setTabEnabled(index, enabled)
    tabs.setTabVisible(index, visible)
    if current:
        tabs.setCurrentIndex(index)
    tabs.removeTab(index + 1)
    page.deleteLater()
