"""The parameter importance chart: computed off the GUI thread, drawn as bars, explained."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QThread
from pytestqt.qtbot import QtBot

from app.application.analysis.importance import MIN_TRIALS, ImportanceResult, parameter_importance
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.data import ChartData
from app.views.charts.panel import ChartsPanel
from app.views.importance.chart import ImportanceChart

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
FAST = {"n_estimators": 20, "n_repeats": 3}


def trials(count: int, seed: int = 2, first: int = 0) -> list[TrialRecord]:
    """loss depends on lr only; batch and a flag are noise."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(first, first + count):
        lr = float(10 ** rng.uniform(-4, -1))
        params: dict[str, Any] = {"lr": lr, "batch": int(rng.choice([32, 64])),
                                  "flag": bool(rng.random() < 0.5)}
        out.append(TrialRecord(id=100 + n, experiment_id=1, number=n,
                               state=TrialState.COMPLETED, params=params, created_at=T0,
                               kpi=(math.log10(lr) + 2.5) ** 2 + float(rng.normal(0, 0.01))))
    return out


class Recorder:
    """Real importance, noting the thread each computation ran on."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.sizes: list[int] = []

    def __call__(self, records: Sequence[TrialRecord], kpi_name: str) -> ImportanceResult:
        self.threads.append(threading.get_ident())
        self.sizes.append(len(records))
        return parameter_importance(records, kpi_name, **FAST)


@pytest.fixture
def data() -> ChartData:
    return ChartData("loss", Goal.MIN)


def make_chart(qtbot: QtBot, data: ChartData, compute: Any = None) -> ImportanceChart:
    chart = ImportanceChart(data, compute=compute)
    qtbot.addWidget(chart)
    chart.resize(700, 400)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def test_too_few_trials_says_how_many_are_needed(qtbot: QtBot, data: ChartData) -> None:
    recorder = Recorder()
    chart = make_chart(qtbot, data, recorder)
    assert "once enough trials have completed" in chart.status.text()
    pruned = TrialRecord(id=1, experiment_id=1, number=50, state=TrialState.PRUNED,
                         params={"lr": 0.1}, created_at=T0, kpi=0.1)
    data.set_trials([*trials(3), pruned])
    chart.refresh()
    text = chart.status.text()
    assert f"needs at least {MIN_TRIALS} completed trials with a finite loss" in text
    assert f"there are 3 so far ({MIN_TRIALS - 3} more needed)" in text
    assert recorder.threads == [] and not chart.worker.busy  # nothing to compute
    assert chart.bar_values() == [] and chart.note.text() == ""


def test_bars_are_computed_off_the_gui_thread_and_explained(
        qtbot: QtBot, data: ChartData) -> None:
    recorder = Recorder()
    chart = make_chart(qtbot, data, recorder)
    data.set_trials(trials(40))
    delivered_on: list[bool] = []
    chart.worker.finished.connect(
        lambda _result: delivered_on.append(
            QThread.currentThread() is QCoreApplication.instance().thread()))
    with qtbot.waitSignal(chart.worker.finished, timeout=60_000):
        chart.refresh()
        assert chart.worker.busy and "Computing" in chart.status.text()
    assert recorder.threads and recorder.threads[0] != threading.get_ident()
    assert delivered_on == [True]
    names = [name for name, _ in chart.bar_values()]
    assert names[0] == "lr" and set(names) == {"lr", "batch", "flag"}
    widths = chart.bars.opts["width"]
    assert widths[0] > 0.5 and widths[0] > 10 * max(widths[1:])
    ticks = chart.plot_item.getAxis("left")._tickLevels[0]
    assert [label for _, label in sorted(ticks, reverse=True)] == names  # top bar first
    assert "from 40 completed trials" in chart.status.text()
    note = chart.note.text()
    assert "permutation importance" in note and "not cause" in note
    assert "Held-out R² of the forest" in note


def test_recomputes_when_trials_change_not_on_every_refresh_and_not_too_often(
        qtbot: QtBot, data: ChartData, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    chart = make_chart(qtbot, data, recorder)
    data.set_trials(trials(20))
    with qtbot.waitSignal(chart.worker.finished, timeout=60_000):
        chart.refresh()
    for _ in range(5):
        chart.refresh()
    assert not chart.worker.busy and recorder.sizes == [20]
    data.update_trial(trials(1, seed=9, first=20)[0])
    chart.refresh()  # a result is only just shown: the next waits RECOMPUTE_MIN_S
    assert not chart.worker.busy and recorder.sizes == [20]
    monkeypatch.setattr("app.views.importance.chart.RECOMPUTE_MIN_S", 0.0)
    monkeypatch.setattr("app.views.importance.chart.BUSY_SHARE", 1e9)

    def refreshed_to(count: int) -> bool:
        chart.refresh()  # what the Charts panel's timer does
        return not chart.worker.busy and recorder.sizes[-1] == count

    qtbot.waitUntil(lambda: refreshed_to(21), timeout=60_000)
    for record in trials(4, seed=10, first=21):
        data.update_trial(record)
        chart.refresh()  # one computation at a time; the newest trials follow
    qtbot.waitUntil(lambda: refreshed_to(25), timeout=60_000)
    assert chart.result is not None and chart.result.trials_used == 25
    assert len(recorder.sizes) <= 4


def test_a_failing_computation_is_reported_not_raised(qtbot: QtBot, data: ChartData) -> None:
    def broken(records: Sequence[TrialRecord], kpi_name: str) -> ImportanceResult:
        raise RuntimeError("forest on fire")

    chart = make_chart(qtbot, data, broken)
    data.set_trials(trials(15))
    with qtbot.waitSignal(chart.worker.failed, timeout=10_000) as blocker:
        chart.refresh()
    assert blocker.args == ["internal error: RuntimeError: forest on fire"]
    assert chart.status.text() == "internal error: RuntimeError: forest on fire"
    assert chart.result is None and chart.bar_values() == []


def test_the_charts_panel_has_an_importance_tab_that_ignores_top_k(qtbot: QtBot) -> None:
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials(trials(30))
    panel.set_top_k(5)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.importance.worker.finished, timeout=60_000) as blocker:
        panel.tabs.setCurrentWidget(panel.importance)  # brought into view: computed
    assert panel.tabs.tabText(panel.tabs.currentIndex()) == "Parameter importance"
    assert blocker.args[0].trials_used == 30  # every completed trial, not the top 5
    assert panel.importance.bar_values()[0][0] == "lr"


def test_switching_to_an_experiment_without_trials_clears_every_array(
        qtbot: QtBot, data: ChartData) -> None:
    """Bars drawn for 10 parameters, then an experiment with no trials: the whiskers
    get empty arrays for every option (x, y, left, right), so the next paint has
    nothing of the old length left (it aborted the process: a mismatch raised inside
    ``boundingRect``)."""
    chart = make_chart(qtbot, data, Recorder())
    many = [TrialRecord(id=500 + n, experiment_id=1, number=n, state=TrialState.COMPLETED,
                        params={f"p{k}": float((n * (k + 3)) % 7) for k in range(10)},
                        created_at=T0, kpi=float(n % 5)) for n in range(24)]
    data.set_trials(many)
    with qtbot.waitSignal(chart.worker.finished, timeout=60_000):
        chart.refresh()
    assert len(chart.bar_values()) == 10
    chart.plot_widget.grab()  # painted with 10 whiskers
    data.set_trials([])
    chart.refresh()
    assert chart.bar_values() == []
    for name in ("x", "y", "left", "right"):
        value = chart.errors.opts[name]
        assert value is None or len(value) == 0, name
    assert chart.bars.opts["x0"] is not None and len(chart.bars.opts["x0"]) == 0
    image = chart.plot_widget.grab()  # the paint that used to abort
    assert not image.isNull()
    data.set_trials(many)  # and back: the bars come again
    with qtbot.waitSignal(chart.worker.finished, timeout=60_000):
        chart.recompute()
    assert len(chart.bar_values()) == 10
