"""A lab user's work is never lost without a word: unsaved space edits, runs going on
when the window closes, edits while a run goes on, and Delete on a running experiment.

Each journey drives the real window over a real SQLite file and the demo's real trials;
message boxes are answered by clicking their buttons (:class:`Answer`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.application.workspace import Workspace
from app.engine.experiment import load_experiment
from app.engine.processes import is_alive
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from app.views.main_window import (
    EDIT_FOR_RESTART,
    EDITING_FOR_RESTART,
    RUN_USES_START,
    SPACE_TAB,
    SPACE_TAB_MODIFIED,
    MainWindow,
)
from app.views.prompts import Quitting, Unsaved
from tests.views.test_main_window import quadratic
from tests.views.window_helpers import Answer


class Lab:
    """A database with the demo experiment (``slow``: 3 trials of ~6 s) and a copy
    (``other``), and the windows opened over it; everything is closed at the end."""

    def __init__(self, qtbot: QtBot, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.tmp_path = tmp_path
        config = load_experiment(quadratic(tmp_path, 3, "0.3") / "experiment.yaml")
        self.url = f"sqlite:///{tmp_path / 'gui.db'}"
        self.workspaces: list[tuple[Workspace, Store]] = []
        self.windows: list[MainWindow] = []
        workspace = self.open_workspace()
        workspace.create(replace(config, name="slow"))
        workspace.create(replace(config, name="other"))

    def open_workspace(self) -> Workspace:
        store = Store(self.url)
        workspace = Workspace(store, grace=1.0)
        self.workspaces.append((workspace, store))
        return workspace

    def window(self, workspace: Workspace | None = None, **options: bool) -> MainWindow:
        settings = QSettings(str(self.tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(workspace or self.workspaces[0][0], "test", settings, **options)
        window.show()  # closed by close(), after the runs: pytest-qt would close it first
        self.windows.append(window)
        return window

    def close(self) -> None:
        """Runs stopped and edits dropped first, so that closing a window asks nothing."""
        for window in self.windows:
            window.panels.space.undo_stack.setClean()
        for workspace, _ in self.workspaces:
            workspace.close()
        for window in self.windows:
            window.close()
            shiboken6.delete(window)  # with its bridge: no queued event reaches a closed store
        for _, store in self.workspaces:
            store.close()


@pytest.fixture
def lab(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "question",  # Restart's own question: yes
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    warned: list[str] = []  # a refusal fails the test, never waits on a box nobody clicks
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, _title, text, *_a, **_k: warned.append(text))
    monkeypatch.setattr("app.views.tasks.tell",  # a task's refusal
                        lambda _parent, _title, text, *_a, **_k: warned.append(text))
    made = Lab(qtbot, tmp_path)
    yield made
    # a test that failed half-way leaves a run or an edit: closing then asks nothing
    monkeypatch.setattr("app.views.main_window.ask", lambda *_a, **_k: Quitting.STOP)
    monkeypatch.setattr("app.views.main_window.ask_unsaved",
                        lambda *_a, **_k: Unsaved.DISCARD)
    made.close()
    assert warned == []


def select(window: MainWindow, name: str) -> None:
    """Click the experiment ``name`` in the list on the left."""
    row = next(i for i in range(window.experiments.rowCount())
               if window.experiments.experiment_row(i).record.name == name)
    window.list.setCurrentIndex(window.experiments.index(row))


def shown_name(window: MainWindow) -> str:
    return window.workspace.experiment(window.current_id or 0).name


def space_tab(window: MainWindow) -> str:
    return window.tabs.tabText(window.tabs.indexOf(window.panels.space))


def stored_names(window: MainWindow, name: str) -> list[str]:
    experiment = next(e for e in window.workspace.experiments() if e.name == name)
    return [node.name for node in window.workspace.config(experiment.id).space.children]


def edited_names(window: MainWindow) -> list[str]:
    return [node.name for node in window.panels.space.space().children]


def delete_optimizer(window: MainWindow) -> None:
    """Delete the ``optimizer`` node with the editor's Delete button."""
    window.panels.space.select("optimizer")
    window.panels.space.delete_action.trigger()


