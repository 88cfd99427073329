"""File → Export: trials as CSV and JSON, the best trial's params.json, off the GUI thread."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.params import params_document
from app.engine.trial import TrialState
from app.views.main_window import MainWindow
from tests.views.test_main_window import ROOT
from tests.views.window_helpers import finished_trial, open_window, wait_loaded

BEST = {"x": 0.1, "y": -0.2, "optimizer": {"_name": "sgd", "momentum": 0.5}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's home folder, with a Documents folder, away from the program's cwd."""
    folder = tmp_path / "home"
    (folder / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    return folder


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, home: Path) -> Iterator[MainWindow]:
    with open_window(qtbot, tmp_path) as win:
        win.workspace.create(load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml"))
        win.reload_experiments()
        yield win


class SaveDialog:
    """Stands in for the modal save dialog: answers with the queued paths, in order,
    and records what it was asked (suggested name, filter)."""

    def __init__(self) -> None:
        self.answers: list[Path] = []
        self.asked: list[tuple[str, str]] = []

    def __call__(self, _parent: object, _title: str, suggested: str,
                 filters: str) -> tuple[str, str]:
        self.asked.append((suggested, filters))
        return str(self.answers.pop(0)), filters


@pytest.fixture
def save_as(monkeypatch: pytest.MonkeyPatch) -> SaveDialog:
    dialog = SaveDialog()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    return dialog


def with_trials(window: MainWindow) -> None:
    experiment_id = window.current_id or 0
    finished_trial(window.workspace, experiment_id, {"x": 1.0, "y": 2.0,
                   "optimizer": {"_name": "adam", "beta1": 0.9}}, TrialState.COMPLETED, 5.0)
    finished_trial(window.workspace, experiment_id, BEST, TrialState.COMPLETED, 0.05)
    finished_trial(window.workspace, experiment_id, {"x": 0.0, "y": 0.0,
                   "optimizer": {"_name": "adam", "beta1": 0.8}}, TrialState.PRUNED, 0.01)
    window.show_experiment(experiment_id)
    wait_loaded(window)


def run_action(qtbot: QtBot, window: MainWindow, name: str) -> None:
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=10_000) as ended:
        window.actions_by_name[name].trigger()
    assert ended.args == ["export", True]


def test_file_menu_lists_the_exports_and_they_need_a_selection(
        qtbot: QtBot, window: MainWindow) -> None:
    menus = {action.text(): action.menu() for action in window.menuBar().actions()}
    assert list(menus) == ["&File", "&Experiment", "&Help"]
    texts = [a.text() for a in menus["&File"].actions() if not a.isSeparator()]
    assert texts == ["&New experiment…", "&Open experiment file…",
                     "Save &as experiment file…", "Ser&vers…", "Export trials as &CSV…",
                     "Export trials as &JSON…", "Export &best params.json…", "&Quit"]
    assert window.actions_by_name["export_best"].isEnabled()
    window.current_id = None
    window._update_actions()
    for name in ("export", "export_json", "export_best"):
        assert not window.actions_by_name[name].isEnabled(), name


def test_export_trials_as_csv_and_json_from_the_file_menu(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, home: Path,
        save_as: SaveDialog) -> None:
    with_trials(window)
    save_as.answers.append(tmp_path / "out.json")
    run_action(qtbot, window, "export_json")
    # the first export offers the user's Documents folder, not the program's cwd
    assert save_as.asked == [(str(home / "Documents" / "trials.json"), "JSON (*.json)")]
    rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [row["state"] for row in rows] == ["completed", "completed", "pruned"]
    assert rows[1]["optimizer.momentum"] == 0.5 and rows[1]["loss"] == 0.05

    save_as.answers.append(tmp_path / "out.csv")
    run_action(qtbot, window, "export")
    assert save_as.asked[1] == (str(tmp_path / "trials.csv"), "CSV (*.csv)")  # the last folder
    assert not (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [row["loss"] for row in table] == ["5.0", "0.05", "0.01"]  # the KPI's name
    assert "exported 3 trials" in window.statusBar().currentMessage()


def test_best_params_json_is_the_best_completed_trials_params_file(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, home: Path,
        save_as: SaveDialog) -> None:
    with_trials(window)
    target = tmp_path / "best" / "params.json"
    target.parent.mkdir()
    save_as.answers.append(target)
    run_action(qtbot, window, "export_best")
    assert save_as.asked == [(str(home / "Documents" / "params.json"), "JSON (*.json)")]
    # the pruned trial's lower KPI does not count: it did not finish its training
    assert json.loads(target.read_text(encoding="utf-8")) == params_document(BEST)
    message = window.statusBar().currentMessage()
    assert "trial 2" in message and str(target) in message


def test_best_params_without_a_completed_trial_says_why_and_asks_no_file(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch,
        save_as: SaveDialog) -> None:
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information",
                        lambda _parent, _title, text, *rest: told.append(text))
    window.actions_by_name["export_best"].trigger()
    assert told == ["no trial has completed with a KPI value yet, so there is no best "
                    "trial to export"]
    assert save_as.asked == [] and window.run_control.tasks.busy is None


def test_a_failed_write_is_shown_and_the_window_stays_usable(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        save_as: SaveDialog) -> None:
    with_trials(window)
    warned: list[str] = []
    monkeypatch.setattr("app.views.tasks.tell",
                        lambda _parent, _title, text, *rest: warned.append(text))
    save_as.answers.append(tmp_path / "no-such-folder" / "params.json")
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=10_000) as ended:
        window.actions_by_name["export_best"].trigger()
    assert ended.args == ["export", False]
    assert len(warned) == 1 and "no-such-folder" in warned[0]
    assert window.actions_by_name["export_best"].isEnabled()


def test_exports_run_off_the_gui_thread(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with_trials(window)
    threads: list[threading.Thread] = []
    real = window.workspace.trials

    def trials(experiment_id: int) -> list[object]:
        threads.append(threading.current_thread())
        return list(real(experiment_id))

    monkeypatch.setattr(window.workspace, "trials", trials)
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=10_000):
        assert window.exports.export_best_params(tmp_path / "params.json")
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert (tmp_path / "params.json").is_file()


def test_an_export_is_confirmed_with_its_path_and_a_show_folder_button(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, save_as: SaveDialog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17.19: the status bar says where the file went and opens its folder."""
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        lambda url: opened.append(QUrl(url)) or True)
    with_trials(window)
    target = tmp_path / "results" / "trials.csv"
    target.parent.mkdir()
    save_as.answers.append(target)
    run_action(qtbot, window, "export")
    assert window.statusBar().currentMessage() == f"exported 3 trials to {target}"
    button = window.exports.show_folder
    assert button is not None and button.isVisible() and button.text() == "Show folder"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert [url.toLocalFile() for url in opened] == [str(target.parent)]
    window.statusBar().showMessage("something else")
    assert not button.isVisible()  # the button goes with its message


def test_the_last_export_folder_is_offered_after_a_relaunch(
        qtbot: QtBot, tmp_path: Path, home: Path, save_as: SaveDialog) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    with open_window(qtbot, tmp_path) as win:
        win.workspace.create(load_experiment(ROOT / "examples" / "quadratic" /
                                             "experiment.yaml"))
        win.reload_experiments()
        save_as.answers.append(folder / "mine.csv")
        run_action(qtbot, win, "export")
    with open_window(qtbot, tmp_path) as again:
        save_as.answers.append(folder / "again.csv")
        run_action(qtbot, again, "export")
    assert save_as.asked[1][0] == str(folder / "trials.csv")
