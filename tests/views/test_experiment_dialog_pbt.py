"""The settings dialog's population-based training fields: set, checked beside their
field, round-tripped with what the dialog does not show (factors, PBT seed)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.engine.experiment import ExperimentConfig, experiment_from_dict
from app.engine.schedulers import SchedulerName
from app.engine.schedulers.pbt import Mutation, MutationKind
from app.views.experiment_dialog import ExperimentDialog

SPACE = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "uniform",
     "min": 0.01, "max": 1.0, "default": 0.1},
    {"name": "act", "type": "choice", "kind": "strings", "auto": True,
     "values": ["relu", "tanh"], "default": "relu"},
    {"name": "model", "type": "choice", "kind": "groups", "auto": True, "default": "a",
     "values": [{"name": "a", "type": "group", "children": []},
                {"name": "b", "type": "group", "children": []}]}]}


def _ok(dialog: ExperimentDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def _config(tmp_path: Path, **scheduler: object) -> ExperimentConfig:
    doc = {"version": 1, "name": "pbt", "code_dir": str(tmp_path), "command": "true",
           "kpi": {"name": "acc", "goal": "max"}, "space": SPACE,
           "algorithm": {"name": "random"}, "limits": {"max_parallel": 4, "max_epochs": 9},
           "scheduler": scheduler or {"name": "fifo"}}
    return experiment_from_dict(doc, tmp_path)


def test_pbt_is_set_in_the_dialog_and_refusals_show_beside_the_field(
        qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ExperimentDialog(config=_config(tmp_path), title="Settings")
    qtbot.addWidget(dialog)
    assert not dialog.pbt_mutations.isEnabled()
    dialog.scheduler.setCurrentText(SchedulerName.PBT.value)
    assert dialog.pbt_mutations.isEnabled() and not dialog.grace_period.isEnabled()
    assert not _ok(dialog)
    assert "at least one parameter to mutate" in dialog._errors["scheduler.mutations"].message()
    dialog.pbt_mutations.setText("lr=perturb, model=resample")
    assert not _ok(dialog)
    assert "PBT cannot swap architectures" in dialog._errors["scheduler.mutations"].message()
    dialog.pbt_mutations.setText("lr, act=neighbours")
    dialog.pbt_interval.setValue(3)
    assert _ok(dialog), {k: e.message() for k, e in dialog._errors.items() if e.message()}
    config = dialog.config()
    assert config.scheduler.name is SchedulerName.PBT
    assert config.scheduler.pbt.interval == 3 and config.limits.max_parallel == 4
    assert config.scheduler.pbt.mutation_map == {
        "lr": Mutation(MutationKind.PERTURB), "act": Mutation(MutationKind.NEIGHBOURS)}


def test_a_pbt_experiment_round_trips_with_what_the_dialog_does_not_show(
        qtbot: QtBot, tmp_path: Path) -> None:
    config = _config(tmp_path, name="pbt", interval=2, quantile=0.2, seed=7,
                     resample_probability=0.1,
                     mutations={"lr": {"kind": "perturb", "factors": [0.5, 2.0]}})
    dialog = ExperimentDialog(config=config, title="Settings")
    qtbot.addWidget(dialog)
    assert dialog.pbt_mutations.text() == "lr=perturb"
    assert _ok(dialog)
    assert dialog.config().to_dict() == config.to_dict()