def start(qtbot: QtBot, window: MainWindow) -> int:
    """Press Start and wait for two trials running; returns the experiment's id."""
    experiment_id = window.current_id or 0
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: sum(t.state is TrialState.RUNNING
                                for t in window.workspace.trials(experiment_id)) == 2,
                    timeout=30_000)
    qtbot.waitUntil(lambda: window.workspace.is_running(experiment_id))
    return experiment_id


def test_unsaved_space_edits_are_marked_and_asked_about_on_switching_and_closing(
        qtbot: QtBot, lab: Lab) -> None:
    window = lab.window()
    select(window, "slow")
    assert space_tab(window) == SPACE_TAB and not window.isWindowModified()
    delete_optimizer(window)
    assert space_tab(window) == SPACE_TAB_MODIFIED and window.isWindowModified()

    answer = Answer("Cancel")  # changing my mind: the edits stay, so does the experiment
    select(window, "other")
    assert answer.asked and "'slow'" in answer.text
    assert sorted(answer.buttons) == ["Cancel", "Discard", "Save"]
    assert shown_name(window) == "slow"
    assert window.list.currentIndex().row() == window.experiments.row_of(window.current_id or 0)
    assert "optimizer" not in edited_names(window) and space_tab(window) == SPACE_TAB_MODIFIED

    answer = Answer("Discard")
    select(window, "other")
    assert answer.asked and shown_name(window) == "other"
    assert space_tab(window) == SPACE_TAB and not window.isWindowModified()
    assert "optimizer" in stored_names(window, "slow")

    select(window, "slow")  # nothing edited on "other": nothing asked
    assert shown_name(window) == "slow" and "optimizer" in edited_names(window)
    delete_optimizer(window)
    answer = Answer("Save")
    select(window, "other")
    assert answer.asked and shown_name(window) == "other"
    assert "optimizer" not in stored_names(window, "slow")
    assert space_tab(window) == SPACE_TAB

    delete_optimizer(window)
    answer = Answer("Cancel")
    assert not window.close()
    assert answer.asked and "'other'" in answer.text and window.isVisible()
    answer = Answer("Discard")
    assert window.close()
    assert answer.asked and not window.isVisible()
    assert "optimizer" in stored_names(window, "other")


def test_closing_while_trials_run_can_leave_them_running_for_the_next_start(
        qtbot: QtBot, lab: Lab) -> None:
    window = lab.window()
    select(window, "slow")
    experiment_id = start(qtbot, window)

    answer = Answer("Cancel")
    assert not window.close()
    assert sorted(answer.buttons) == sorted(
        ["Stop trials and quit", "Leave them running and quit", "Cancel"])
    assert "'slow'" in answer.text and "next start" in answer.text
    assert window.isVisible() and window.workspace.is_running(experiment_id)

    answer = Answer("Leave them running and quit")
    assert not window.close(), "the window does not wait for the runs: they end off it"
    assert answer.asked and "running trials" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    store = window.workspace.store
    left = [t for t in store.list_trials(experiment_id) if t.state is TrialState.RUNNING]
    record = store.get_experiment(experiment_id)
    assert len(left) == 2 and record.state is ExperimentState.RUNNING
    assert record.driver is None, "the window let the experiment go"
    assert all(t.pid is not None and is_alive(t.pid) for t in left)
    assert any("left running" in e.message for e in store.list_events(experiment_id))

    again = lab.window(lab.open_workspace(), take_up=True)  # the next start of Sweeplab
    qtbot.waitUntil(lambda: again.workspace.is_running(experiment_id), timeout=30_000)
    qtbot.waitUntil(lambda: again.workspace.experiment(experiment_id).state
                    is ExperimentState.COMPLETED, timeout=60_000)
    trials = {t.id: t for t in again.workspace.trials(experiment_id)}
    assert all(trials[t.id].state is TrialState.COMPLETED for t in left), \
        "the trials left running were followed to their end, not run again"
    assert len(trials) == 3


