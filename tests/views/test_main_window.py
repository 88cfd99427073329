"""The main window driven as a person would: start, watch, stop, restart, resume, export."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.application.workspace import Workspace
from app.engine.experiment import load_experiment
from app.engine.trial import EarlyStopping, ExperimentState, TrialState
from app.store.store import Store
from app.views.main_window import MainWindow
from app.views.prompts import Quitting

ROOT = Path(__file__).resolve().parents[2]


def quadratic(tmp_path: Path, max_trials: int, epoch_seconds: str) -> Path:
    """A copy of the demo with fewer trials and another pause per epoch."""
    folder = tmp_path / "quadratic"
    shutil.copytree(ROOT / "examples" / "quadratic", folder)
    text = (folder / "experiment.yaml").read_text()
    text = text.replace("max_trials: 30", f"max_trials: {max_trials}")
    (folder / "experiment.yaml").write_text(text.replace('"0.05"', f'"{epoch_seconds}"'))
    return folder


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           request: pytest.FixtureRequest) -> Iterator[MainWindow]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr("app.views.main_window.ask", lambda *_a, **_k: Quitting.STOP)
    max_trials, epoch_seconds = getattr(request, "param", (6, "0.03"))
    folder = quadratic(tmp_path, max_trials, epoch_seconds)
    store = Store(f"sqlite:///{tmp_path / 'gui.db'}")
    workspace = Workspace(store, grace=1.0)
    workspace.create(load_experiment(folder / "experiment.yaml"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(workspace, "test", settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    workspace.close()
    store.close()


def _trials(window: MainWindow) -> list[TrialState]:
    return [t.state for t in window.workspace.trials(window.current_id or 0)]


def test_start_watch_stop_restart_resume_export(qtbot: QtBot, window: MainWindow,
                                                tmp_path: Path) -> None:
    assert window.experiments.rowCount() == 1
    assert window.current_id is not None
    assert window.actions_by_name["start"].isEnabled()
    assert not window.actions_by_name["stop"].isEnabled()

    window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: window.trial_count() >= 2, timeout=30_000)
    qtbot.waitUntil(lambda: TrialState.RUNNING in _trials(window), timeout=30_000)
    assert window.actions_by_name["stop"].isEnabled()
    qtbot.waitUntil(lambda: "running" in window.status.text(), timeout=10_000)
    first = window.workspace.trials(window.current_id or 0)[0]
    tip = window.panels.trials.grid_view.grid.tooltip_text(first.id)
    assert "1" in tip and "x" in tip
    detail = window.open_trial(first.id)
    assert detail is not None
    detail.close()

    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(window.current_id or 0).state
                    is ExperimentState.STOPPED, timeout=30_000)
    qtbot.waitUntil(lambda: not window.workspace.is_running(window.current_id or 0))
    assert TrialState.STOPPED in _trials(window)
    old_hash = window.workspace.experiment(window.current_id or 0).snapshot_hash

    code = Path(window.workspace.config(window.current_id or 0).code_dir)
    (code / "train.py").write_text((code / "train.py").read_text() + "\n# changed\n")
    window.actions_by_name["restart"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(window.current_id or 0).state
                    is ExperimentState.RUNNING, timeout=30_000)
    assert window.workspace.experiment(window.current_id or 0).snapshot_hash != old_hash
    qtbot.waitUntil(lambda: TrialState.RUNNING in _trials(window), timeout=30_000)
    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: not window.workspace.is_running(window.current_id or 0),
                    timeout=30_000)
    stopped = len(_trials(window))

    qtbot.waitUntil(lambda: window.actions_by_name["resume"].isEnabled())
    window.actions_by_name["resume"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(window.current_id or 0).state
                    is ExperimentState.COMPLETED, timeout=90_000)
    states = _trials(window)
    assert len(states) == 6 and states.count(TrialState.COMPLETED) == 6 - stopped + \
        states[:stopped].count(TrialState.COMPLETED)
    qtbot.waitUntil(lambda: window.trial_count() == 6)
    qtbot.waitUntil(lambda: window.panels.charts.data.trials and len(
        window.panels.charts.data.buffers.trial_ids()) >= 1, timeout=10_000)

    out = tmp_path / "export.csv"
    # as a person sees it: Export is greyed until Resume's packing task has ended (a
    # quick run may complete first, and a click on a greyed item does nothing)
    qtbot.waitUntil(lambda: window.actions_by_name["export"].isEnabled(), timeout=10_000)
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=10_000) as ended:
        assert window.export_csv(out), window.run_control.tasks.busy
    assert ended.args == ["export", True]
    with out.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 6


def test_start_is_refused_for_an_invalid_experiment_and_says_why(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window.panels, "space_validity",
                        lambda: (False, "x: min 5 > max 1"))
    window._update_actions()
    start = window.actions_by_name["start"]
    assert not start.isEnabled() and "x: min 5 > max 1" in start.toolTip()


SLOW = pytest.mark.parametrize("window", [(3, "0.3")], indirect=True)


@SLOW
def test_stop_one_trial_and_rerun_it_from_its_detail(qtbot: QtBot, window: MainWindow) -> None:
    experiment_id = window.current_id or 0
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()

    def running() -> list[int]:
        return [t.id for t in window.workspace.trials(experiment_id)
                if t.state is TrialState.RUNNING]

    qtbot.waitUntil(lambda: len(running()) == 2, timeout=30_000)
    qtbot.waitUntil(lambda: all(i in (window.live.model or ()) for i in running()),
                    timeout=10_000)
    first = running()[0]
    detail = window.open_trial(first)
    assert detail is not None
    detail.stop_button.click()
    qtbot.waitUntil(lambda: window.workspace.store.get_trial(first).state
                    is TrialState.STOPPED, timeout=30_000)
    assert window.workspace.is_running(experiment_id), "the others go on"
    detail.rerun_button.click()
    assert detail.rerun_dialog is not None
    detail.rerun_dialog.run_button.click()  # the default: to the end
    qtbot.waitUntil(lambda: any(t.rerun_of == 1 for t in window.workspace.trials(experiment_id)),
                    timeout=30_000)
    again = next(t for t in window.workspace.trials(experiment_id) if t.rerun_of == 1)
    assert again.params == window.workspace.store.get_trial(first).params
    assert again.early_stopping is EarlyStopping.EXEMPT
    detail.close()
    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: not window.workspace.is_running(experiment_id), timeout=30_000)
    qtbot.waitUntil(lambda: "stopped" in window.log.text())
    window.log.find_box.setText("stopped")
    assert window.log.match_count() >= 2  # the trial stopped by hand, then the experiment


def test_build_a_space_in_the_editor_save_it_and_run_it(qtbot: QtBot, window: MainWindow) -> None:
    from tests.views.test_space_editor_widget import build_through_the_gui

    editor = window.panels.space
    experiment_id = window.current_id or 0
    editor.select("optimizer")
    editor.delete_selected()
    editor.select("y")
    build_through_the_gui(qtbot, editor)
    steps = editor.undo_stack.count()
    while editor.undo_stack.canUndo():
        editor.undo_action.trigger()
    assert [n.name for n in editor.space().children] == ["x", "y", "optimizer"]
    while editor.undo_stack.canRedo():
        editor.redo_action.trigger()
    assert editor.undo_stack.count() == steps
    names = ["x", "y", "lr", "optimizer", "use_bn", "batch"]
    assert sorted(n.name for n in editor.space().children) == sorted(names)
    assert window.actions_by_name["save"].isEnabled()
    window.actions_by_name["save"].trigger()
    assert not editor.is_modified()
    assert window.workspace.config(experiment_id).space == editor.space()

    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(experiment_id).state
                    is ExperimentState.COMPLETED, timeout=90_000)
    trials = window.workspace.trials(experiment_id)
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETED for t in trials)
    for trial in trials:
        assert set(trial.params) == set(names)
        assert trial.params["batch"] in (16, 32, 64)
        assert trial.params["optimizer"]["_name"] in ("sgd", "adam")


def test_servers_action_opens_the_servers_window_and_the_dialog_lists_them(
        qtbot: QtBot, window: MainWindow) -> None:
    from app.remote.ssh.profile import ServerProfile
    from app.store.servers import ServerProfiles
    from app.views.servers import ServersDialog

    ServerProfiles(window.workspace.store).add(ServerProfile("gpu-box", "127.0.0.1", "me"))
    window.actions_by_name["servers"].trigger()
    dialogs = window.findChildren(ServersDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].close()
    assert window.editing.server_names() == ["gpu-box"]


def test_requeue_failed_trials_from_the_experiment_menu(qtbot: QtBot, window: MainWindow,
                                                        tmp_path: Path) -> None:
    from dataclasses import replace

    code = tmp_path / "flaky"
    code.mkdir()
    (code / "train.py").write_text(
        "import os, pathlib, sweeplab\n"
        "mark = pathlib.Path(os.environ['MARKS']) / str(sweeplab.param('x'))\n"
        "if not mark.exists():\n"
        "    mark.touch()\n"
        "    raise SystemExit(3)\n"
        "sweeplab.report('loss', 1.0)\n")
    (tmp_path / "marks").mkdir()
    base = window.workspace.config(window.current_id or 0)
    config = replace(base, name="flaky", code_dir=code, limits=replace(base.limits, max_trials=2,
                                                                       max_epochs=None),
                     env={"MARKS": str(tmp_path / "marks")})
    window.workspace.create(config)
    window.reload_experiments(select_name="flaky")
    experiment_id = window.current_id or 0
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: not window.workspace.is_running(experiment_id), timeout=60_000)
    qtbot.waitUntil(lambda: window.actions_by_name["requeue_failed"].isEnabled(), timeout=10_000)
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["requeue_failed"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(experiment_id).state
                    is ExperimentState.COMPLETED and not window.workspace.is_running(experiment_id),
                    timeout=60_000)
    trials = window.workspace.trials(experiment_id)
    assert [(t.state, t.rerun_of) for t in trials] == [
        (TrialState.FAILED, None), (TrialState.FAILED, None),
        (TrialState.COMPLETED, 1), (TrialState.COMPLETED, 2)]


def test_compare_selected_trials_opens_the_compare_dialog(qtbot: QtBot,
                                                          window: MainWindow) -> None:
    from app.views.compare import CompareDialog

    experiment_id = window.current_id or 0
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: window.workspace.experiment(experiment_id).state
                    is ExperimentState.COMPLETED, timeout=90_000)
    qtbot.waitUntil(lambda: window.trial_count() == 6)
    ids = [t.id for t in window.workspace.trials(experiment_id)[:3]]
    window.panels.trials.compareRequested.emit(ids)
    dialogs = [d for d in window.findChildren(CompareDialog) if d.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].close()


def test_the_list_follows_experiments_created_renamed_and_deleted(
        qtbot: QtBot, window: MainWindow) -> None:
    def names() -> list[str]:
        model = window.experiments
        return [model.experiment_row(row).record.name for row in range(model.rowCount())]

    first = window.current_id or 0
    copy = window.workspace.duplicate(first, "copy")
    qtbot.waitUntil(lambda: sorted(names()) == ["copy", "quadratic-demo"], timeout=5000)
    window.workspace.rename(copy.id, "renamed")
    qtbot.waitUntil(lambda: sorted(names()) == ["quadratic-demo", "renamed"], timeout=5000)
    window.workspace.delete(copy.id)
    qtbot.waitUntil(lambda: names() == ["quadratic-demo"], timeout=5000)
    assert window.current_id == first
