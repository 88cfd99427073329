"""ChartsPanel and its other charts: best so far, parallel coordinates, KPI vs parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.panel import ChartsPanel
from app.views.charts.parallel import COLOR_BINS, MISSING_POSITION
from devtools.screenshots.charts import render_screenshots
from devtools.synthetic import synthetic_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def trial(number: int, state: TrialState, kpi: float | None, params: dict[str, object],
          minutes: float = 0.0) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params=params, created_at=T0, started_at=T0,
                       ended_at=T0 + timedelta(minutes=minutes) if state.is_finished() else None,
                       kpi=kpi)


SGD = {"lr": 0.1, "optimizer": {"_name": "sgd", "momentum": 0.9}, "bn": True}
ADAM = {"lr": 0.001, "optimizer": {"_name": "adam", "beta1": 0.8}, "bn": False}


@pytest.fixture
def panel(qtbot: QtBot) -> ChartsPanel:
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials([
        trial(0, TrialState.COMPLETED, 0.8, SGD, minutes=1),
        trial(1, TrialState.COMPLETED, 0.3, ADAM, minutes=3),
        trial(2, TrialState.PRUNED, 1.5, {**SGD, "lr": 0.05}, minutes=4),
        trial(3, TrialState.COMPLETED, 0.5, {**ADAM, "lr": 0.01}, minutes=6),
        trial(4, TrialState.RUNNING, None, {**SGD, "lr": 0.02}),
    ])
    panel.add_points([MetricPoint(104, "loss", 2.0 - s / 10, s, 0.0) for s in range(5)])
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_panel_refreshes_only_the_visible_chart(panel: ChartsPanel) -> None:
    panel.refresh()
    assert panel.curves.running_item.trial_ids() == [104]
    assert panel.parallel.line_count == 0  # hidden tab: not drawn yet
    panel.tabs.setCurrentWidget(panel.parallel)  # brought into view: drawn at once
    assert panel.parallel.line_count == 5


def test_panel_update_trial_and_points_reach_the_charts(panel: ChartsPanel) -> None:
    panel.refresh_all()
    version = panel.data.trials_version
    panel.update_trial(panel.data.trials[104])  # the same record again: no change
    assert panel.data.trials_version == version
    panel.update_trial(trial(4, TrialState.COMPLETED, 0.1, {**SGD, "lr": 0.02}, minutes=8))
    panel.refresh_all()
    assert panel.curves.running_item.trial_ids() == []
    assert 104 in panel.curves.finished_item.curves.ids.tolist()
    assert panel.data.best_trial_id() == 104
    assert panel.best.number_line.getData()[1][-1] == 0.1


def test_best_so_far_steps_down_by_number_and_by_time(panel: ChartsPanel) -> None:
    panel.best.refresh()
    x, y = panel.best.number_line.getData()
    assert x.tolist() == [0, 1, 1, 3, 3]  # completed trials only: 0, 1, 3 as a staircase
    assert y.tolist() == [0.8, 0.8, 0.3, 0.3, 0.3]
    _dots_x, dots_y = panel.best.number_dots.getData()
    assert dots_y.tolist() == [0.8, 0.3, 0.5]  # the pruned trial's early KPI is left out
    tx, ty = panel.best.time_line.getData()
    assert tx.tolist() == pytest.approx([1, 3, 3, 6, 6])  # minutes since the first start
    assert ty.tolist() == [0.8, 0.8, 0.3, 0.3, 0.3]
    assert panel.best.by_time.getPlotItem().getAxis("bottom").labelText == "elapsed (min)"


def test_parallel_coordinates_draw_one_line_per_trial_through_the_band(
        panel: ChartsPanel) -> None:
    chart = panel.parallel
    chart.refresh()
    titles = [axis.title for axis in chart.axes]
    assert titles == ["lr (log)", "optimizer", "optimizer.momentum", "bn",
                      "optimizer.beta1", "loss"]
    lines = chart.lines()
    assert chart.line_count == 5
    per_trial = lines.y.reshape(5, len(titles) + 1)
    momentum, beta1 = titles.index("optimizer.momentum"), titles.index("optimizer.beta1")
    adam_rows = [i for i, t in enumerate(lines.ids[lines.ends]) if t in (101, 103)]
    assert all(per_trial[i, momentum] == MISSING_POSITION for i in adam_rows)  # the band
    assert all(0 <= per_trial[i, beta1] <= 1 for i in adam_rows)
    assert (per_trial[:, -2][lines.ids[lines.ends] == 104] == MISSING_POSITION).all()  # no KPI
    assert len(chart.line_items) == COLOR_BINS + 1  # colour bins, not one item per trial
    _best_x, best_y = chart.best_item.getData()
    assert best_y[-1] == 0.0  # the best KPI sits at the bottom of the loss axis
    assert [full for _shown, full in chart.titles.title_texts()] == titles


def test_parallel_coordinates_hover_names_the_trial(panel: ChartsPanel) -> None:
    panel.tabs.setCurrentWidget(panel.parallel)
    chart = panel.parallel
    lines = chart.lines()
    row = np.flatnonzero(lines.ids == 103)
    x, y = lines.x[row[0]], lines.y[row[0]]
    assert chart.trial_at(x, y) == 103
    assert "Trial #3 (id 103)" in chart.hover.hover_at(x, y)


def test_param_scatter_plots_kpi_against_the_chosen_param(panel: ChartsPanel) -> None:
    chart = panel.scatter
    chart.refresh()
    names = [chart.param_combo.itemText(i) for i in range(chart.param_combo.count())]
    assert names == ["lr", "optimizer", "optimizer.momentum", "bn", "optimizer.beta1"]
    chart.set_param("lr")
    x, y, ids = chart.plotted()
    assert sorted(x) == pytest.approx(sorted(np.log10([0.1, 0.001, 0.05, 0.01])))  # log10
    assert dict(zip(ids.tolist(), y.tolist(), strict=True)) == {100: 0.8, 101: 0.3, 102: 1.5,
                                                                 103: 0.5}
    pruned = chart.dot_items[-1].getData()
    assert pruned[1].tolist() == [1.5]  # the pruned trial: a cross of its own
    assert chart.best_dot.getData()[1].tolist() == [0.3]
    chart.set_param("optimizer")
    assert chart.axis is not None and chart.axis.categories == ("adam", "sgd")
    xs = sorted(chart.plotted()[0])
    assert all(abs(x - round(x)) <= 0.15 + 1e-9 for x in xs)  # jittered around 0 and 1
    assert {round(x) for x in xs} == {0, 1}
    tip = chart._tip(0.0, 0.0, 101)
    assert "id 101" in tip
    with pytest.raises(ValueError, match="no trial has a parameter 'nope'"):
        chart.set_param("nope")


def test_panel_follows_a_new_experiment(panel: ChartsPanel) -> None:
    panel.refresh_all()
    panel.set_experiment("acc", Goal.MAX)
    panel.refresh_all()
    assert panel.data.trials == {}
    assert len(panel.curves.running_item) == 0
    assert panel.parallel.line_count == 0
    assert panel.scatter.param_combo.count() == 0


def test_screenshots_render_every_chart(qtbot: QtBot, tmp_path: Path) -> None:
    paths = render_screenshots(tmp_path)
    assert [p.name for p in paths] == ["charts-kpi-curves.png", "charts-best-so-far.png",
                                       "charts-parallel-coordinates.png",
                                       "charts-kpi-vs-param.png"]
    for path in paths:
        image = QImage(str(path))
        assert image.width() >= 800 and image.height() >= 400
        # not a blank picture: many distinct colours
        sample = {image.pixel(x, y) for x in range(0, image.width(), 23)
                  for y in range(0, image.height(), 19)}
        assert len(sample) > 20


def test_a_big_history_loads_and_draws(qtbot: QtBot) -> None:
    run = synthetic_run(trials=400, max_steps=100, running=8, seed=1)
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials(run.trials)
    panel.add_points(run.metric_points())
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    finished = sum(1 for t in run.trials if t.state.is_finished())
    assert len(panel.curves.finished_item.curves.ends) == finished
    assert len(panel.curves.running_item) == 8
    items = [i for i in panel.curves.plot_item.items if isinstance(i, pg.GraphicsObject)]
    assert len(items) < 12  # a handful of items for 400 trials


def test_the_panel_timer_draws_new_points_by_itself(qtbot: QtBot) -> None:
    panel = ChartsPanel()
    qtbot.addWidget(panel)
    panel.set_experiment("loss", Goal.MIN)
    panel.update_trial(trial(0, TrialState.RUNNING, None, SGD))
    panel.show()
    qtbot.waitExposed(panel)
    panel.add_points([MetricPoint(100, "loss", 1.0 / (s + 1), s, 0.0) for s in range(6)])
    assert len(panel.curves.running_item) == 0  # not drawn per metric...
    qtbot.waitUntil(lambda: len(panel.curves.running_item) == 1, timeout=3000)  # ...but soon
    assert len(panel.curves.running_item.curve(100)[1]) == 6


def test_an_opened_experiments_first_curves_are_drawn_at_once(qtbot: QtBot) -> None:
    """While history loads the panel redraws at most twice a second, but the first
    batch of curves is drawn as it arrives: the user sees curves at once."""
    from tests.helpers import metric_series
    panel = ChartsPanel(auto_refresh=False)  # no timer: only the panel itself draws
    qtbot.addWidget(panel)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials([trial(t, TrialState.COMPLETED, 0.5, SGD) for t in range(3)])
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_loading(True)
    series = [metric_series(100 + t, "loss", range(5), [1.0 / (s + 1) for s in range(5)])
              for t in range(2)]
    panel.add_series(series)
    assert panel.curves.drawn_trials == 2
    panel.add_series([metric_series(102, "loss", (0, 1), (1.0, 0.5))])
    assert panel.curves.drawn_trials == 2  # the rest at the panel's (throttled) tick


def test_batches_of_history_are_one_change_each_so_a_refresh_draws_only_them(
        qtbot: QtBot) -> None:
    """Loaded history arrives in batches of whole series; each batch is one change of
    the buffers, so a refresh after many batches still knows which trials got points
    (per series, a few batches used up the change log and the chart looked at every
    trial of the experiment again)."""
    from app.views.charts.buffers import CHANGE_LOG
    from tests.helpers import metric_series
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.set_experiment("loss", Goal.MIN)
    count = 2 * CHANGE_LOG
    panel.set_trials([trial(t, TrialState.COMPLETED, 0.5, SGD) for t in range(count)])
    buffers = panel.data.buffers
    before = buffers.version
    for start in range(0, count, 50):
        panel.add_series([metric_series(100 + t, "loss", (0, 1), (1.0, 0.5))
                          for t in range(start, min(start + 50, count))])
    assert buffers.touched_since(before) == {100 + t for t in range(count)}
    assert all(buffers.size(100 + t, "loss") == 2 for t in range(count))
