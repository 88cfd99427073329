"""Every panel follows the shown experiment's live model: changing experiment resets
them all, a trial's end reaches its open detail, and a stop shows "stopping…" from the
click until the process is gone (issue 16's stale cases, issue 17.9 and 17.13)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.application.live import STOPPING
from app.engine.best import TrialTally
from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.experiment import ExperimentConfig, load_experiment
from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import ExperimentState, TrialState
from app.views.main_window import MainWindow
from app.views.trials.detail import TrialDetail
from tests.views.test_main_window import ROOT, quadratic
from tests.views.window_helpers import finished_trial, open_window, wait_loaded

PARAMS = {"x": 0.1, "y": -0.2, "optimizer": {"_name": "sgd", "momentum": 0.5}}


def demo(name: str, tmp_path: Path | None = None, **limits: int | None) -> ExperimentConfig:
    """The quadratic demo under ``name``; with ``tmp_path``, a copy whose epochs take
    0.3 s (long enough to click Stop while trials run)."""
    folder = quadratic(tmp_path, 3, "0.3") if tmp_path is not None else ROOT / "examples" / \
        "quadratic"
    config = load_experiment(folder / "experiment.yaml")
    if limits:
        config = dataclasses.replace(config, limits=dataclasses.replace(config.limits,
                                                                         **limits))
    return dataclasses.replace(config, name=name)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[MainWindow]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    with open_window(qtbot, tmp_path) as win:
        yield win


def select(window: MainWindow, experiment_id: int) -> None:
    """Click the experiment's row in the list, as a person would."""
    row = window.experiments.row_of(experiment_id)
    assert row is not None
    window.list.setCurrentIndex(window.experiments.index(row))
    assert window.current_id == experiment_id
    wait_loaded(window)


def reload(window: MainWindow) -> None:
    """The list read again (the shown experiment loaded again, off the GUI thread)."""
    window.reload_experiments()
    wait_loaded(window)


def kpi_title(window: MainWindow) -> str:
    label = window.panels.charts.curves.plot_item.titleLabel
    return label.text if label.isVisible() else ""


def list_text(window: MainWindow, experiment_id: int) -> str:
    return window.experiments.experiment_row(window.experiments.row_of(experiment_id) or 0).text


def two_experiments(window: MainWindow, trials: int) -> tuple[int, int]:
    """``with-trials`` holding ``trials`` completed trials, and ``empty`` with none."""
    full = window.workspace.create(demo("with-trials")).id
    empty = window.workspace.create(demo("empty")).id
    for number in range(trials):
        finished_trial(window.workspace, full, PARAMS, TrialState.COMPLETED, 0.5 + number / 100)
    reload(window)
    return full, empty


def test_the_kpi_title_of_one_experiment_does_not_stay_on_one_without_trials(
        qtbot: QtBot, window: MainWindow) -> None:
    full, empty = two_experiments(window, 3)
    window.tabs.setCurrentWidget(window.panels.charts)
    select(window, full)
    window.panels.charts.refresh()
    assert kpi_title(window).startswith("best: trial #1, loss = 0.5")
    select(window, empty)
    window.panels.charts.refresh()
    assert kpi_title(window) == ""


def test_compare_is_off_and_uncounted_on_an_experiment_without_trials(
        qtbot: QtBot, window: MainWindow) -> None:
    full, empty = two_experiments(window, 3)
    window.tabs.setCurrentWidget(window.panels.trials)
    select(window, full)
    table = window.panels.trials.table
    table.select_trials([t.id for t in window.held_trials()])
    assert table.compare_button.isEnabled()
    assert table.compare_button.text() == "Compare selected (3)"
    select(window, empty)
    assert not table.compare_button.isEnabled()
    assert table.compare_button.text() == "Compare selected"


def test_the_list_row_and_the_status_bar_say_the_same_after_trials_ended_elsewhere(
        qtbot: QtBot, window: MainWindow) -> None:
    """As after a re-attach: trials of an experiment not shown ended meanwhile (stored,
    no event reached this window); shown, its row and the status bar agree."""
    full, empty = two_experiments(window, 0)
    select(window, empty)
    assert "0 done" in list_text(window, full)
    finished_trial(window.workspace, full, PARAMS, TrialState.COMPLETED, 0.84)
    finished_trial(window.workspace, full, PARAMS, TrialState.COMPLETED, 0.9)
    select(window, full)
    assert "completed 2" in window.status.text() and "best loss 0.84" in window.status.text()
    assert "2 done" in list_text(window, full), list_text(window, full)
    assert list_text(window, full).endswith("best loss 0.84")


