"""The trial detail: curves per metric, live and searchable log, params JSON, Stop / Re-run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.schedulers import SchedulerConfig, SchedulerName
from app.engine.search.base import Goal
from app.engine.trial import EarlyStopping, TrialState
from app.views.trials.detail import TrialDetail
from app.views.trials.log_view import read_log_tail
from devtools.screenshots.trials import render_screenshots

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
PARAMS: dict[str, Any] = {"lr": 0.01, "optimizer": {"_name": "sgd", "momentum": 0.9}}
LOG = "\n".join(f"epoch={i} loss={1 / (i + 1):.3f}" for i in range(30)) + "\n"


def record(state: TrialState = TrialState.RUNNING, **changes: Any) -> TrialRecord:
    fields: dict[str, Any] = dict(id=7, experiment_id=1, number=3, state=state, params=PARAMS,
                                  created_at=T0, host="local", gpus=(1,), started_at=T0)
    fields.update(changes)
    return TrialRecord(**fields)


def points(trial_id: int = 7) -> list[MetricPoint]:
    out = [MetricPoint(trial_id, "loss", 1.0 / (s + 1), s, float(s)) for s in (2, 0, 1)]
    out += [MetricPoint(trial_id, "acc", 0.5 + s / 10, s, float(s)) for s in range(3)]
    out += [MetricPoint(trial_id, "lr_used", 0.01, None, 0.0)]
    return out


@pytest.fixture
def detail(qtbot: QtBot) -> TrialDetail:
    widget = TrialDetail(record(), points() + points(trial_id=8), LOG,
                         "python train.py --lr 0.01", "loss", Goal.MIN)
    qtbot.addWidget(widget)
    return widget


def test_one_curve_per_metric_sorted_by_step(detail: TrialDetail) -> None:
    assert detail.curve_names() == ["loss", "acc", "lr_used"]
    x, y = detail.curve_data("loss")
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert np.allclose(y, [1.0, 0.5, 1 / 3])
    assert detail.curve_data("lr_used")[0].tolist() == [0.0]  # no step: ordinal
    assert "loss 0.333333 (best 0.333333)" in detail.summary.text()


def test_live_points_are_drawn_on_the_refresh_timer(detail: TrialDetail, qtbot: QtBot) -> None:
    detail.add_points([MetricPoint(7, "loss", 0.2, 3, 3.0), MetricPoint(7, "val", 0.4, 3, 3.0),
                       MetricPoint(99, "other", 1.0, 1, 1.0)])
    assert "val" not in detail.curve_names()
    qtbot.waitUntil(lambda: "val" in detail.curve_names(), timeout=2000)
    assert detail.curve_data("loss")[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert "other" not in detail.curve_names()
    assert "loss 0.2 (best 0.2)" in detail.summary.text()


def test_log_search_counts_steps_and_wraps(detail: TrialDetail) -> None:
    log = detail.log
    log.find_box.setText("LOSS=0.0")  # case-insensitive; 0.091 … 0.033: epochs 10-29
    assert log.match_count() == 20
    assert log.matches.text() == "1 of 20"
    assert log.selected_text() == "loss=0.0"
    assert log.find_next()
    assert log.matches.text() == "2 of 20"
    assert log.find_previous() and log.find_previous()  # wraps to the last
    assert log.matches.text() == "20 of 20"
    log.find_box.setText("no such text")
    assert log.matches.text() == "no match"
    assert not log.find_next()
    assert len(log.editor.extraSelections()) == 0


def test_append_log_grows_and_updates_the_matches(detail: TrialDetail) -> None:
    detail.log.find_box.setText("epoch=3")  # epoch=3 and epoch=30..
    before = detail.log.match_count()
    detail.append_log("epoch=30 loss=0.032\nepoch=31 loss=0.031\n")
    assert detail.log.text().endswith("epoch=31 loss=0.031\n")
    assert detail.log.match_count() == before + 2
    assert len(detail.log.editor.extraSelections()) == before + 2
    detail.set_log("fresh")
    assert detail.log.text() == "fresh"


def test_params_are_pretty_copyable_json_and_the_command_is_shown(detail: TrialDetail) -> None:
    assert json.loads(detail.params_text()) == PARAMS
    assert "\n  " in detail.params_text()
    detail.copy_params()
    assert json.loads(QGuiApplication.clipboard().text()) == PARAMS
    detail.copy_command()
    assert QGuiApplication.clipboard().text() == "python train.py --lr 0.01"


def test_stop_and_rerun_emit_their_requests(detail: TrialDetail, qtbot: QtBot) -> None:
    with qtbot.waitSignal(detail.stopRequested, timeout=1000) as stop:
        detail.stop_button.click()
    assert stop.args == [7]
    detail.rerun_button.click()  # the dialog says what happens first
    dialog = detail.rerun_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.to_the_end.isVisible()  # no early stopping here: nothing to choose
    with qtbot.waitSignal(detail.rerunRequested, timeout=1000) as rerun:
        dialog.run_button.click()
    assert rerun.args == [7, EarlyStopping.EXEMPT]
    detail.set_record(record(TrialState.COMPLETED, kpi=0.3, error="exit code 1"))
    assert not detail.stop_button.isEnabled()
    assert detail.windowTitle() == "Trial 3 — completed"
    assert "exit code 1" in detail.summary.text()


def test_a_record_of_another_trial_is_refused(detail: TrialDetail) -> None:
    with pytest.raises(ValueError, match="this detail shows trial 7, not 8"):
        detail.set_record(record(id=8))


def test_read_log_tail_starts_at_a_line(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    assert read_log_tail(log) == ""
    log.write_bytes(b"first line\nsecond line\nthird \xff line\n")
    assert read_log_tail(log) == "first line\nsecond line\nthird \ufffd line\n"
    assert read_log_tail(log, max_bytes=20) == "third \ufffd line\n"
    with pytest.raises(ValueError, match="max_bytes must be positive, got 0"):
        read_log_tail(log, max_bytes=0)


def test_render_screenshots_writes_pngs(qtbot: QtBot, tmp_path: Path) -> None:
    written = render_screenshots(tmp_path / "shots")
    assert [p.name for p in written] == ["trials-grid.png", "trials-grid-hover.png",
                                         "trials-table.png", "trial-detail-metrics.png",
                                         "trial-detail-log.png"]
    assert all(p.stat().st_size > 10_000 for p in written)


@pytest.mark.parametrize("choose_scheduler", [False, True])
def test_a_rerun_under_asha_runs_to_the_end_unless_told(qtbot: QtBot,
                                                       choose_scheduler: bool) -> None:
    """Under early stopping the dialog says so and offers both ways; "to the end" is
    the default, and the choice goes out with the request. Cancel sends nothing."""
    widget = TrialDetail(record(TrialState.PRUNED), points(), LOG, "python train.py", "loss",
                         Goal.MIN, scheduler=SchedulerConfig(SchedulerName.ASHA, grace_period=2))
    qtbot.addWidget(widget)
    widget.show()
    dialog = widget.ask_rerun()
    assert "Trial 3's params run again as a new trial" in dialog.explanation.text()
    assert dialog.to_the_end.isVisible() and dialog.to_the_end.isChecked()
    assert dialog.to_the_end.text() == "Run it to the end (ASHA does not prune it)"
    assert "may be pruned from step 2" in dialog.under_scheduler.text()
    with qtbot.assertNotEmitted(widget.rerunRequested):
        dialog.reject()
    dialog = widget.ask_rerun()
    if choose_scheduler:
        dialog.under_scheduler.click()
    with qtbot.waitSignal(widget.rerunRequested, timeout=1000) as rerun:
        dialog.run_button.click()
    assert rerun.args == [7, EarlyStopping.SCHEDULED if choose_scheduler
                          else EarlyStopping.EXEMPT]


def test_each_metric_has_its_own_labelled_value_axis(detail: TrialDetail) -> None:
    """loss (about 1) and acc (about 0.6) on separate stacked plots, each scaled to its
    own values and named on its axis; they share the step axis."""
    loss, acc = detail.metric_plot("loss"), detail.metric_plot("acc")
    assert loss is not acc
    assert loss.getAxis("left").labelText == "loss (KPI)"  # the experiment's KPI
    assert acc.getAxis("left").labelText == "acc"
    assert [item.name() for item in acc.listDataItems()] == ["acc"]
    loss.getViewBox().autoRange(padding=0)
    acc.getViewBox().autoRange(padding=0)
    assert acc.getViewBox().viewRange()[1] == pytest.approx([0.5, 0.7], abs=0.01)
    assert loss.getViewBox().viewRange()[1] == pytest.approx([1 / 3, 1.0], abs=0.01)
    assert acc.getViewBox().linkedView(0) is loss.getViewBox()  # one step axis
    assert detail.metric_plot("lr_used").getAxis("bottom").labelText == "step"  # the last
    detail.set_metrics([p for p in points() if p.name == "acc"])  # a metric gone
    assert detail.curve_names() == ["acc"]
    with pytest.raises(KeyError):
        detail.metric_plot("loss")
