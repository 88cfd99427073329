"""The program's window paints first and fills after (``MainWindow(paint_first=True)``):
the Trials, Charts and PBT tabs, which need numpy and pyqtgraph, take the places of
blank pages once made, and the experiments are listed and shown after the first paint."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from app.engine.trial import TrialState
from app.store.store import Store
from app.views.charts.panel import ChartsPanel
from app.views.panels import swap_tab
from app.views.pbt import PbtPanel
from app.views.trials.panel import TrialsPanel
from tests.helpers import store_experiment
from tests.views.window_helpers import finished_trial, open_window, wait_loaded


def test_the_window_lists_and_shows_the_experiment_after_its_first_paint(
        qtbot: QtBot, tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'gui.db'}") as store:
        experiment = store_experiment(store, tmp_path, "print('hi')\n")
    with open_window(qtbot, tmp_path, paint_first=True) as window:
        # shown, not painted yet: blank pages hold the heavy tabs' places
        assert not window.is_filled() and window.current_id is None
        assert window.experiments.rowCount() == 0
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert titles == ["Space", "Trials", "Charts", "Log", "PBT"]
        assert type(window.tabs.widget(1)) is QWidget and type(window.tabs.widget(4)) is QWidget
        assert not window.tabs.isTabVisible(4)  # no PBT experiment is shown

        finished_trial(window.workspace, experiment, {"x": 0.5}, TrialState.COMPLETED, 0.25)
        qtbot.waitUntil(window.is_filled, timeout=10_000)
        wait_loaded(window)
        assert window.current_id == experiment and window.experiments.rowCount() == 1
        assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == titles
        assert isinstance(window.tabs.widget(1), TrialsPanel)
        assert window.tabs.widget(1) is window.panels.trials
        assert isinstance(window.tabs.widget(2), ChartsPanel)
        assert window.tabs.widget(2) is window.panels.charts
        assert isinstance(window.tabs.widget(4), PbtPanel) and window.tabs.widget(4) is window.pbt
        assert not window.tabs.isTabVisible(4)  # not a PBT experiment
        assert window.tabs.currentIndex() == 0
        qtbot.waitUntil(lambda: window.trial_count() == 1)
        window.tabs.setCurrentWidget(window.panels.charts)
        assert window.tabs.currentWidget() is window.panels.charts


def test_a_window_closed_between_its_first_paint_and_its_filling_is_not_filled(
        qtbot: QtBot, tmp_path: Path) -> None:
    """As ``gui --smoke`` may: closed (its workspace closed too) on the turn after the
    paint, before the filling, which then reads nothing."""
    with Store(f"sqlite:///{tmp_path / 'gui.db'}") as store:
        store_experiment(store, tmp_path, "print('hi')\n")
    with open_window(qtbot, tmp_path, paint_first=True) as window:
        closer = _CloseAfterFirstPaint(window)  # its filter runs before the window's own
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
        qtbot.waitUntil(lambda: window._after_paint is None, timeout=10_000)  # it had its turn
        assert closer.closed
        assert window.current_id is None and not window.is_filled()


class _CloseAfterFirstPaint(QObject):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.closed = False
        self._window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.closed:
            self.closed = True
            QTimer.singleShot(0, self._window.close)
        return False


def test_a_swapped_tab_keeps_its_place_title_state_and_selection(qtbot: QtBot) -> None:
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    pages = [QWidget() for _ in range(3)]
    for number, page in enumerate(pages):
        tabs.addTab(page, f"tab {number}")
    tabs.setTabToolTip(1, "the middle one")
    tabs.setTabEnabled(2, False)
    tabs.setCurrentIndex(1)
    middle, last = QLabel("middle"), QLabel("last")
    swap_tab(tabs, pages[1], middle)
    swap_tab(tabs, pages[2], last)
    assert [tabs.widget(i) for i in range(3)] == [pages[0], middle, last]
    assert [tabs.tabText(i) for i in range(3)] == ["tab 0", "tab 1", "tab 2"]
    assert tabs.tabToolTip(1) == "the middle one"
    assert tabs.currentWidget() is middle
    assert tabs.isTabEnabled(1) and not tabs.isTabEnabled(2)
