"""The trial table: model checked by QAbstractItemModelTester, numpy sort, filters, widget."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester, QTest
from pytestqt.qtbot import QtBot

from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.views.trials.rows import Column, TrialFilter, TrialRows
from app.views.trials.table import TrialTable
from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def trial(number: int, state: TrialState = TrialState.COMPLETED, kpi: float | None = None,
          params: dict[str, Any] | None = None, **changes: Any) -> TrialRecord:
    fields: dict[str, Any] = dict(
        id=100 + number, experiment_id=1, number=number, state=state,
        params={"lr": 0.1 * (number + 1)} if params is None else params, created_at=T0,
        host="local", started_at=T0 + timedelta(seconds=number),
        ended_at=T0 + timedelta(seconds=2 * number + 1) if state.is_finished() else None,
        kpi=kpi)
    fields.update(changes)
    return TrialRecord(**fields)


@pytest.fixture
def model(qtbot: QtBot) -> Iterator[TrialTableModel]:
    model = TrialTableModel(resort_ms=10, tick_ms=50)
    tester = QAbstractItemModelTester(model,
                                      QAbstractItemModelTester.FailureReportingMode.Fatal)
    yield model
    del tester


def column_texts(model: TrialTableModel, column: int) -> list[str]:
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def ids(model: TrialTableModel) -> list[int]:
    return [model.trial_id(r) for r in range(model.rowCount())]


KPIS = [0.5, None, 0.1, 0.9, float("nan"), 0.3]


def test_columns_are_fixed_then_every_dotted_param_as_it_appears(model: TrialTableModel) -> None:
    model.set_trials([trial(0, params={"lr": 0.1, "opt": {"_name": "sgd", "momentum": 0.9}})],
                     "val_loss")
    assert model.header_names() == ["#", "state", "val_loss", "duration", "host", "GPUs",
                                    "started", "ended", "lr", "opt", "opt.momentum"]
    model.update_trial(trial(1, params={"lr": 0.2, "opt": {"_name": "adam", "beta1": 0.8}}))
    assert model.header_names()[-1] == "opt.beta1"
    assert column_texts(model, 9) == ["sgd", "adam"]
    assert column_texts(model, 10) == ["0.9", ""]
    assert column_texts(model, 11) == ["", "0.8"]
    assert model.data(model.index(1, 0), TRIAL_ID_ROLE) == 101


def test_sort_by_kpi_both_directions_with_missing_last(model: TrialTableModel) -> None:
    model.set_trials([trial(n, kpi=k) for n, k in enumerate(KPIS)], "loss")
    model.sort(Column.KPI, ASC)
    assert column_texts(model, Column.KPI)[:4] == ["0.1", "0.3", "0.5", "0.9"]
    assert set(ids(model)[4:]) == {101, 104}
    model.sort(Column.KPI, DESC)
    assert column_texts(model, Column.KPI)[:4] == ["0.9", "0.5", "0.3", "0.1"]
    assert set(ids(model)[4:]) == {101, 104}
    model.sort(-1, ASC)
    assert ids(model) == [100, 101, 102, 103, 104, 105]


def test_sort_text_and_mixed_param_columns(model: TrialTableModel) -> None:
    records = [trial(0, host="b"), trial(1, host=None), trial(2, host="A"),
               trial(3, params={"act": "relu", "lr": 0.3}),
               trial(4, params={"act": 7, "lr": 0.01})]
    model.set_trials(records, "loss")
    model.sort(Column.HOST, ASC)
    assert column_texts(model, Column.HOST)[:3] == ["A", "b", "local"]
    assert column_texts(model, Column.HOST)[-1] == "—"
    model.sort(Column.HOST, DESC)
    assert column_texts(model, Column.HOST)[0] == "local"
    assert column_texts(model, Column.HOST)[-1] == "—"
    lr, act = model.header_names().index("lr"), model.header_names().index("act")
    model.sort(lr, DESC)
    assert column_texts(model, lr) == ["0.3", "0.3", "0.2", "0.1", "0.01"]
    model.sort(act, ASC)  # a string among the values: sorted as text, empty cells last
    assert column_texts(model, act) == ["7", "relu", "", "", ""]
    assert model.data(model.index(0, lr), Qt.ItemDataRole.TextAlignmentRole) is not None
    assert model.data(model.index(0, act), Qt.ItemDataRole.TextAlignmentRole) is None


def test_a_sort_by_a_param_column_outlives_an_experiment_without_it(
        model: TrialTableModel) -> None:
    """Sorted by a param column, the user opens another experiment: its trials (none at
    first, then ones with fewer params) show in arrival order, and the sort applies again
    once the column exists (the monkey found a ValueError reaching the event loop)."""
    model.set_trials([trial(n, params={"lr": 0.1 * (3 - n), "wd": n}) for n in range(3)],
                     "loss")
    wd = model.header_names().index("wd")
    model.sort(wd, DESC)
    assert column_texts(model, wd) == ["2", "1", "0"]
    model.set_trials([], "loss")  # another experiment, its trials still loading
    assert model.rowCount() == 0 and model.sort_column() == wd
    model.add_trials([trial(n, params={"lr": 0.1 * n}) for n in range(2)])
    assert ids(model) == [100, 101] and model.columnCount() == wd
    model.add_trials([trial(5, params={"lr": 0.5, "wd": 9})])
    model.flush()  # the re-sort of chunks is coalesced
    assert column_texts(model, wd) == ["9", "", ""]


def test_filter_by_state_and_text(model: TrialTableModel) -> None:
    model.set_trials([trial(0, TrialState.FAILED, error="boom"), trial(1, kpi=0.25),
                      trial(2, TrialState.RUNNING, host="gpu-box-2"),
                      trial(3, TrialState.CREATED), trial(4, kpi=0.75)], "loss")
    model.set_filter({TrialState.COMPLETED})
    assert ids(model) == [101, 104]
    model.set_filter({TrialState.QUEUED, TrialState.FAILED})
    assert ids(model) == [100, 103]  # CREATED goes with QUEUED
    model.set_filter(None, "GPU-BOX")
    assert ids(model) == [102]
    model.set_filter(None, "0.25")
    assert ids(model) == [101]
    model.set_filter({TrialState.RUNNING}, "0.25")
    assert ids(model) == []
    model.set_filter()
    assert model.rowCount() == model.total_count() == 5
    assert model.data(model.index(0, Column.STATE), Qt.ItemDataRole.ToolTipRole) == \
        "failed: boom"


def test_live_updates_keep_filter_and_sort(model: TrialTableModel, qtbot: QtBot) -> None:
    model.set_trials([trial(0, TrialState.RUNNING), trial(1, kpi=0.5)], "loss")
    model.set_filter({TrialState.RUNNING, TrialState.COMPLETED})
    model.sort(Column.KPI, ASC)
    model.update_trial(trial(2, kpi=0.1))  # new: appended, then sorted into place
    assert ids(model)[-1] == 102
    qtbot.waitUntil(lambda: ids(model) == [102, 101, 100], timeout=2000)
    model.update_trial(trial(0, TrialState.FAILED))  # leaves the filter
    assert ids(model) == [102, 101]
    model.update_trial(trial(1, kpi=0.05))
    model.flush()
    assert ids(model) == [101, 102]
    assert model.row_of(100) is None and model.row_of(102) == 1
    model.update_trial(trial(3, TrialState.QUEUED))  # does not pass: not listed
    assert model.row_of(103) is None and model.total_count() == 4


def test_persistent_index_follows_its_trial_through_a_sort(model: TrialTableModel) -> None:
    model.set_trials([trial(n, kpi=k) for n, k in enumerate([0.3, 0.1, 0.2])], "loss")
    kept = QPersistentModelIndex(model.index(0, Column.HOST))
    model.sort(Column.KPI, ASC)
    assert kept.row() == 2 and kept.column() == Column.HOST
    assert kept.data(TRIAL_ID_ROLE) == 100


def test_running_durations_tick(model: TrialTableModel, qtbot: QtBot) -> None:
    model.set_trials([trial(0, TrialState.RUNNING, started_at=datetime.now(UTC))], "loss")
    with qtbot.waitSignal(model.dataChanged, timeout=3000) as blocker:
        pass
    assert blocker.args[0].column() == Column.DURATION
    assert model.data(model.index(0, Column.DURATION)).endswith(" s")


def test_bad_arguments_are_refused_with_a_clear_message(model: TrialTableModel) -> None:
    model.set_trials([trial(0)], "loss")
    with pytest.raises(IndexError, match="row 5 out of range: the table shows 1"):
        model.trial_id(5)
    with pytest.raises(ValueError, match="no column 99: the table has 9"):
        model.sort(99)
    rows = TrialRows()
    with pytest.raises(ValueError, match=r"trial 100: parameters \['lr'\] have no column"):
        rows.upsert(trial(0))
    with pytest.raises(ValueError, match="no column -2"):
        rows.key_array(-2)


def many_trials(count: int) -> list[TrialRecord]:
    """Trials in every state with float, int and string params (some KPIs missing)."""
    rng = np.random.default_rng(7)
    states = list(TrialState)
    state = rng.integers(len(states), size=count).tolist()
    kpi = np.where(rng.random(count) < 0.1, np.nan, rng.random(count)).tolist()
    lr = (10 ** rng.uniform(-4, -1, count)).tolist()
    batch = rng.choice([32, 64], count).tolist()
    opt = rng.choice(["sgd", "adam"], count).tolist()
    return [trial(n, states[state[n]], None if kpi[n] != kpi[n] else kpi[n],
                  {"lr": lr[n], "batch": batch[n], "optimizer": {"_name": opt[n]}},
                  host=f"host-{n % 7}") for n in range(count)]


def test_sort_10000_rows_with_numpy(qtbot: QtBot) -> None:
    model = TrialTableModel()
    model.set_trials(many_trials(10_000), "loss")
    timings = {}
    for column, order in ((Column.KPI, ASC), (Column.KPI, DESC), (Column.HOST, ASC),
                          (model.header_names().index("optimizer"), DESC),
                          (model.header_names().index("lr"), ASC)):
        model.sort(column, order)
        timings[model.header_names()[column], order.name] = model.last_sort_ms
    print("\nsort of 10,000 rows (ms): " +
          ", ".join(f"{c} {o[:4]} {t:.1f}" for (c, o), t in timings.items()))
    model.sort(Column.KPI, ASC)
    kpis = np.array([model._data.record(int(i)).kpi or np.nan for i in model._rows])
    finite = kpis[~np.isnan(kpis)]
    assert np.all(np.diff(finite) >= 0)
    assert np.isnan(kpis[len(finite):]).all()
    flt = TrialFilter(frozenset({TrialState.FAILED}))
    assert all(model._data.record(int(i)).state is TrialState.FAILED
               for i in model._data.order(flt, None, False))


def test_table_widget_filters_and_activates(qtbot: QtBot) -> None:
    table = TrialTable()
    qtbot.addWidget(table)
    table.resize(900, 400)
    table.set_trials([trial(0, TrialState.FAILED), trial(1, kpi=0.2), trial(2, kpi=0.1)],
                     "loss")
    table.show()
    qtbot.waitExposed(table)
    assert table.filter_bar.count.text() == "3 trials"
    table.filter_bar.boxes[TrialState.FAILED].setChecked(False)
    assert ids(table.model) == [101, 102]
    assert table.filter_bar.count.text() == "2 of 3 trials"
    table.filter_bar.text.setText("0.1")
    assert ids(table.model) == [102]
    table.filter_bar.set_states(None)
    table.filter_bar.text.clear()
    table.view.sortByColumn(Column.KPI, DESC)
    assert ids(table.model) == [101, 102, 100]
    table.update_trial(trial(3, params={"lr": 0.4, "wd": 1e-4}))
    assert table.model.header_names()[-1] == "wd"
    table.model.flush()
    rect = table.view.visualRect(table.model.index(1, Column.HOST))
    with qtbot.waitSignal(table.trialActivated, timeout=1000) as blocker:
        QTest.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseDClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # Qt 6's mouseDClick leaves the button down; release it, or later hovers show no tooltip
    QTest.mouseRelease(table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [table.model.trial_id(1)]
    assert table.selected_trial() == table.model.trial_id(1)


def test_columns_grow_as_a_live_run_fills_them_but_not_those_sized_by_hand(
        qtbot: QtBot) -> None:
    table = TrialTable()
    qtbot.addWidget(table)
    table.resize(1200, 400)
    table.set_trials([trial(0, TrialState.QUEUED, host=None, started_at=None)], "loss")
    table.show()
    qtbot.waitExposed(table)
    qtbot.waitUntil(lambda: not table.fitter.pending, timeout=5000)  # a few columns a turn
    view, header = table.view, table.view.horizontalHeader()
    narrow = {column: view.columnWidth(column) for column in (Column.STATE, Column.KPI)}
    header.resizeSection(Column.HOST, 40)  # as a drag of the header would
    assert table.fitter.by_hand() == {Column.HOST}
    table.update_trial(trial(0, TrialState.COMPLETED, kpi=123.456789012,
                             host="a-long-server-name"))
    qtbot.waitUntil(lambda: not table.fitter.pending and view.columnWidth(Column.KPI)
                    > narrow[Column.KPI], timeout=5000)
    for column in (Column.STATE, Column.KPI, Column.STARTED, Column.ENDED):
        assert view.columnWidth(column) >= view.sizeHintForColumn(column), column
    assert view.columnWidth(Column.STATE) > narrow[Column.STATE]  # "completed" > "queued"
    assert view.columnWidth(Column.HOST) == 40, "a column sized by hand is left alone"
    table.set_trials([trial(1)], "loss")  # another experiment: fitted afresh
    assert table.fitter.by_hand() == set()
    qtbot.waitUntil(lambda: not table.fitter.pending, timeout=5000)  # a few columns a turn
    assert view.columnWidth(Column.HOST) >= view.sizeHintForColumn(Column.HOST)


def test_chunks_of_an_opened_experiment_are_inserted_never_reset(
        qtbot: QtBot, model: TrialTableModel) -> None:
    """Opening an experiment fills the table a chunk at a time: each chunk is one row
    insertion (new parameter columns one column insertion), so the view keeps its
    selection and a chunk costs what it adds, not the whole table; a sorted table is
    ordered once, a moment after the last chunk."""
    model.set_trials([trial(n, kpi=KPIS[n]) for n in range(2)], "loss")
    model.sort(int(Column.KPI), ASC)
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    columns: list[tuple[int, int]] = []
    model.columnsInserted.connect(lambda _parent, first, last: columns.append((first, last)))
    kept = QPersistentModelIndex(model.index(model.row_of(100) or 0, 0))
    model.add_trials([trial(n, kpi=KPIS[n]) for n in range(2, 4)])
    model.add_trials([trial(n, kpi=KPIS[n], params={"lr": 0.1, "depth": n})
                      for n in range(4, 6)])
    assert resets == []
    assert inserted == [(2, 3), (4, 5)]
    assert columns == [(model.columnCount() - 1, model.columnCount() - 1)]  # depth
    qtbot.waitUntil(lambda: ids(model) == [102, 105, 100, 103, 101, 104], timeout=3000)
    assert resets == [] and model.trial_id(kept.row()) == 100  # the persistent row moved


def test_chunks_that_keep_the_sort_order_are_not_resorted(
        qtbot: QtBot, model: TrialTableModel) -> None:
    """Sorted by number (the table's default), an opened experiment's chunks arrive in
    order: appended where they belong, with no re-sort of every row per chunk."""
    model.set_trials([trial(n) for n in range(3)], "loss")
    model.sort(int(Column.NUMBER), ASC)
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    for start in range(3, 12, 3):
        model.add_trials([trial(n) for n in range(start, start + 3)])
    qtbot.wait(50)  # longer than the re-sort's wait (10 ms here)
    assert layouts == []
    assert ids(model) == [100 + n for n in range(12)]
    model.add_trials([trial(-1)])  # out of order: one re-sort, a moment later
    qtbot.waitUntil(lambda: layouts == [1], timeout=3000)
    assert ids(model)[0] == 99


def test_sort_keys_and_filter_kept_while_rows_are_appended_match_a_fresh_build() -> None:
    """Appending a row extends the cached sort keys and filter mask (rebuilding them for
    every chunk of an opened experiment was quadratic); they must equal a fresh build."""
    records = [trial(n, TrialState.RUNNING if n == 6 else TrialState.COMPLETED,
                     kpi=KPIS[n % len(KPIS)],
                     params={"lr": 0.1 * n, "opt": "adam" if n % 2 else "sgd",
                             **({"depth": "deep"} if n == 5 else {"depth": n})})
               for n in range(8)]

    def built(upto: int, rows: TrialRows | None = None, start: int = 0) -> TrialRows:
        rows = rows or TrialRows("loss")
        for record in records[start:upto]:
            flat = flatten(record.params)
            rows.add_param_names(rows.new_param_names(flat))
            rows.upsert(record, flat)
        return rows

    flt = TrialFilter(None, "adam")
    growing = built(4)
    for column in range(growing.column_count()):
        growing.key_array(column, now=T0)  # cached
    growing.mask(flt)
    built(8, growing, start=4)
    fresh = built(8)
    assert growing.column_count() == fresh.column_count()
    for column in range(fresh.column_count()):
        np.testing.assert_array_equal(growing.key_array(column, now=T0 + timedelta(hours=1)),
                                      fresh.key_array(column, now=T0 + timedelta(hours=1)))
    assert growing.mask(flt).tolist() == fresh.mask(flt).tolist()


def test_rows_format_their_cells_only_when_asked_and_show_the_same_text(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening an experiment adds thousands of rows of which the table shows a few
    dozen: a row's cells are formatted when first asked for (formatting every row on
    arrival was most of the GUI thread's time). Sorting by text columns and filtering
    by text see the same texts as the cells show."""
    import app.views.trials.rows as rows_module
    from app.views.trials.text import format_duration, format_gpus, format_time, format_value

    formatted: list[object] = []
    real = rows_module.format_time
    monkeypatch.setattr(rows_module, "format_time",
                        lambda moment: formatted.append(moment) or real(moment))
    records = [trial(n, kpi=0.5 + n, host=f"host-{(n * 7) % 5}", gpus=(n % 3,) if n % 2 else (),
                     params={"lr": 0.1 * n, "opt": "adam" if n % 3 else "sgd"})
               for n in range(300)]
    rows = TrialRows("loss")
    for record in records:
        flat = flatten(record.params)
        rows.add_param_names(rows.new_param_names(flat))
        rows.upsert(record, flat)
    np.testing.assert_array_equal(rows.key_array(Column.HOST)[:5], [0, 2, 4, 1, 3])
    rows.key_array(Column.GPUS)
    rows.key_array(FIXED + 1)  # "opt", by text
    assert formatted == []  # nothing formatted yet
    record = records[123]
    assert [rows.cell(123, column) for column in range(rows.column_count())] == [
        "123", "completed", format_value(record.kpi), format_duration(2 * 123 + 1 - 123),
        record.host, format_gpus(record.gpus), format_time(record.started_at),
        format_time(record.ended_at), format_value(0.1 * 123), "sgd"]
    assert len(formatted) == 2  # one row's two times
    text = format_time(records[77].ended_at)
    assert rows.mask(TrialFilter(None, text)).tolist() == [
        any(text in rows.cell(n, column) for column in range(rows.column_count()))
        for n in range(300)] == [n in (77, 155) for n in range(300)]  # #155 started then
    assert rows.mask(TrialFilter(None, "SGD")).sum() == 100


FIXED = len(Column)
