"""KpiCurvesChart: one item for finished curves, running curves apart, best on top, hover."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.data import ChartData
from app.views.charts.kpi_curves import KpiCurvesChart
from app.views.charts.layer import FinishedCurvesItem
from app.views.charts.running import RunningCurvesItem

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEPS = 20


def trial(trial_id: int, state: TrialState, kpi: float | None = None) -> TrialRecord:
    return TrialRecord(id=trial_id, experiment_id=1, number=trial_id, state=state,
                       params={"lr": 0.001 * trial_id, "model": {"layers": trial_id % 4}},
                       created_at=T0, kpi=kpi)


def curve(trial_id: int, steps: int = STEPS) -> list[MetricPoint]:
    """A falling curve, shifted up by the trial id so curves never touch."""
    return [MetricPoint(trial_id, "loss", trial_id + 2.0 * np.exp(-s / 5), s, 0.0)
            for s in range(steps)]


@pytest.fixture
def data() -> ChartData:
    """Completed 1, 2, 3 (2 is best), pruned 4 (short), running 5 and 6."""
    data = ChartData("loss", Goal.MIN)
    last = {t: curve(t)[-1].value for t in (1, 2, 3)}
    data.set_trials([trial(1, TrialState.COMPLETED, last[1] + 10),  # kpi: 2 best on purpose
                     trial(2, TrialState.COMPLETED, 0.5),
                     trial(3, TrialState.COMPLETED, last[3]),
                     trial(4, TrialState.PRUNED, curve(4, 5)[-1].value),
                     trial(5, TrialState.RUNNING), trial(6, TrialState.RUNNING)])
    for t in (1, 2, 3):
        data.add_points(curve(t))
    data.add_points(curve(4, 5))
    data.add_points(curve(5, 8) + curve(6, 12))
    return data


@pytest.fixture
def chart(qtbot: QtBot, data: ChartData) -> KpiCurvesChart:
    chart = KpiCurvesChart(data)
    qtbot.addWidget(chart)
    chart.resize(800, 500)
    chart.show()
    qtbot.waitExposed(chart)
    chart.refresh()
    chart.plot_item.getViewBox().autoRange(padding=0.02)
    return chart


def curve_items(chart: KpiCurvesChart) -> list[object]:
    return [item for item in chart.plot_item.items
            if isinstance(item, pg.PlotCurveItem | pg.PlotDataItem | RunningCurvesItem)]


def test_finished_curves_collapse_into_one_item(chart: KpiCurvesChart) -> None:
    finished = [i for i in chart.plot_item.items if isinstance(i, FinishedCurvesItem)]
    assert finished == [chart.finished_item]
    assert sorted(set(chart.finished_item.curves.endpoints()[2].tolist())) == [1, 2, 3, 4]
    # best, hover, the finished item and one item for all running curves: never one per trial
    assert len(curve_items(chart)) == 4
    assert chart.finished_item.opts["connect"] == "finite"


def test_running_trials_are_separate_curves_with_their_own_colours(
        chart: KpiCurvesChart) -> None:
    assert chart.running_item.trial_ids() == [5, 6]
    x5, y5, pen5 = chart.running_item.curve(5)
    _, y6, pen6 = chart.running_item.curve(6)
    assert (len(y5), len(y6)) == (8, 12)
    assert x5.tolist() == list(range(8))
    assert pen5.color() != pen6.color()
    assert chart.running_item.zValue() > chart.finished_item.zValue()


def test_best_trial_is_thick_bright_and_on_top(chart: KpiCurvesChart) -> None:
    _x, y = chart.best_item.getData()
    assert y.tolist() == [p.value for p in curve(2)]
    assert chart.best_item.opts["pen"].width() == 3
    assert chart.best_item.zValue() > chart.running_item.zValue()
    assert chart.best_item.opts["autoDownsample"] and chart.best_item.opts["clipToView"]
    assert "trial #2" in chart.plot_item.titleLabel.text


def test_pruned_curve_ends_with_a_marker(chart: KpiCurvesChart) -> None:
    x, y = chart.pruned_markers.getData()
    end = curve(4, 5)[-1]
    assert x.tolist() == [end.step] and y.tolist() == pytest.approx([end.value])


def test_points_wait_for_refresh_and_finishing_moves_a_curve(
        chart: KpiCurvesChart, data: ChartData) -> None:
    data.add_points([MetricPoint(5, "loss", 5.1, 8, 0.0)])
    assert len(chart.running_item.curve(5)[1]) == 8  # nothing drawn per metric
    chart.refresh()
    assert len(chart.running_item.curve(5)[1]) == 9
    renders = chart.finished_item.full_renders
    data.update_trial(trial(5, TrialState.COMPLETED, 5.1))
    chart.refresh()
    assert chart.running_item.trial_ids() == [6]
    assert 5 in chart.finished_item.curves.ids.tolist()
    chart.plot_widget.viewport().repaint()
    assert chart.finished_item.full_renders == renders  # appended, not repainted from scratch


def test_late_points_of_a_finished_trial_rebuild_its_curve(
        chart: KpiCurvesChart, data: ChartData) -> None:
    data.add_points([MetricPoint(1, "loss", 1.0, STEPS, 0.0)])
    chart.refresh()
    joined = chart.finished_item.curves
    assert (joined.ids == 1).sum() == STEPS + 2  # the points plus the NaN separator
    assert len(curve_items(chart)) == 4


def test_hover_lookup_finds_the_curve_between_its_points(chart: KpiCurvesChart) -> None:
    # Halfway between steps 3 and 4 of trial 6, on the straight line that joins them.
    y3, y4 = (p.value for p in curve(6)[3:5])
    assert chart.trial_at(3.5, (y3 + y4) / 2) == 6
    x, y = curve(3)[10].step, curve(3)[10].value
    assert chart.trial_at(x, y) == 3
    assert chart.trial_at(10.0, 100.0) is None
    text = chart.hover_at(x, y)
    assert "id 3" in text and "lr = 0.003" in text and "model.layers = 3" in text
    assert chart.hover.trial_id == 3
    assert chart.hover_item.getData()[1].tolist() == [p.value for p in curve(3)]


def test_moving_the_mouse_over_a_curve_shows_its_trial(
        qtbot: QtBot, chart: KpiCurvesChart) -> None:
    view = chart.plot_item.getViewBox()
    target = curve(1)[6]
    scene_pos = view.mapViewToScene(QPointF(target.step, target.value))
    widget_pos = chart.plot_widget.mapFromScene(scene_pos)
    qtbot.mouseMove(chart.plot_widget.viewport(), QPoint(widget_pos.x(), widget_pos.y()))
    qtbot.waitUntil(lambda: chart.hover.trial_id == 1, timeout=3000)
    assert "Trial #1 (id 1)" in chart.hover.text


def test_switching_experiment_clears_every_curve(chart: KpiCurvesChart, data: ChartData) -> None:
    data.set_experiment("acc", Goal.MAX)
    chart.refresh()
    assert len(chart.finished_item.curves) == 0
    assert len(chart.running_item) == 0
    assert chart.best_item.getData()[0] is None or len(chart.best_item.getData()[0]) == 0
    assert chart.plot_item.getAxis("left").labelText == "acc"


def test_the_finished_layer_draws_in_bounded_slices_between_turns(
        qtbot: QtBot, chart: KpiCurvesChart, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paint never draws more than a slice: a changed view shows the old image mapped
    onto it at once, and the curves are drawn anew, a slice a turn, then swapped in."""
    from app.views.charts import layer
    monkeypatch.setattr(layer, "SLICE_POINTS", 25)  # our few points count as many
    monkeypatch.setattr(layer, "SLICE_BUDGET_S", 0.0)  # one slice a turn
    item = chart.finished_item
    viewport = chart.plot_widget.viewport()
    viewport.repaint()
    qtbot.waitUntil(lambda: item.complete, timeout=3000)
    renders, item.largest_slice = item.full_renders, 0
    chart.plot_item.setXRange(0, 10, padding=0)
    viewport.repaint()
    assert item.full_renders == renders + 1
    assert not item.complete  # the old picture, mapped onto the new view, meanwhile
    assert item._image is not None and not item._image.isNull()
    shown = item._image.copy()
    assert any(shown.pixelColor(x, y).alpha() for x in range(0, shown.width(), 4)
               for y in range(0, shown.height(), 4))
    qtbot.waitUntil(lambda: item.complete, timeout=3000)
    assert 0 < item.largest_slice <= 25 + 1  # with the segment into a cut curve
    assert len(item.curves) > 2 * 25  # so it took several slices


