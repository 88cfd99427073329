"""Issue 17.16: everything an experiment file can say, the app edits (Settings), opens
(File → Open experiment file…) and saves (File → Save as experiment file…) in the
format ``sweeplab run`` reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.engine import experiment as experiment_file
from app.engine.docio import load_file
from app.engine.experiment import Limits, load_experiment
from app.engine.protocol import MetricRegex
from app.engine.schedulers import SchedulerConfig, SchedulerName
from app.engine.search.base import Algorithm
from app.store.store import Store
from app.views.experiment_dialog import PROBLEM_MARK, ExperimentDialog
from app.views.help_text import reporting_html
from app.views.main_window import MainWindow
from tests.views.modal import OnModal
from tests.views.window_helpers import Answer, open_window

ROOT = Path(__file__).resolve().parents[2]


def _ok(dialog: ExperimentDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def _everything_set(tmp_path: Path) -> experiment_file.ExperimentConfig:
    """The quadratic demo with every field of the file away from its default."""
    folder = tmp_path / "quadratic"
    shutil.copytree(ROOT / "examples" / "quadratic", folder)
    config = load_experiment(folder / "experiment.yaml")
    spec = {"name": "val", "regex": r"val=([0-9.]+)", "step_regex": r"epoch=(\d+)"}
    return replace(
        config, algorithm=Algorithm.RANDOM, seed=7, initial_random=3,
        scheduler=SchedulerConfig(SchedulerName.MEDIAN, grace_period=2, reduction_factor=4,
                                  min_trials=5),
        limits=Limits(max_trials=2, max_parallel=1, max_epochs=3, max_trial_seconds=30,
                      max_seconds=600),
        gpus_per_trial=0, metric_specs=(spec,),
        metrics=(MetricRegex.compile("val", spec["regex"], spec["step_regex"]),),
        env={"QUADRATIC_EPOCH_SECONDS": "0", "OMP_NUM_THREADS": "1"},
        include_uncommitted=False, retries=2)


def test_settings_edit_every_field_of_the_experiment_file(qtbot: QtBot,
                                                          tmp_path: Path) -> None:
    config = _everything_set(tmp_path)
    dialog = ExperimentDialog(config=config, title="Settings")
    qtbot.addWidget(dialog)
    assert _ok(dialog)
    assert dialog.config().to_dict() == config.to_dict()
    # a fresh dialog's document names every field of the file, none left to a default
    fresh = ExperimentDialog()
    qtbot.addWidget(fresh)
    assert set(fresh.document()) == experiment_file._TOP
    fresh.max_epochs.setValue(5)
    fresh.max_trial_seconds.setValue(60)
    fresh.max_seconds.setValue(600)
    assert set(fresh.document()["limits"]) == experiment_file._LIMITS
    assert set(fresh.document()["scheduler"]) == {"name", "grace_period", "reduction_factor",
                                                  "min_trials"}


def test_env_metrics_retries_and_snapshot_edited_through_the_widgets(
        qtbot: QtBot, tmp_path: Path) -> None:
    config = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml")
    dialog = ExperimentDialog(config=config, title="Settings")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(3)  # Trial environment
    qtbot.mouseClick(dialog.env.add_button, Qt.MouseButton.LeftButton)
    row = dialog.env.rowCount() - 1
    dialog.env.item(row, 0).setText("CUDA_CACHE_DISABLE")
    dialog.env.item(row, 1).setText("1")
    qtbot.mouseClick(dialog.metrics.add_button, Qt.MouseButton.LeftButton)
    dialog.metrics.item(0, 0).setText("acc")
    dialog.metrics.item(0, 1).setText("acc=([0-9.]+")  # unbalanced: refused, said where
    assert not _ok(dialog)
    assert dialog._errors["metrics"].message()
    assert dialog.tabs.tabText(3) == "Trial environment" + PROBLEM_MARK
    dialog.metrics.item(0, 1).setText("acc=([0-9.]+)")
    assert _ok(dialog) and dialog.tabs.tabText(3) == "Trial environment"
    dialog.env.item(row, 0).setText("QUADRATIC_EPOCH_SECONDS")  # set twice now
    assert not _ok(dialog)
    assert dialog._errors["env"].message() == "'QUADRATIC_EPOCH_SECONDS' is set twice"
    dialog.env.item(row, 0).setText("CUDA_CACHE_DISABLE")
    dialog.retries.setValue(3)
    dialog.include_uncommitted.setChecked(False)
    dialog.max_seconds.setValue(900)
    dialog.scheduler.setCurrentText(SchedulerName.MEDIAN.value)
    dialog.min_trials.setValue(6)
    got = dialog.config()
    assert got.env == {"QUADRATIC_EPOCH_SECONDS": "0.05", "CUDA_CACHE_DISABLE": "1"}
    assert got.metric_specs == ({"name": "acc", "regex": "acc=([0-9.]+)"},)
    assert (got.retries, got.include_uncommitted, got.limits.max_seconds) == (3, False, 900)
    assert got.scheduler.min_trials == 6


def test_help_says_where_the_app_takes_metric_regexes() -> None:
    text = reporting_html("val_acc")
    assert "Settings… → Trial environment → Metric regexes" in text
    assert "File → Open experiment file…" in text


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[MainWindow]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    with open_window(qtbot, tmp_path) as win:
        yield win


def _accept(dialog: ExperimentDialog) -> None:
    QtBot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)


def test_open_an_experiment_file_creates_it_with_the_code_dir_of_the_file(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "files" / "shell"
    shutil.copytree(ROOT / "examples" / "shell-regex", folder)
    path = folder / "experiment.yaml"
    expected = load_experiment(path)
    seen: dict[str, object] = {}

    def act(dialog: ExperimentDialog) -> None:
        seen["title"] = dialog.windowTitle()
        seen["code_dir"] = dialog.code_dir.text()
        _accept(dialog)

    on = OnModal(ExperimentDialog, act)
    window.editing.open_experiment_file(path)
    on.check()
    assert seen == {"title": "New optimisation from experiment.yaml", "code_dir": str(folder)}
    stored = window.workspace.config(window.current_id or 0)
    assert stored.to_dict() == expected.to_dict()

    # opened again: its name is taken, so a copy's name is proposed
    on = OnModal(ExperimentDialog, _accept)
    window.editing.open_experiment_file(path)
    on.check()
    assert [e.name for e in window.workspace.experiments()] == ["shell-regex",
                                                                "shell-regex copy"]


def test_a_broken_experiment_file_is_refused_with_its_problems(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: bad\ncommand: 'true'\nkpi: {name: loss}\n"
                    "space: {version: 1, space: []}\nlimits: {max_trials: 0}\n")
    answer = Answer("OK")
    assert window.editing.open_experiment_file(path) is False
    assert answer.asked
    assert f"{path} cannot be used as an experiment" in answer.text
    assert "limits.max_trials" in answer.text
    assert window.workspace.experiments() == []


def test_save_as_experiment_file_is_read_back_by_sweeplab_run(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    config = _everything_set(tmp_path)
    window.workspace.create(config)
    window.reload_experiments()
    target = tmp_path / "saved" / "sweep.yaml"
    target.parent.mkdir()
    assert window.editing.save_experiment_file(target) == target
    assert str(target) in window.statusBar().currentMessage()
    assert load_file(target)["code_dir"] == "../quadratic"  # relative to the file
    assert load_experiment(target).to_dict() == config.to_dict()

    # the real command reads the same experiment from it
    db = tmp_path / "cli.db"
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "cli-home"),
           "SWEEPLAB_DB": f"sqlite:///{db}"}
    result = subprocess.run([sys.executable, "-m", "app", "run", str(target)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with Store(f"sqlite:///{db}") as store:
        [stored] = store.list_experiments()
        assert stored.definition == config.to_dict()
