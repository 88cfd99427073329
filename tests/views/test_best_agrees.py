"""The experiment list, the status bar, the grid, the table's top K and the charts name the
same best trial (the one rule of ``app.engine.best``), and mark a budget-cut trial."""

from __future__ import annotations

import math
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.live import StopReason
from app.engine.trial import TrialState
from tests.views.test_main_window import ROOT
from tests.views.window_helpers import finished_trial, open_window, wait_loaded

PARAMS = {"x": 0.1, "y": -0.2, "optimizer": {"_name": "sgd", "momentum": 0.5}}


def test_every_panel_shows_the_same_best(qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        window.workspace.create(load_experiment(ROOT / "examples" / "quadratic" /
                                              "experiment.yaml"))
        window.reload_experiments()
        exp = window.current_id or 0
        store = window.workspace.store
        best = finished_trial(window.workspace, exp, PARAMS, TrialState.COMPLETED, 0.25132)
        finished_trial(window.workspace, exp, PARAMS, TrialState.PRUNED, 0.1)  # early step
        finished_trial(window.workspace, exp, PARAMS, TrialState.COMPLETED, math.nan)
        finished_trial(window.workspace, exp, PARAMS, TrialState.COMPLETED, 0.9)
        cut = store.create_trial(exp, PARAMS)
        store.update_trial(cut.id, state=TrialState.RUNNING, host="local")
        cut = store.update_trial(cut.id, state=TrialState.STOPPED, kpi=0.01,
                                 error=StopReason.BUDGET.value)
        window.reload_experiments()
        window.show_experiment(exp)
        wait_loaded(window)

        row = window.experiments.experiment_row(window.experiments.row_of(exp) or 0)
        assert row.text.endswith("best loss 0.2513"), row.text
        status = window.status.text()
        assert "best loss 0.25132" in status, status
        assert "completed 3 · pruned 1 · failed 0 · stopped 1 (1 by the time budget)" in status
        assert window.panels.trials.grid_view.grid.best_trial() == best.id
        assert window.panels.charts.data.best_trial_id() == best.id

        table = window.panels.trials.table
        table.set_top_k(1)
        assert [table.model.trial_id(r) for r in range(table.model.rowCount())] == [best.id]
        table.set_top_k(None)
        rows = {table.model.trial_id(r): r for r in range(table.model.rowCount())}
        index = table.model.index(rows[cut.id], 1)
        assert table.model.data(index) == "stopped (time budget)"
        tip = window.panels.trials.grid_view.grid.tooltip_text(cut.id)
        assert "stopped (time budget)" in tip and f"note: {StopReason.BUDGET.value}" in tip
