"""Parallel coordinates: every line whole through the "—" band, titles that never overlap."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.panel import ChartsPanel
from app.views.charts.parallel import MISSING_LABEL, MISSING_POSITION
from app.views.charts.titles import fit_titles
from devtools.synthetic import synthetic_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SGD = {"optimizer": {"_name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
       "model": {"dropout": 0.1}, "batch_size": 32}
ADAM = {"optimizer": {"_name": "adam", "lr": 0.001, "weight_decay": 1e-5},
        "model": {"dropout": 0.3}, "batch_size": 64}


def record(number: int, kpi: float | None, params: dict[str, object],
           state: TrialState = TrialState.COMPLETED) -> TrialRecord:
    return TrialRecord(id=200 + number, experiment_id=1, number=number, state=state,
                       params=params, created_at=T0, kpi=kpi)


def show_parallel(qtbot: QtBot, trials: list[TrialRecord], width: int = 900) -> ChartsPanel:
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(width, 420)
    panel.set_experiment("val_loss", Goal.MIN)
    panel.set_trials(trials)
    panel.show()
    qtbot.waitExposed(panel)
    panel.tabs.setCurrentWidget(panel.parallel)
    panel.parallel.refresh()
    QApplication.processEvents()  # the layout requests a second title row posted
    return panel


def test_a_trial_without_a_value_crosses_the_band_and_its_line_reaches_the_kpi(
        qtbot: QtBot) -> None:
    """adam has no momentum and is the best trial: its line goes through the "—" band
    of the momentum axis and on to the KPI axis (it used to stop there)."""
    panel = show_parallel(qtbot, [
        record(0, 0.8, SGD), record(1, 0.2, ADAM),
        record(2, 0.5, {**SGD, "batch_size": 128}),
        record(3, None, {**ADAM, "batch_size": 16}, TrialState.RUNNING),
    ])
    chart = panel.parallel
    titles = [axis.title for axis in chart.axes]
    momentum = titles.index("optimizer.momentum")
    lines = chart.lines()
    per_trial = lines.y.reshape(4, len(titles) + 1)
    assert np.isfinite(per_trial[:, :-1]).all()  # every line whole, NaN only between lines
    ids = lines.ids[lines.ends].tolist()
    assert per_trial[ids.index(201), momentum] == MISSING_POSITION
    assert per_trial[ids.index(203), -2] == MISSING_POSITION  # running: no KPI yet
    best_x, best_y = chart.best_item.getData()
    assert best_x.tolist() == list(range(len(titles)))  # the best line reaches the KPI axis
    assert np.isfinite(best_y).all() and best_y[-1] == 0.0
    assert best_y[momentum] == MISSING_POSITION
    assert chart.missing_band.isVisible()
    assert chart.axis_labels(momentum)[0] == MISSING_LABEL
    assert chart.axis_labels(len(titles) - 1)[0] == MISSING_LABEL  # the KPI axis too
    assert MISSING_LABEL not in chart.axis_labels(titles.index("batch_size"))
    panel.set_trials([record(0, 0.8, SGD), record(2, 0.5, {**SGD, "batch_size": 128})])
    chart.refresh()
    assert not chart.missing_band.isVisible()  # nothing missing: no band
    assert np.isfinite(chart.lines().y.reshape(2, -1)[:, :-1]).all()


@pytest.mark.parametrize("width", [300, 480, 900])
def test_axis_titles_never_overlap_and_name_every_axis(qtbot: QtBot, width: int) -> None:
    """Every axis, the first one too, has a title inside the plot; no two titles
    overlap at any width; a title cut short says its full name as a tooltip."""
    panel = show_parallel(qtbot, [record(n, 0.1 * n, SGD if n % 2 else ADAM)
                                  for n in range(1, 7)], width)
    chart = panel.parallel
    titles = [axis.title for axis in chart.axes]
    assert titles[:2] == ["optimizer", "optimizer.lr (log)"]
    items = chart.titles.items[:len(titles)]
    assert [item.toolTip() for item in items] == titles
    assert all(item.isVisible() and item.text() for item in items)
    for item, title in zip(items, titles, strict=True):
        shown = item.text()
        assert shown == title or (shown.startswith("…") and title.endswith(shown[1:]))
    plot = chart.plot_item.sceneBoundingRect()
    rects = [item.sceneBoundingRect() for item in items]
    for rect in rects:
        assert plot.contains(rect), (rect, plot)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)
    if width == 300:
        assert any(item.text() != title for item, title in zip(items, titles, strict=True))
    # the tooltip comes with a real help event over the cut title
    view = chart.plot_widget
    item = items[1]
    centre = view.mapFromScene(item.sceneBoundingRect().center())
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, centre,
                                                       view.viewport().mapToGlobal(centre)))
    assert QToolTip.text() == titles[1]
    QToolTip.hideText()


def test_fit_titles_staggers_only_when_needed() -> None:
    roomy = fit_titles([50, 150, 250], [40, 40, 40], 0, 300)
    assert {slot.row for slot in roomy} == {0}
    assert roomy[0].left == 0 and roomy[-1].right == 300
    tight = fit_titles([50, 150, 250], [40, 140, 40], 0, 300)
    assert [slot.row for slot in tight] == [0, 1, 0]
    assert tight[1].left == 0 and tight[1].right == 300  # alone on its row
    assert tight[0].right < tight[2].left
    assert tight[0].place(5, 40) == 0  # the first title is pushed inside, not cut off
    with pytest.raises(ValueError, match="2 title positions but 1 widths"):
        fit_titles([1, 2], [3], 0, 10)


def test_fewer_trials_and_axes_while_one_is_hovered_paint_cleanly(qtbot: QtBot) -> None:
    """Every item gets arrays of one length when the data shrinks: a hovered line, the
    best line and the colour bins drawn for 6 trials and 6 axes, then 1 trial, then none."""
    panel = show_parallel(qtbot, [record(n, 0.1 * n, SGD if n % 2 else ADAM)
                                  for n in range(1, 7)])
    chart = panel.parallel
    lines = chart.lines()
    chart.hover.set_trial(int(lines.ids[0]))
    assert len(chart.hover_item.getData()[0]) > 0
    chart.plot_widget.grab()
    for trials in ([record(9, 0.4, {"batch_size": 8})], []):
        panel.set_trials(trials)
        chart.refresh()
        for item in [*chart.line_items, chart.best_item, chart.hover_item, chart.axis_lines]:
            x, y = item.getData()
            assert (0 if x is None else len(x)) == (0 if y is None else len(y))
        assert not chart.plot_widget.grab().isNull()
    assert chart.line_count == 0
    assert chart.hover.trial_id is None


def test_every_chart_paints_after_its_data_shrinks(qtbot: QtBot) -> None:
    """60 trials drawn (one hovered in each chart that hovers), then another experiment
    with one trial, then none: every tab paints each time (an item given arrays of two
    lengths raises inside its paint, which pytest-qt reports)."""
    run = synthetic_run(trials=60, max_steps=20, running=4, seed=2)
    panel = ChartsPanel(auto_refresh=False)
    qtbot.addWidget(panel)
    panel.resize(800, 450)
    panel.set_experiment("loss", Goal.MIN)
    panel.set_trials(run.trials)
    panel.add_points(run.metric_points())
    panel.show()
    qtbot.waitExposed(panel)
    first = run.trials[0]
    one = [record(1, 0.5, {"lr": 0.1})]
    for trials in (run.trials, one, []):
        if trials is not run.trials:
            panel.set_experiment("acc", Goal.MAX)
            panel.set_trials(trials)
        panel.refresh_all()
        if trials:
            hovered = first.id if trials is run.trials else trials[0].id
            panel.curves.hover.set_trial(hovered)
            panel.parallel.hover.set_trial(hovered)
        for index in range(panel.tabs.count() - 1):  # importance has its own test
            panel.tabs.setCurrentIndex(index)
            assert not panel.grab().isNull()
    assert panel.parallel.line_count == 0 and len(panel.scatter.plotted()[0]) == 0