def test_the_row_of_an_experiment_run_while_another_is_shown_follows_its_run_off_the_gui_thread(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its state events re-read its row with the list, on a worker: the counts are an
    aggregate over every experiment's trials, never read on the GUI thread here."""
    shown, _empty = two_experiments(window, 0)
    select(window, shown)
    tallies = window.workspace.tallies

    def counted() -> dict[int, TrialTally]:
        assert threading.current_thread() is not threading.main_thread(), \
            "every experiment's counts read on the GUI thread"
        return tallies()

    monkeypatch.setattr(window.workspace, "tallies", counted)
    config = demo("other-run", max_trials=2, max_parallel=2)
    other = window.workspace.create(config).id
    window.summaries.read()
    qtbot.waitUntil(lambda: window.experiments.row_of(other) is not None, timeout=10_000)
    window.workspace.start(other)
    assert window.workspace.wait(other, 120)
    qtbot.waitUntil(lambda: "2 done" in list_text(window, other), timeout=10_000)
    assert list_text(window, other).startswith("other-run"), list_text(window, other)
    assert window.current_id == shown


def test_importance_counts_the_trials_completed_after_it_was_drawn(
        qtbot: QtBot, window: MainWindow) -> None:
    full = window.workspace.create(demo("with-trials")).id
    for number in range(10):
        finished_trial(window.workspace, full, {**PARAMS, "x": number / 10},
                       TrialState.COMPLETED, 0.5 + number / 100)
    reload(window)
    select(window, full)
    charts = window.panels.charts
    window.tabs.setCurrentWidget(charts)
    charts.tabs.setCurrentWidget(charts.importance)
    status = charts.importance.status
    qtbot.waitUntil(lambda: "from 10 completed trials." in status.text(), timeout=60_000)
    for number in range(2):  # two more end while the chart is shown
        record = finished_trial(window.workspace, full, {**PARAMS, "y": number / 10},
                                TrialState.COMPLETED, 0.7 + number / 100)
        window.bridge.on_event(_trial_event(record))  # as the runner publishes it
    # at once: the count follows, while the forest is recomputed when the pause allows
    qtbot.waitUntil(lambda: "12 have completed now" in status.text(), timeout=2_000)
    qtbot.waitUntil(lambda: "from 12 completed trials." in status.text(), timeout=120_000)
    assert "completed 12" in window.status.text()


def _trial_event(record: TrialRecord) -> RunnerEvent:
    return RunnerEvent(RunnerEventKind.TRIAL, record.experiment_id, trial=record)


def test_a_trial_detail_follows_its_trial_and_stop_shows_stopping_until_it_ended(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    # no max epochs: the tile's total can only be the one the trial reports
    experiment = window.workspace.create(demo("slow", tmp_path, max_epochs=None)).id
    reload(window)
    select(window, experiment)
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    model = window.live.model
    assert model is not None
    qtbot.waitUntil(lambda: any(t.state is TrialState.RUNNING for t in model.trials()),
                    timeout=30_000)
    running = next(t for t in model.trials() if t.state is TrialState.RUNNING)
    detail = window.open_trial(running.id)
    assert detail is not None and detail.state_text() == "running"
    # progress with the trial's own total (sweeplab.progress(epoch, 20)) on its tile
    grid = window.panels.trials.grid_view.grid
    qtbot.waitUntil(lambda: "of 20" in grid.tooltip_text(running.id), timeout=20_000)
    assert model.progress(running.id).total == 20 and model.default_total is None
    qtbot.mouseClick(detail.stop_button, Qt.MouseButton.LeftButton)
    # from the click: the detail, the tile and the row say stopping…
    assert detail.state_text() == STOPPING and not detail.stop_button.isEnabled()
    assert grid.is_stopping(running.id)
    assert f"Trial {running.number} — {STOPPING}" in grid.tooltip_text(running.id)
    table = window.panels.trials.table.model
    state_cell = table.index(table.row_of(running.id) or 0, 1)
    assert table.data(state_cell) == STOPPING
    # until the process is gone: then every view of it says how it ended
    qtbot.waitUntil(lambda: detail.state_text() == "stopped", timeout=20_000)
    assert not detail.stop_button.isEnabled()
    assert "stopped" in detail.summary.text() and "running" not in detail.summary.text()
    assert not grid.is_stopping(running.id) and table.data(state_cell) == "stopped"
    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: not window.workspace.is_running(experiment), timeout=30_000)


def test_stop_shows_stopping_on_the_toolbar_and_every_trial_until_the_run_ended(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    experiment = window.workspace.create(demo("slow", tmp_path)).id
    reload(window)
    select(window, experiment)
    stop = window.actions_by_name["stop"]
    assert "budget" in stop.toolTip()
    for name in ("pause", "resume", "restart"):
        tip = window.actions_by_name[name].toolTip()
        assert "running trials" in tip.lower() or "trials" in tip, (name, tip)
        assert "budget" in tip, (name, tip)
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    model = window.live.model
    assert model is not None
    qtbot.waitUntil(lambda: sum(t.state is TrialState.RUNNING for t in model.trials()) == 2,
                    timeout=30_000)
    running = [t.id for t in model.trials() if t.state is TrialState.RUNNING]
    stop.trigger()
    assert stop.iconText() == STOPPING.capitalize() and not stop.isEnabled()
    assert STOPPING in window.status.text()
    grid = window.panels.trials.grid_view.grid
    assert all(grid.is_stopping(trial_id) for trial_id in running)
    qtbot.waitUntil(lambda: window.workspace.experiment(experiment).state
                    is ExperimentState.STOPPED, timeout=30_000)
    qtbot.waitUntil(lambda: stop.iconText() == "Stop", timeout=5_000)
    assert STOPPING not in window.status.text()
    assert not any(grid.is_stopping(trial_id) for trial_id in running)


def test_a_closed_trial_updates_its_open_detail_within_a_second(
        qtbot: QtBot, window: MainWindow) -> None:
    """Not "running · 9.8 s" forever: the detail of a trial that ends elsewhere (the
    window only follows events) shows its end and turns its Stop button off."""
    experiment = window.workspace.create(demo("followed")).id
    store = window.workspace.store
    record = store.create_trial(experiment, PARAMS)
    record = store.update_trial(record.id, state=TrialState.RUNNING, host="local")
    reload(window)
    select(window, experiment)
    detail = window.open_trial(record.id)
    assert detail is not None and detail.stop_button.isEnabled()
    ended = store.update_trial(record.id, state=TrialState.COMPLETED, kpi=0.3)
    window.bridge.on_event(_trial_event(ended))  # as a runner would
    qtbot.waitUntil(lambda: detail.windowTitle().endswith("— completed"), timeout=1_000)
    assert not detail.stop_button.isEnabled()
    assert "completed" in detail.summary.text() and "running" not in detail.summary.text()
    window.bridge.on_event(_metrics_event(experiment, record.id))
    qtbot.waitUntil(lambda: "loss" in detail.curve_names(), timeout=1_000)


def _metrics_event(experiment_id: int, trial_id: int) -> RunnerEvent:
    return RunnerEvent(RunnerEventKind.METRICS, experiment_id,
                       metrics=(MetricPoint(trial_id, "loss", 0.3, 1, 0.0),))


def test_a_closed_trial_detail_is_gone_not_hidden(qtbot: QtBot, window: MainWindow) -> None:
    """Every detail opened in a session stayed, hidden, until the window closed (its
    curves and log with it); closed, it is destroyed, and opening it again makes one."""
    full, empty = two_experiments(window, 2)
    select(window, full)
    first = window.held_trials()[0].id
    detail = window.open_trial(first)
    assert detail is not None and detail.isVisible()
    destroyed: list[bool] = []
    detail.destroyed.connect(lambda *_: destroyed.append(True))
    detail.close()
    qtbot.waitUntil(lambda: destroyed == [True], timeout=5_000)
    assert window.findChildren(TrialDetail) == []
    again = window.open_trial(first)
    assert again is not None and again.isVisible()
    window.show_experiment(empty)  # another experiment: its details close, and go
    qtbot.waitUntil(lambda: window.findChildren(TrialDetail) == [], timeout=5_000)