def test_while_it_runs_the_space_says_which_space_runs_edits_wait_for_restart_and_delete_is_off(
        qtbot: QtBot, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    window = lab.window()
    select(window, "slow")
    editor, actions = window.panels.space, window.actions_by_name
    experiment_id = start(qtbot, window)
    qtbot.waitUntil(lambda: editor.is_read_only())

    # which space the run uses, and no edit by accident
    assert editor.banner.isVisible() and editor.banner.text() == RUN_USES_START
    assert editor.banner_button.isVisible() and editor.banner_button.text() == EDIT_FOR_RESTART
    editor.select("optimizer")
    assert not editor.delete_action.isEnabled() and not editor.add_menu.isEnabled()
    assert not actions["save"].isEnabled() and "Restart" in actions["save"].toolTip()

    # Delete: off everywhere it appears, saying why, and asks nothing
    delete_key = next(a for a in window.list.actions() if a.text() == "Delete experiment")
    for place in (actions["delete"], window.delete_button, delete_key):
        assert not place.isEnabled()
        assert "stop it before you delete it" in place.toolTip()
    asked: list[object] = []

    def ask(*args: object, **_kwargs: object) -> QMessageBox.StandardButton:
        asked.append(args)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", ask)
    window.list.setFocus()
    qtbot.keyClick(window.list, Qt.Key.Key_Delete)
    window.editing.delete()
    assert asked == [] and window.workspace.experiment(experiment_id).name == "slow"
    assert "stop it before you delete it" in window.statusBar().currentMessage()
    asked.clear()

    # editing for the next Restart is a choice; Restart applies it
    editor.banner_button.click()
    assert not editor.is_read_only() and editor.banner.text() == EDITING_FOR_RESTART
    assert not editor.banner_button.isVisible()
    delete_optimizer(window)
    assert space_tab(window) == SPACE_TAB_MODIFIED
    assert "optimizer" in stored_names(window, "slow"), "the run goes on with its space"
    assert not actions["save"].isEnabled()
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=60_000) as ended:
        actions["restart"].trigger()
    assert ended.args == ["restart", True]
    assert asked and "as you edited it" in str(asked[0])
    qtbot.waitUntil(lambda: any(t.state is TrialState.RUNNING
                                for t in window.workspace.trials(experiment_id)), timeout=30_000)
    assert "optimizer" not in stored_names(window, "slow")
    assert all("optimizer" not in t.params for t in window.workspace.trials(experiment_id))
    # the restarted experiment is read again off the GUI thread: slow on a loaded machine
    qtbot.waitUntil(lambda: space_tab(window) == SPACE_TAB and editor.is_read_only(),
                    timeout=30_000)
    assert editor.banner.text() == RUN_USES_START

    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: not window.workspace.is_running(experiment_id), timeout=30_000)
    qtbot.waitUntil(lambda: actions["delete"].isEnabled(), timeout=30_000)
    assert window.delete_button.isEnabled() and delete_key.isEnabled()
    assert not editor.is_read_only() and not editor.banner.isVisible()


def test_closing_stops_the_trials_off_the_gui_thread_and_says_what_it_waits_for(
        qtbot: QtBot, lab: Lab) -> None:
    window = lab.window()
    select(window, "slow")
    experiment_id = start(qtbot, window)

    answer = Answer("Stop trials and quit")
    began = time.perf_counter()
    assert not window.close(), "the window does not wait for the runs: they end off it"
    assert time.perf_counter() - began < 5.0
    assert answer.asked and "Stopping 2 trials" in window.statusBar().currentMessage()
    assert window.isVisible() and not window.splitter.isEnabled()
    assert not window.close(), "closing again while it waits changes nothing"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    store = window.workspace.store
    assert not window.workspace.is_running(experiment_id)
    assert all(t.state is not TrialState.RUNNING for t in store.list_trials(experiment_id))