def test_running_curves_refuse_mismatched_arrays() -> None:
    item = RunningCurvesItem()
    with pytest.raises(ValueError, match="trial 3: 2 x values but 1 y values"):
        item.set_curve(3, np.arange(2.0), np.ones(1), pg.mkPen("r"))
    item.set_curve(3, np.arange(5000.0), np.ones(5000), pg.mkPen("r"))
    assert len(item.curve(3)[0]) <= 2000  # long curves are peak-decimated


def test_a_running_curve_shows_a_dot_on_its_newest_point(qtbot: QtBot) -> None:
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    item = RunningCurvesItem()
    plot.addItem(item)
    red, blue = pg.mkPen((255, 0, 0)), pg.mkPen((0, 0, 255))
    item.set_curves([(1, np.array([5.0]), np.array([5.0]), red),  # one point so far
                     (2, np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.0, np.nan]), blue)])
    plot.setRange(xRange=(0, 10), yRange=(0, 10), padding=0)
    plot.show()
    qtbot.waitExposed(plot)
    image = plot.grab().toImage()
    view = plot.getPlotItem().getViewBox()

    def colour_at(x: float, y: float) -> tuple[int, int, int]:
        spot = plot.mapFromScene(view.mapViewToScene(QPointF(x, y)))
        pixel = image.pixelColor(spot)
        return pixel.red(), pixel.green(), pixel.blue()

    assert colour_at(5, 5) == (255, 0, 0), "a trial with one point is a red dot"
    assert colour_at(2, 2) == (0, 0, 255), "the newest finite point, past a NaN"
    assert colour_at(8, 8) != (255, 0, 0)


