"""Top-K in the Trials table and the Charts panel; user-chosen columns; start and end times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QSettings, Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.application.analysis.ranking import best_trial_ids
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.panel import ChartsPanel
from app.views.trials.columns import ColumnChoices
from app.views.trials.rows import Column, TrialFilter
from app.views.trials.table import TrialTable
from app.views.trials.table_model import TrialTableModel
from app.views.trials.text import format_time

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
ASC = Qt.SortOrder.AscendingOrder
# trial number -> KPI; 1 is pruned (its early KPI must not count), 4 failed
KPIS = {0: 0.5, 1: 0.01, 2: 0.3, 3: 0.9, 4: None, 5: 0.1, 6: 0.7}


def trial(number: int, kpi: float | None, state: TrialState = TrialState.COMPLETED,
          params: dict[str, Any] | None = None, experiment: int = 1) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=experiment, number=number, state=state,
                       params={"lr": 0.01 * (number + 1)} if params is None else params,
                       created_at=T0, host="local",
                       started_at=T0 + timedelta(minutes=number),
                       ended_at=(T0 + timedelta(minutes=3 * number + 1)
                                 if state.is_finished() else None), kpi=kpi)


def run() -> list[TrialRecord]:
    states = {1: TrialState.PRUNED, 4: TrialState.FAILED}
    return [trial(n, k, states.get(n, TrialState.COMPLETED)) for n, k in KPIS.items()]


def ids(model: TrialTableModel) -> list[int]:
    return [model.trial_id(r) for r in range(model.rowCount())]


@pytest.fixture
def model(qtbot: QtBot) -> Iterator[TrialTableModel]:
    model = TrialTableModel(resort_ms=10)
    tester = QAbstractItemModelTester(model,
                                      QAbstractItemModelTester.FailureReportingMode.Fatal)
    yield model
    del tester


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "sweeplab.ini"), QSettings.Format.IniFormat)


# --- top K in the table --------------------------------------------------------------------


def test_top_k_keeps_the_best_completed_trials_for_the_goal(model: TrialTableModel) -> None:
    model.set_trials(run(), "loss", Goal.MIN)
    model.set_top_k(3)
    assert sorted(ids(model)) == [100, 102, 105]  # 0.5, 0.3, 0.1; pruned 0.01 does not count
    model.set_trials(run(), "acc", Goal.MAX)
    assert model.top_k() == 3
    assert sorted(ids(model)) == [100, 103, 106]
    model.set_filter({TrialState.COMPLETED}, "0.9")  # states and text filter the top K
    assert ids(model) == [103]
    model.set_filter()
    model.set_top_k(None)
    assert model.rowCount() == len(KPIS)
    with pytest.raises(ValueError, match="top K needs K >= 1"):
        model.set_top_k(0)
    with pytest.raises(ValueError, match="top K needs K >= 1"):
        TrialFilter(top_k=-2)


def test_a_finishing_trial_pushes_another_out_of_the_top_k(
        model: TrialTableModel, qtbot: QtBot) -> None:
    model.set_trials(run(), "loss", Goal.MIN)
    model.sort(Column.KPI, ASC)
    model.set_top_k(2)
    assert ids(model) == [105, 102]
    kept = model.index(0, Column.HOST)
    model.update_trial(trial(7, None, TrialState.RUNNING))
    model.flush()
    assert ids(model) == [105, 102]  # a running trial has no rank
    model.update_trial(trial(7, 0.05))
    qtbot.waitUntil(lambda: ids(model) == [107, 105], timeout=2000)
    assert kept.isValid()
    model.update_trial(trial(7, 0.05, TrialState.COMPLETED, params={"lr": 0.2, "wd": 0.1}))
    model.flush()
    assert model.header_names()[-1] == "wd" and ids(model) == [107, 105]


@pytest.mark.parametrize("k", [5, 50, 100])  # 100: so many runs the model resets
def test_top_k_of_many_scattered_rows_matches_the_ranking(model: TrialTableModel,
                                                          k: int) -> None:
    rng = np.random.default_rng(4)
    records = [trial(n, float(v)) for n, v in enumerate(rng.random(300))]
    model.set_trials(records, "loss", Goal.MAX)
    model.sort(Column.NUMBER, ASC)  # the top K lie scattered: many runs of rows leave
    model.set_top_k(k)
    expected = best_trial_ids(records, Goal.MAX, k)
    assert ids(model) == sorted(expected)
    model.set_top_k(None)
    assert ids(model) == [r.id for r in records]


def test_table_widget_top_k_box_shows_the_best_first_and_keeps_selection(
        qtbot: QtBot) -> None:
    table = TrialTable()
    qtbot.addWidget(table)
    table.set_trials(run(), "loss", Goal.MIN)
    table.show()
    qtbot.waitExposed(table)
    table.select_trials([102, 105])
    table.top_k_box.setCurrentIndex(table.top_k_box.findText("top 5"))
    assert table.model.top_k() == 5
    assert ids(table.model) == [105, 102, 100, 106, 103]  # best first
    assert table.selected_trials() == [105, 102]
    assert table.filter_bar.count.text() == "5 of 7 trials"
    table.set_top_k(None)
    assert table.top_k_box.currentText() == "all trials"
    assert table.model.rowCount() == 7


# --- top K in the charts -------------------------------------------------------------------


def test_charts_draw_only_the_top_k_trials(qtbot: QtBot) -> None:
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.set_experiment("loss", Goal.MIN)
    records = [*run(), trial(9, None, TrialState.RUNNING)]
    panel.set_trials(records)
    panel.add_points([MetricPoint(r.id, "loss", 1.0 / (s + 1), s, 0.0)
                      for r in records for s in range(4)])
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh_all()
    assert set(panel.curves._finished_drawn) == {100, 101, 102, 103, 104, 105, 106}
    assert panel.curves.running_item.trial_ids() == [109]
    panel.top_k_box.setCurrentIndex(panel.top_k_box.findText("top 5"))
    panel.refresh_all()
    assert panel.data.top_k == 5
    assert set(panel.curves._finished_drawn) == {100, 102, 103, 105, 106}
    panel.set_top_k(2)  # not a choice of the box, but allowed
    panel.refresh_all()
    assert set(panel.curves._finished_drawn) == {105, 102}
    assert panel.curves.running_item.trial_ids() == [109], "running curves stay in view"
    assert panel.parallel.line_count == 2
    assert set(panel.scatter.plotted()[2].tolist()) == {105, 102}
    assert len(panel.best.number_dots.getData()[0]) == 5  # best so far keeps every trial
    panel.update_trial(trial(9, 0.05))  # finishes best of all: 102 leaves the top 2
    panel.refresh_all()
    assert set(panel.curves._finished_drawn) == {109, 105}
    assert set(panel.parallel.lines().ids.tolist()) == {109, 105}
    panel.set_top_k(None)
    panel.refresh_all()
    assert panel.top_k_box.currentText() == "all trials"
    assert len(panel.curves._finished_drawn) == 8
    with pytest.raises(ValueError, match="top K needs K >= 1"):
        panel.set_top_k(0)


# --- columns -------------------------------------------------------------------------------


def test_start_and_end_time_columns_show_and_sort(model: TrialTableModel) -> None:
    model.set_trials(run(), "loss")
    headers = model.header_names()
    assert headers[Column.STARTED] == "started" and headers[Column.ENDED] == "ended"
    assert model.data(model.index(3, Column.ENDED)) == format_time(T0 + timedelta(minutes=10))
    model.update_trial(trial(8, None, TrialState.RUNNING))
    assert model.data(model.index(7, Column.ENDED)) == "—"
    model.sort(Column.ENDED, Qt.SortOrder.DescendingOrder)
    assert ids(model)[0] == 106 and ids(model)[-1] == 108  # not ended yet: last
    assert [model.column_key(c) for c in (Column.KPI, Column.ENDED, 8)] == [
        "kpi", "ended", "param:lr"]
    assert model.column_of("param:lr") == 8 and model.column_of("param:nope") is None
    assert model.column_of("started") == Column.STARTED and model.column_of("bogus") is None


def test_header_menu_hides_columns_and_remembers_them_per_experiment(
        qtbot: QtBot, settings: QSettings) -> None:
    choices = ColumnChoices(settings)
    table = TrialTable(column_choices=choices)
    qtbot.addWidget(table)
    table.set_trials(run(), "loss", Goal.MIN)
    menu = table.column_menu()
    entries = {a.data(): a for a in menu.actions() if a.isCheckable()}
    assert list(entries) == ["number", "state", "kpi", "duration", "host", "gpus", "started",
                             "ended", "param:lr"]
    assert all(a.isChecked() for a in entries.values())
    assert not entries["number"].isEnabled()
    entries["host"].setChecked(False)
    entries["param:lr"].setChecked(False)
    assert table.view.isColumnHidden(Column.HOST) and table.view.isColumnHidden(8)
    assert choices.hidden("1") == {"host", "param:lr"}
    table.filter_bar.text.setText("0.")  # a model reset keeps the choice
    assert table.view.isColumnHidden(Column.HOST)
    table.set_trials([trial(0, 0.2, experiment=2)], "loss")  # another experiment
    assert not table.view.isColumnHidden(Column.HOST)
    settings.sync()
    again = TrialTable(column_choices=ColumnChoices(
        QSettings(settings.fileName(), QSettings.Format.IniFormat)))
    qtbot.addWidget(again)
    again.set_trials([], "loss", experiment="1")  # no trials yet; a param arrives later
    assert again.view.isColumnHidden(Column.HOST)
    again.update_trial(trial(3, 0.1))
    assert again.view.isColumnHidden(again.model.column_of("param:lr"))
    show_all = next(a for a in again.column_menu().actions() if a.text() == "Show all columns")
    show_all.trigger()
    assert again.hidden_columns() == frozenset() and not again.view.isColumnHidden(Column.HOST)
    assert again.model.rowCount() == 1


def test_column_choices_refuse_bad_input_and_survive_bad_settings(
        settings: QSettings, qtbot: QtBot) -> None:
    choices = ColumnChoices(settings)
    with pytest.raises(ValueError, match="column 'number' is always shown"):
        choices.set_hidden("1", ["number", "host"])
    with pytest.raises(ValueError, match="need an experiment key"):
        choices.hidden("")
    settings.setValue("trials_table/hidden_columns/7", "{not json")
    assert choices.hidden("7") == frozenset()
    choices.set_hidden("7", ["kpi"])
    assert choices.hidden("7") == {"kpi"}
    choices.set_hidden("7", [])
    assert not settings.contains("trials_table/hidden_columns/7")
    table = TrialTable()
    qtbot.addWidget(table)
    with pytest.raises(ValueError, match="column 'number' is always shown"):
        table.set_column_visible("number", False)


def test_selection_is_rows_and_many_at_once(qtbot: QtBot) -> None:
    table = TrialTable()
    qtbot.addWidget(table)
    table.set_trials(run(), "loss")
    selection = table.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (1, 3, 5):
        selection.select(table.model.index(row, 0), flags)
    assert table.selected_trials() == [101, 103, 105]
    assert np.all([table.view.selectionModel().isRowSelected(r) for r in (1, 3, 5)])
