"""Issue 17.15 and 17.18: New starts in a folder of the user's, an empty space is said
before Start and refused by it (app and command line), and the experiment dialog's
fields and buttons stay put as validation messages come and go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.space.nodes import Space
from app.store.store import Store
from app.views.experiment_dialog import ExperimentDialog
from app.views.main_window import MainWindow
from app.views.name_dialog import NameDialog
from tests.helpers import experiment_doc, write_code
from tests.views.modal import OnModal
from tests.views.window_helpers import Answer, open_window

ROOT = Path(__file__).resolve().parents[2]
REFUSED = "no parameter is searched (the space is empty), so all 20 trials would run"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, home: Path) -> Iterator[MainWindow]:
    with open_window(qtbot, tmp_path) as win:
        yield win


def _ok_button(dialog: ExperimentDialog) -> QWidget:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_new_starts_in_the_home_folder_then_in_the_last_code_directory(
        qtbot: QtBot, window: MainWindow, home: Path, tmp_path: Path) -> None:
    assert Path.cwd() != home
    code = write_code(tmp_path / "project", "print('hi')\n")
    seen: list[str] = []

    def create(dialog: ExperimentDialog) -> None:
        seen.append(dialog.code_dir.text())
        dialog.code_dir.setText(str(code))
        qtbot.mouseClick(_ok_button(dialog), Qt.MouseButton.LeftButton)

    on = OnModal(ExperimentDialog, create)
    window.editing.new_experiment()
    on.check()
    on = OnModal(ExperimentDialog, lambda dialog: seen.append(dialog.code_dir.text()))
    window.editing.new_experiment()
    on.check()
    assert seen == [str(home), str(code)]


def test_an_empty_space_is_said_in_the_dialog_without_blocking_it(
        qtbot: QtBot, home: Path) -> None:
    dialog = ExperimentDialog(code_dir=home)
    qtbot.addWidget(dialog)
    assert _ok_button(dialog).isEnabled()  # the space is built in the Space tab next
    assert dialog.space_note.message().startswith(f"Start will refuse this: {REFUSED}")
    dialog.max_trials.setValue(1)  # one run of the script is fine
    assert dialog.space_note.message() == ""


def test_start_refuses_an_empty_space_and_says_why(qtbot: QtBot, window: MainWindow,
                                                   tmp_path: Path) -> None:
    config = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml")
    from dataclasses import replace
    window.workspace.create(replace(config, space=Space(), limits=replace(
        config.limits, max_trials=20)))
    window.reload_experiments()
    answer = Answer("OK")
    window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: answer.asked, timeout=20_000)
    assert REFUSED in answer.text
    assert window.workspace.trials(window.current_id or 0) == []
    assert not window.workspace.is_running(window.current_id or 0)


def test_sweeplab_run_refuses_an_empty_space_before_storing_anything(tmp_path: Path) -> None:
    code = write_code(tmp_path, "print('hi')\n")
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment_doc(code, space={"version": 1, "space": []},
                                              limits={"max_trials": 20})))
    db = tmp_path / "cli.db"
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{db}"}
    result = subprocess.run([sys.executable, "-m", "app", "run", str(path)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: space: {REFUSED} with the same values" in result.stderr
    with Store(f"sqlite:///{db}") as store:
        assert store.list_experiments() == []


def _positions(dialog: QWidget, widgets: list[QWidget]) -> list[tuple[int, int, int, int]]:
    out = []
    for widget in widgets:
        corner = widget.mapTo(dialog, QPoint(0, 0))
        out.append((corner.x(), corner.y(), widget.width(), widget.height()))
    return out


def test_fields_and_ok_stay_put_as_validation_messages_come_and_go(
        qtbot: QtBot, home: Path) -> None:
    dialog = ExperimentDialog(code_dir=home, title="Settings")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    watched: list[QWidget] = [dialog.name, dialog.command, dialog.code_dir, dialog.kpi_name,
                              dialog.goal, dialog.kpi_use, dialog.local_host,
                              dialog.gpus_per_trial, _ok_button(dialog)]
    before = _positions(dialog, watched)
    size = dialog.size()
    # a name and a code directory that are refused: messages under both, and in general
    dialog.name.selectAll()
    qtbot.keyClicks(dialog.name, "-bad")
    dialog.code_dir.setText(str(home / "missing"))
    dialog.kpi_name.clear()
    assert dialog._errors["name"].message() and dialog._errors["code_dir"].message()
    assert dialog._errors["kpi"].message()
    QApplication.processEvents()
    assert _positions(dialog, watched) == before
    assert dialog.size() == size
    # the click aimed at the command field, where it was, lands in the command field
    target = dialog.command.mapTo(dialog, QPoint(5, dialog.command.height() // 2))
    qtbot.mouseClick(dialog.childAt(target), Qt.MouseButton.LeftButton,
                     pos=dialog.childAt(target).mapFrom(dialog, target))
    assert dialog.command.hasFocus()
    dialog.name.setText("good")
    dialog.code_dir.setText(str(home))
    dialog.kpi_name.setText("loss")
    QApplication.processEvents()
    assert _positions(dialog, watched) == before and _ok_button(dialog).isEnabled()


def test_the_name_dialog_keeps_its_layout_as_a_message_appears(qtbot: QtBot) -> None:
    dialog = NameDialog(None, "Duplicate", "Name of the copy:", "a copy", ["taken"],
                        lambda _name: None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    before = _positions(dialog, [dialog.name, ok])
    dialog.name.setText("taken")
    QApplication.processEvents()
    assert dialog.error.message() == "an experiment named 'taken' already exists"
    assert _positions(dialog, [dialog.name, ok]) == before


def test_a_dialog_closed_is_gone_not_hidden(qtbot: QtBot, window: MainWindow) -> None:
    """Each New dialog opened stayed, hidden, with its space editor, until the window
    closed (parented to it, never deleted)."""
    for _ in range(2):
        on = OnModal(ExperimentDialog, lambda dialog: dialog.reject())
        window.editing.new_experiment()
        on.check()
    qtbot.waitUntil(lambda: window.findChildren(ExperimentDialog) == [], timeout=5_000)