def test_while_history_loads_the_view_grows_in_steps_not_with_every_batch(
        qtbot: QtBot) -> None:
    """Each new view draws every finished curve anew: while an experiment's history
    arrives batch by batch, each batch reaching a little higher, the view is held and
    grows by a quarter when curves leave it; once loaded it auto-ranges again."""
    data = ChartData("loss", Goal.MIN)
    trials = range(1, 41)
    data.set_trials([trial(t, TrialState.COMPLETED, float(t)) for t in trials])
    chart = KpiCurvesChart(data)
    qtbot.addWidget(chart)
    chart.resize(800, 500)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_loading(True)
    view = chart.plot_item.getViewBox()
    ranges = []
    for batch in range(0, 40, 4):
        for t in trials[batch:batch + 4]:
            data.add_points(curve(t))
        chart.refresh()
        ranges.append(view.viewRange()[1])
        low, high = ranges[-1]
        assert low <= 1.0 and high >= trials[batch + 3] + 2.0  # every curve in view
    assert len({tuple(r) for r in ranges}) <= 6  # not 10: one per batch
    assert list(view.autoRangeEnabled()) == [False, False]
    chart.set_loading(False)
    assert list(view.autoRangeEnabled()) == [True, True]


def test_many_finished_curves_are_joined_a_bounded_batch_per_turn(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """An opened experiment hands the chart thousands of curves at once: one refresh
    joins about JOIN_POINTS of them, the rest follow in the next turns."""
    from app.views.charts import kpi_curves
    monkeypatch.setattr(kpi_curves, "JOIN_POINTS", 3 * STEPS)
    data = ChartData("loss", Goal.MIN)
    data.set_trials([trial(t, TrialState.COMPLETED, float(t)) for t in range(1, 31)])
    for t in range(1, 31):
        data.add_points(curve(t))
    chart = KpiCurvesChart(data)
    qtbot.addWidget(chart)
    chart.refresh()
    assert chart.drawn_trials == 3
    qtbot.waitUntil(lambda: chart.drawn_trials == 30, timeout=3000)
    assert sorted(set(chart.finished_item.curves.ids.tolist())) == list(range(1, 31))


def test_replaced_curves_leave_nothing_of_the_old_picture(
        qtbot: QtBot, chart: KpiCurvesChart, data: ChartData) -> None:
    """Another experiment's curves replace the shown ones: the old picture is dropped at
    once, not shown until the new one is complete."""
    item = chart.finished_item
    chart.plot_widget.viewport().repaint()
    qtbot.waitUntil(lambda: item.complete, timeout=3000)
    data.set_experiment("loss", Goal.MIN)
    data.set_trials([trial(9, TrialState.COMPLETED, 1.0)])
    data.add_points(curve(9))
    chart.refresh()
    assert item._image is None  # nothing old to blit
    chart.plot_item.getViewBox().autoRange(padding=0.02)  # the new curve in view
    chart.plot_widget.viewport().repaint()
    qtbot.waitUntil(lambda: item.complete, timeout=3000)
    assert item.curves.ids.tolist() == [9] * (STEPS + 1)
