"""Issue 17.17: Duplicate proposes a name and keeps its dialog open on a refused one;
a relaunch selects the experiment used last."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.views.name_dialog import NameDialog
from tests.views.modal import OnModal
from tests.views.test_main_window import ROOT
from tests.views.window_helpers import open_window

QUADRATIC = ROOT / "examples" / "quadratic" / "experiment.yaml"


def _ok(dialog: NameDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    QtBot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_duplicate_proposes_a_copy_name_and_a_clash_keeps_the_dialog_open(
        qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        config = load_experiment(QUADRATIC)
        window.workspace.create(config)
        window.workspace.create(replace(config, name="quadratic-demo copy"))
        window.reload_experiments(select_name="quadratic-demo")
        seen: dict[str, object] = {}

        def act(dialog: NameDialog) -> None:
            seen["proposed"] = dialog.name.text()
            # another program takes the name while the dialog is open
            window.workspace.store.create_experiment("race", config.to_dict())
            dialog.name.selectAll()
            QtBot.keyClicks(dialog.name, "race")
            _ok(dialog)
            seen["open after the clash"] = dialog.isVisible()
            seen["message"] = dialog.error.message()
            seen["kept"] = dialog.name.text()
            QtBot.keyClicks(dialog.name, " 2")
            _ok(dialog)

        on = OnModal(NameDialog, act)
        window.editing.duplicate()
        on.check()
        assert seen == {"proposed": "quadratic-demo copy 2", "open after the clash": True,
                        "message": "an experiment named 'race' already exists",
                        "kept": "race"}
        assert window.workspace.experiment(window.current_id or 0).name == "race 2"


def test_a_taken_name_is_said_as_it_is_typed(qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        window.workspace.create(load_experiment(QUADRATIC))
        window.reload_experiments()

        def act(dialog: NameDialog) -> None:
            assert dialog.name.text() == "quadratic-demo copy"
            dialog.name.setText("quadratic-demo")
            assert dialog.error.message() == "an experiment named 'quadratic-demo' already exists"
            assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()

        on = OnModal(NameDialog, act)
        window.editing.duplicate()
        on.check()
        assert [e.name for e in window.workspace.experiments()] == ["quadratic-demo"]


def test_a_relaunch_selects_the_experiment_used_last(qtbot: QtBot, tmp_path: Path) -> None:
    config = load_experiment(QUADRATIC)
    with open_window(qtbot, tmp_path) as window:
        window.workspace.create(config)
        window.workspace.create(replace(config, name="second"))
        window.workspace.create(replace(config, name="third"))
        window.reload_experiments(select_name="second")
    with open_window(qtbot, tmp_path) as again:  # same database, same settings
        assert again.current_id is not None
        assert again.workspace.experiment(again.current_id).name == "second"
        assert again.list.currentIndex().data() is not None
        assert "second" in str(again.list.currentIndex().data())
