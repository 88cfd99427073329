"""The main window's PBT tab over a real SQLite store: shown for a PBT experiment with
its lineage and best schedule, hidden for any other."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.records import MetricPoint
from app.engine.trial import TrialState
from tests.helpers import store_experiment
from tests.views.window_helpers import open_window, wait_loaded

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pbt_mlp"


def test_the_pbt_tab_shows_a_pbt_experiments_lineage_and_schedule(
        qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        workspace, store = window.workspace, window.workspace.store
        pbt = workspace.create(load_experiment(EXAMPLE / "experiment.yaml")).id
        first = store.create_trial(pbt, {"lr": 1.0, "units": 48, "seed": 0})
        second = store.create_trial(pbt, {"lr": 0.1, "units": 48, "seed": 0})
        store.add_segment(first.id, 0, 0, {"lr": 1.0, "units": 48, "seed": 0}, None, None)
        store.add_segment(second.id, 0, 0, {"lr": 0.1, "units": 48, "seed": 0}, None, None)
        store.update_segment(second.id, 0, end_step=4)
        store.add_segment(second.id, 1, 4, {"lr": 0.8, "units": 48, "seed": 0}, first.id, 4)
        store.update_segment(first.id, 0, end_step=8)
        store.update_segment(second.id, 1, end_step=8)
        store.add_metrics([MetricPoint(t.id, "val_acc", 0.1 * s, s, float(s))
                           for t in (first, second) for s in range(1, 9)])
        for trial, kpi in ((first, 0.8), (second, 0.85)):
            store.update_trial(trial.id, state=TrialState.RUNNING)
            store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=kpi)
        plain = store_experiment(store, tmp_path, "", name="plain")

        tab = window.tabs.indexOf(window.pbt)
        window.show_experiment(pbt)
        wait_loaded(window)
        assert window.tabs.isTabVisible(tab)
        window.tabs.setCurrentIndex(tab)
        qtbot.waitUntil(lambda: window.pbt.picture is not None, timeout=10_000)
        assert "2 trials, 3 segments, 1 exploit; best: trial 2" in window.pbt.status.text()
        schedule = window.pbt.picture.schedule if window.pbt.picture else None
        assert schedule is not None and schedule.steps("lr") == ([0, 4], [1.0, 0.8])
        assert window.pbt.export_schedule.isEnabled()

        window.show_experiment(plain)
        wait_loaded(window)
        assert not window.tabs.isTabVisible(tab) and window.pbt.picture is None
