"""The new-optimisation dialog: messages beside the fields, OK only when valid."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.names import name_problem
from app.engine.schedulers import SchedulerName
from app.engine.search.base import Algorithm
from app.views.experiment_dialog import ExperimentDialog

ROOT = Path(__file__).resolve().parents[2]


def _ok(dialog: ExperimentDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_problems_show_beside_their_fields(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ExperimentDialog()
    qtbot.addWidget(dialog)
    dialog.code_dir.setText(str(tmp_path))
    assert _ok(dialog)
    dialog.code_dir.setText(str(tmp_path / "missing"))
    assert not _ok(dialog)
    assert "is not a directory" in dialog._errors["code_dir"].message()
    assert dialog._errors["code_dir"].message()
    dialog.code_dir.setText(str(tmp_path))
    dialog.kpi_name.setText("")
    assert not _ok(dialog) and "non-empty text" in dialog._errors["kpi"].message()
    dialog.kpi_name.setText("loss")
    dialog.command.setText("{python} train.py --lr {lr}")
    assert "unknown placeholder {lr}" in dialog._errors["command"].message()
    dialog.command.setText("{python} train.py")
    dialog.scheduler.setCurrentText(SchedulerName.ASHA.value)
    assert not _ok(dialog)
    assert "needs limits.max_epochs" in dialog._errors["scheduler"].message()
    dialog.max_epochs.setValue(20)
    assert _ok(dialog)
    config = dialog.config()
    assert config.scheduler.name is SchedulerName.ASHA and config.limits.max_epochs == 20


def test_an_existing_experiment_round_trips(qtbot: QtBot) -> None:
    config = load_experiment(ROOT / "examples" / "digits-mlp" / "experiment.yaml")
    dialog = ExperimentDialog(config=config, title="Settings")
    qtbot.addWidget(dialog)
    assert _ok(dialog)
    again = dialog.config()
    assert again.to_dict() == config.to_dict()


def test_tpe_random_start_shows_auto_until_chosen(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ExperimentDialog()
    qtbot.addWidget(dialog)
    dialog.code_dir.setText(str(tmp_path))
    assert dialog.initial_random.text() == "auto"
    dialog.scheduler.setCurrentText(SchedulerName.ASHA.value)
    dialog.max_epochs.setValue(9)
    config = dialog.config()
    assert config.initial_random is None and config.random_start == 5
    dialog.initial_random.setValue(12)
    assert dialog.config().random_start == 12
    reopened = ExperimentDialog(config=dialog.config(), title="Settings")
    qtbot.addWidget(reopened)
    assert reopened.initial_random.value() == 12


def test_settings_refuse_grid_for_a_continuous_space_as_it_is_chosen(qtbot: QtBot) -> None:
    """Issue 15.5: the demo's space has continuous numbers, which grid cannot count."""
    config = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml")
    dialog = ExperimentDialog(config=config, title="Settings")
    qtbot.addWidget(dialog)
    assert _ok(dialog)
    dialog.algorithm.setCurrentText(Algorithm.GRID.value)
    assert not _ok(dialog)
    error = dialog._errors["algorithm"]
    assert error.message()
    assert error.message().startswith("grid cannot search this space: x: grid search needs a step")
    dialog.algorithm.setCurrentText(Algorithm.RANDOM.value)
    assert _ok(dialog) and not error.message()


def test_a_name_breaking_the_name_rule_is_said_beside_the_name(qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    dialog = ExperimentDialog()
    qtbot.addWidget(dialog)
    dialog.code_dir.setText(str(tmp_path))
    dialog.name.setText("-rf")
    assert not _ok(dialog)
    assert dialog._errors["name"].message() == name_problem("-rf")
    dialog.name.setText("rf")
    assert _ok(dialog)
