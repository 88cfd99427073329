"""Compare 2–5 trials: rows diffed, curves overlaid per metric, and the table's way in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.data import ChartData
from app.views.compare.dialog import DIFFERS_BACKGROUND, CompareDialog, open_compare
from app.views.compare.rows import RowKind, best_index, compare_rows, series_from_points
from app.views.trials.panel import TrialsPanel
from app.views.trials.rows import Column
from app.views.trials.table import TrialTable
from devtools.screenshots.compare import render_screenshots

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
SGD = {"lr": 0.1, "optimizer": {"_name": "sgd", "momentum": 0.9}, "bn": True, "layers": 3}
ADAM = {"lr": 0.1, "optimizer": {"_name": "adam", "beta1": 0.8}, "bn": True, "layers": 1}


def trial(number: int, kpi: float | None, params: dict[str, Any],
          state: TrialState = TrialState.COMPLETED) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params=params, created_at=T0, host="local",
                       started_at=T0 + timedelta(minutes=number),
                       ended_at=T0 + timedelta(minutes=number + 2), kpi=kpi)


def curve(trial_id: int, name: str, scale: float, steps: int = 6) -> list[MetricPoint]:
    return [MetricPoint(trial_id, name, scale / (s + 1), s, float(s)) for s in range(steps)]


@pytest.fixture
def data() -> ChartData:
    data = ChartData("loss", Goal.MIN)
    data.set_trials([trial(0, 0.5, SGD), trial(1, 0.2, ADAM),
                     trial(2, 0.9, {**SGD, "lr": 0.01}), trial(3, None, SGD, TrialState.FAILED)])
    data.add_points(curve(100, "loss", 2.0) + curve(101, "loss", 1.0) + curve(102, "loss", 3.0)
                    + curve(100, "acc", 0.5) + curve(102, "acc", 0.7, steps=2))
    return data


def test_rows_mark_the_parameters_that_differ_and_the_best_kpi() -> None:
    records = [trial(0, 0.5, SGD), trial(1, 0.2, ADAM)]
    rows = {row.label: row for row in compare_rows(records, "loss", Goal.MIN)}
    assert [label for label, row in rows.items() if row.kind is RowKind.SUMMARY] == [
        "state", "loss", "duration", "started", "ended", "host", "GPUs"]
    assert rows["loss"].cells == ("0.5", "0.2") and rows["loss"].best == 1
    assert rows["duration"].cells == ("2 min 00 s", "2 min 00 s")
    assert not rows["lr"].differs and not rows["bn"].differs
    assert rows["optimizer"].differs and rows["layers"].differs
    assert rows["optimizer.momentum"].cells == ("0.9", "—")  # absent in adam's branch
    assert rows["optimizer.momentum"].differs and rows["optimizer.beta1"].differs
    maximise = {row.label: row for row in compare_rows(records, "acc", Goal.MAX)}
    assert maximise["acc"].best == 0
    one_or_true = compare_rows([trial(0, 1.0, {"x": 1}), trial(1, 1.0, {"x": True})])
    assert one_or_true[-1].differs  # True is not the number 1 here
    scored = [trial(0, None, {}), trial(1, float("nan"), {}), trial(2, 0.3, {}),
              trial(3, 0.3, {}), trial(4, 0.1, {}, TrialState.PRUNED)]
    assert best_index(scored, Goal.MIN) == 2  # the pruned one's early KPI does not compete
    assert best_index(scored[:1], Goal.MAX) is None


def test_points_are_grouped_by_trial_and_sorted_by_step() -> None:
    points = [MetricPoint(1, "loss", 0.3, 2, 0.0), MetricPoint(1, "loss", 0.9, 0, 0.0),
              MetricPoint(2, "acc", 0.1, None, 0.0), MetricPoint(2, "acc", 0.2, None, 0.0)]
    series = series_from_points(points)
    assert series[1]["loss"][0].tolist() == [0.0, 2.0]
    assert series[1]["loss"][1].tolist() == [0.9, 0.3]
    assert series[2]["acc"][0].tolist() == [0.0, 1.0]


def test_dialog_overlays_each_metric_and_highlights_differences(
        qtbot: QtBot, data: ChartData) -> None:
    dialog = CompareDialog.from_chart_data([101, 100, 102], data)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Compare trials #1, #0, #2"
    assert dialog.metric_names() == ["loss", "acc"]
    steps, values = dialog.curve_data("loss", 102)
    assert steps.tolist() == list(range(6))
    assert np.allclose(values, [3.0 / (s + 1) for s in range(6)])
    assert dialog.curve_data("acc", 102)[1].size == 2
    with pytest.raises(KeyError):
        dialog.curve_data("acc", 101)  # trial 1 reported no accuracy
    legend = dialog.plot_item("loss").legend
    assert [label.text for _, label in legend.items] == ["#1", "#0", "#2"]
    pen = dialog._curves[("loss", 102)].opts["pen"]
    assert pen.color() == dialog.trial_colour(102) == QColor("#2ca02c")
    assert dialog.table.horizontalHeaderItem(2).text() == "Trial #2"
    assert set(dialog.differing_params()) == {"lr", "optimizer", "optimizer.momentum",
                                              "optimizer.beta1", "layers"}
    labels = [row.label for row in dialog.rows]
    lr, bn, kpi = labels.index("lr"), labels.index("bn"), labels.index("loss")
    assert dialog.table.item(lr, 0).background().color() == QColor(DIFFERS_BACKGROUND)
    assert dialog.table.item(bn, 0).background().style() == Qt.BrushStyle.NoBrush
    assert dialog.table.item(kpi, 0).font().bold()  # trial #1 has the best loss
    assert not dialog.table.item(kpi, 1).font().bold()
    assert "5 of 6 parameters differ" in dialog.summary.text()
    dialog.only_differences.setChecked(True)
    shown = dialog.visible_row_labels()
    assert "bn" not in shown and "lr" in shown and "state" in shown
    dialog.only_differences.setChecked(False)
    assert "bn" in dialog.visible_row_labels()


def test_dialog_refuses_bad_selections_with_a_clear_message(
        qtbot: QtBot, data: ChartData) -> None:
    records = [trial(n, 0.1, SGD) for n in range(6)]
    with pytest.raises(ValueError, match="compare needs 2 to 5 trials, got 1"):
        CompareDialog(records[:1], {})
    with pytest.raises(ValueError, match="compare needs 2 to 5 trials, got 6"):
        CompareDialog(records, {})
    with pytest.raises(ValueError, match=r"compare got a trial twice: ids \[100, 100\]"):
        CompareDialog([records[0], records[0]], {})
    with pytest.raises(ValueError, match=r"trial ids \[999\] are not in this experiment"):
        CompareDialog.from_chart_data([100, 999], data)
    quiet = CompareDialog(records[:2], {})  # no points at all: a table and a message
    qtbot.addWidget(quiet)
    assert quiet.metric_names() == []


def select_rows(table: TrialTable, rows: list[int]) -> None:
    """Ctrl-click each row, as a user selecting several trials does."""
    for row in rows:
        rect = table.view.visualRect(table.model.index(row, Column.HOST))
        QTest.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.ControlModifier, rect.center())


def test_table_selects_several_rows_and_requests_a_compare(qtbot: QtBot) -> None:
    panel = TrialsPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.set_trials([trial(n, 0.1 * (n + 1), SGD) for n in range(7)], "loss", Goal.MIN)
    panel.show()
    qtbot.waitExposed(panel)
    table = panel.table
    button = table.compare_button
    assert not button.isEnabled()
    select_rows(table, [0])
    assert not button.isEnabled() and not table.can_compare()
    select_rows(table, [2, 4])
    assert button.isEnabled() and button.text() == "Compare selected (3)"
    with qtbot.waitSignal(panel.compareRequested, timeout=1000) as blocker:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == [[100, 102, 104]]
    menu = table.row_menu()
    compare = next(a for a in menu.actions() if a.text().startswith("Compare"))
    assert compare.isEnabled() and compare.text() == "Compare selected (3)"
    with qtbot.waitSignal(table.compareRequested, timeout=1000) as blocker:
        compare.trigger()
    assert blocker.args == [[100, 102, 104]]
    table.select_trials([100, 101, 102, 103, 104, 105])
    assert not button.isEnabled() and not table.request_compare()
    menu = table.row_menu()
    assert not next(a for a in menu.actions() if a.text().startswith("Compare")).isEnabled()
    table.view.selectionModel().select(
        table.model.index(1, 0),
        QItemSelectionModel.SelectionFlag.Deselect | QItemSelectionModel.SelectionFlag.Rows)
    assert table.selected_trials() == [100, 102, 103, 104, 105] and button.isEnabled()


def test_compare_request_opens_the_dialog_over_the_charts_data(
        qtbot: QtBot, data: ChartData) -> None:
    panel = TrialsPanel()
    qtbot.addWidget(panel)
    panel.set_trials(list(data.trials.values()), "loss", Goal.MIN)
    opened: list[CompareDialog] = []
    panel.compareRequested.connect(lambda ids: opened.append(open_compare(ids, data, panel)))
    panel.table.select_trials([100, 102])
    assert panel.table.request_compare()
    assert len(opened) == 1
    dialog = opened[0]
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    assert [r.id for r in dialog.records] == [100, 102]
    assert dialog.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.close()


def test_an_open_dialog_follows_running_trials_until_another_experiment_is_shown(
        qtbot: QtBot, data: ChartData) -> None:
    running = trial(4, None, ADAM, TrialState.RUNNING)
    data.update_trial(running)
    data.add_points(curve(104, "loss", 4.0, steps=2))
    dialog = open_compare([101, 104], data)
    qtbot.addWidget(dialog)
    assert dialog.following and dialog.curve_data("loss", 104)[0].tolist() == [0, 1]
    assert not dialog.refresh(), "nothing new"
    data.add_points([MetricPoint(104, "loss", 0.4, 2, 2.0),
                     MetricPoint(104, "val_loss", 0.6, 2, 2.0)])  # a metric new to both
    qtbot.waitUntil(lambda: dialog.curve_data("loss", 104)[0].tolist() == [0, 1, 2],
                    timeout=5000)  # the dialog's own timer
    assert dialog.metric_names() == ["loss", "val_loss"]
    assert dialog.curve_data("val_loss", 104)[1].tolist() == [0.6]
    assert dialog.curve_data("loss", 101)[0].tolist() == list(range(6))
    data.update_trial(trial(4, 0.1, ADAM))  # it completes, best of the two
    assert dialog.refresh()
    kpi_row = next(i for i, row in enumerate(dialog.rows) if row.label == "loss")
    assert dialog.rows[kpi_row].best == 1
    assert dialog.table.item(kpi_row, 1).font().bold()
    data.set_trials([trial(7, 0.3, SGD)])  # the window shows another experiment now
    assert not dialog.refresh() and not dialog.following
    assert dialog.curve_data("loss", 104)[0].tolist() == [0, 1, 2], "kept as it was"
    dialog.close()


def test_screenshots_are_written(qtbot: QtBot, tmp_path: Path) -> None:
    written = render_screenshots(tmp_path)
    assert [p.name for p in written] == ["compare.png", "importance.png"]
    for path in written:
        assert path.stat().st_size > 20_000  # a real picture, not an empty window
