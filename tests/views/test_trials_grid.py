"""The trial grid: tiles, colours by state and KPI rank, hover tooltip, click, legend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.grid import GAP, TrialGrid
from app.views.trials.legend import TrialGridView
from app.views.trials.panel import TrialsPanel
from app.views.trials.style import (
    PROGRESS_COLOUR,
    STATE_COLOURS,
    completed_colour,
    state_colour,
)
from app.views.trials.text import LiveFacts, format_duration, tooltip_text
from devtools.synthetic import synthetic_run

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
PARAMS: dict[str, Any] = {"lr": 0.0123, "optimizer": {"_name": "adam", "beta1": 0.9},
                          "model": {"layers": 3, "batch_norm": True}}


def trial(number: int, state: TrialState = TrialState.COMPLETED, kpi: float | None = None,
          **changes: Any) -> TrialRecord:
    fields: dict[str, Any] = dict(
        id=100 + number, experiment_id=1, number=number, state=state, params=PARAMS,
        created_at=T0, host="gpu-box-2", gpus=(0, 1), started_at=T0 + timedelta(seconds=number),
        ended_at=(T0 + timedelta(seconds=number + 75)) if state.is_finished() else None,
        kpi=kpi)
    fields.update(changes)
    return TrialRecord(**fields)


@pytest.fixture
def grid(qtbot: QtBot) -> TrialGrid:
    widget = TrialGrid()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_one_tile_per_trial_in_number_order_without_overlap(grid: TrialGrid) -> None:
    records = [trial(n, kpi=float(n)) for n in (5, 0, 3, 1, 2, 4)]
    grid.set_trials(records, "loss", Goal.MIN)
    assert grid.trial_ids() == [100, 101, 102, 103, 104, 105]
    rects = [grid.tile_rect(t) for t in grid.trial_ids()]
    assert all(not a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    assert all(grid.rect().contains(r) for r in rects)
    for trial_id, rect in zip(grid.trial_ids(), rects, strict=True):
        assert grid.trial_at(rect.center()) == trial_id
    assert grid.trial_at(QPoint(rects[0].right() + GAP // 2 + 1, rects[0].center().y())) is None
    assert grid.trial_at(QPoint(5, 290)) is None


def test_rows_wrap_and_the_height_grows_with_the_trials(grid: TrialGrid) -> None:
    grid.set_trials([trial(n) for n in range(10)], "loss", Goal.MIN)
    small = grid.heightForWidth(400)
    grid.set_trials([trial(n) for n in range(500)], "loss", Goal.MIN)
    assert grid.heightForWidth(400) > 10 * small
    assert grid.minimumHeight() == grid.heightForWidth(grid.width())
    first, last = grid.tile_rect(100), grid.tile_rect(100 + grid.columns())
    assert (last.left(), last.top()) == (first.left(), first.bottom() + 1 + GAP)


def test_late_trial_with_a_lower_number_takes_its_place(grid: TrialGrid) -> None:
    grid.set_trials([trial(0), trial(2)], "loss", Goal.MIN)
    grid.update_trial(trial(1, TrialState.QUEUED))
    assert grid.trial_ids() == [100, 101, 102]
    assert grid.trial_at(grid.tile_rect(101).center()) == 101


def test_colour_by_state(grid: TrialGrid) -> None:
    states = [TrialState.QUEUED, TrialState.RUNNING, TrialState.FAILED, TrialState.STOPPED,
              TrialState.PRUNED, TrialState.LOST, TrialState.CREATED]
    grid.set_trials([trial(n, s) for n, s in enumerate(states)], "loss", Goal.MIN)
    for number, state in enumerate(states):
        assert grid.tile_colour(100 + number) == QColor(STATE_COLOURS[state]), state
    assert len({STATE_COLOURS[s] for s in states[:-1]}) == len(states) - 1


def test_painted_tiles_show_state_colour_and_progress_fill(grid: TrialGrid) -> None:
    grid.set_trials([trial(0, TrialState.FAILED), trial(1, TrialState.RUNNING),
                     trial(2, TrialState.PRUNED)], "loss", Goal.MIN)
    grid.set_progress({101: (3, 4)})
    image = grid.grab().toImage()

    def pixel(trial_id: int, fx: float) -> QColor:
        rect = grid.tile_rect(trial_id)
        return image.pixelColor(rect.left() + round(rect.width() * fx), rect.top() + 4)

    assert pixel(100, 0.5) == QColor(STATE_COLOURS[TrialState.FAILED])
    assert pixel(102, 0.5) == QColor(STATE_COLOURS[TrialState.PRUNED])
    assert pixel(101, 0.3) == QColor(PROGRESS_COLOUR)  # 75% filled from the left
    assert pixel(101, 0.9) == QColor(STATE_COLOURS[TrialState.RUNNING])


@pytest.mark.parametrize(("goal", "best", "worst"), [(Goal.MIN, 101, 103), (Goal.MAX, 103, 101)])
def test_completed_shaded_by_kpi_rank_best_strongest(grid: TrialGrid, goal: Goal, best: int,
                                                     worst: int) -> None:
    grid.set_trials([trial(1, kpi=0.1), trial(2, kpi=0.5), trial(3, kpi=0.9),
                     trial(4, TrialState.FAILED)], "acc", goal)
    assert grid.best_trial() == best
    assert grid.tile_colour(best) == completed_colour(1.0)
    assert grid.tile_colour(worst) == completed_colour(0.0)
    assert grid.tile_colour(best).lightness() < grid.tile_colour(102).lightness() \
        < grid.tile_colour(worst).lightness()


def test_a_new_best_trial_reshades_the_others(grid: TrialGrid) -> None:
    grid.set_trials([trial(1, kpi=0.5), trial(2, TrialState.RUNNING)], "loss", Goal.MIN)
    assert grid.best_trial() == 101
    grid.update_trial(trial(2, kpi=0.2))
    assert grid.best_trial() == 102
    assert grid.tile_colour(101) == completed_colour(0.0)


def test_tooltip_names_state_progress_host_gpus_times_kpis_and_every_param(
        grid: TrialGrid) -> None:
    grid.set_trials([trial(7, TrialState.RUNNING, kpi=0.42)], "val_loss", Goal.MIN,
                    total_steps=50)
    grid.add_points([MetricPoint(107, "val_loss", 0.5, 9, 0.0),
                     MetricPoint(107, "val_loss", 0.3, 10, 0.0),
                     MetricPoint(107, "val_loss", 0.42, 11, 0.0),
                     MetricPoint(107, "acc", 0.8, 12, 0.0)])
    text = grid.tooltip_text(107, now=T0 + timedelta(seconds=7 + 125))
    for expected in ("Trial 7 — running", "progress: step 12 of 50 (24%)", "host: gpu-box-2",
                     "GPU: 0,1", "started: ", "duration: 2 min 05 s", "val_loss: 0.42",
                     "best: 0.3", "lr = 0.0123", "optimizer = adam", "optimizer.beta1 = 0.9",
                     "model.layers = 3", "model.batch_norm = true"):
        assert expected in text, (expected, text)
    assert grid.facts(107) == LiveFacts(12, 50, 0.42, 0.3)


def test_progress_set_by_the_window_wins_over_the_default_total(grid: TrialGrid) -> None:
    grid.set_trials([trial(1, TrialState.RUNNING)], "loss", Goal.MAX, total_steps=100)
    grid.set_progress({101: (3, 4)})
    grid.set_best_kpi(101, 0.9)
    assert grid.facts(101) == LiveFacts(3, 4, None, 0.9)
    assert grid.facts(101).fraction == 0.75
    assert "progress: step 3 of 4 (75%)" in grid.tooltip_text(101)


def test_failed_trial_tooltip_shows_the_error_and_dashes(grid: TrialGrid) -> None:
    """The message's first line names the cause (the runner puts it there)."""
    error = ("ValueError: bad lr\nthe trial exited with code 1; last lines:\nTraceback...\n"
             "ValueError: bad lr\nsome output after it")
    grid.set_trials([trial(1, TrialState.FAILED, host=None, gpus=(), error=error)], "loss",
                    Goal.MIN)
    text = grid.tooltip_text(101)
    assert "host: —   GPU: —" in text
    assert "error: ValueError: bad lr" in text
    assert "loss: —" in text


def test_hovering_a_tile_shows_its_tooltip(grid: TrialGrid, qtbot: QtBot) -> None:
    grid.set_trials([trial(n, kpi=n / 10) for n in range(12)], "loss", Goal.MIN)
    if QApplication.mouseButtons() != Qt.MouseButton.NoButton:  # left down by an earlier test's
        QTest.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=QPoint(1, 1))  # QTest.mouseDClick
    QTest.mouseMove(grid, grid.tile_rect(105).center())
    qtbot.waitUntil(QToolTip.isVisible, timeout=3000)
    assert QToolTip.text() == grid.tooltip_text(105)
    assert "Trial 5 — completed" in QToolTip.text()
    QToolTip.hideText()


def test_help_event_over_a_gap_hides_the_tooltip(grid: TrialGrid, qtbot: QtBot) -> None:
    grid.set_trials([trial(1)], "loss", Goal.MIN)
    centre = grid.tile_rect(101).center()
    QApplication.sendEvent(grid, QHelpEvent(QEvent.Type.ToolTip, centre,
                                            grid.mapToGlobal(centre)))
    qtbot.waitUntil(lambda: QToolTip.text() == grid.tooltip_text(101), timeout=2000)
    empty = QPoint(300, 250)
    QApplication.sendEvent(grid, QHelpEvent(QEvent.Type.ToolTip, empty,
                                            grid.mapToGlobal(empty)))
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=2000)


def test_click_emits_trial_activated_with_the_id(grid: TrialGrid, qtbot: QtBot) -> None:
    grid.set_trials([trial(n) for n in range(6)], "loss", Goal.MIN)
    with qtbot.waitSignal(grid.trialActivated, timeout=1000) as blocker:
        QTest.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.tile_rect(104).center())
    assert blocker.args == [104]
    with qtbot.assertNotEmitted(grid.trialActivated):
        QTest.mouseClick(grid, Qt.MouseButton.LeftButton, pos=QPoint(390, 290))


def test_legend_counts_states_live(qtbot: QtBot) -> None:
    view = TrialGridView()
    qtbot.addWidget(view)
    view.set_trials([trial(1), trial(2, TrialState.CREATED), trial(3, TrialState.QUEUED)],
                    "loss", Goal.MIN)
    assert "queued 2" in view.legend.labels()
    view.update_trial(trial(3, TrialState.RUNNING))
    assert view.legend.labels()[:3] == ["queued 1", "running 1",
                                        "completed 1 (worst → best)"]
    with qtbot.waitSignal(view.trialActivated, timeout=1000) as blocker:
        view.grid.trialActivated.emit(102)
    assert blocker.args == [102]


def test_bad_arguments_are_refused_with_a_clear_message(grid: TrialGrid) -> None:
    with pytest.raises(ValueError, match="tile size must be at least 8 px, got 3"):
        grid.set_tile_size(3)
    with pytest.raises(KeyError, match="trial 999 is not in the grid"):
        grid.facts(999)
    with pytest.raises(ValueError, match=r"rank must be within \[0, 1\], got 1.5"):
        completed_colour(1.5)


def test_text_helpers() -> None:
    assert format_duration(None) == "—"
    assert format_duration(4.25) == "4.2 s"
    assert format_duration(3 * 3600 + 7 * 60 + 5) == "3 h 07 min"
    record = trial(1, TrialState.QUEUED, started_at=None, params={})
    text = tooltip_text(record, "loss", LiveFacts())
    assert text.splitlines() == ["Trial 1 — queued", "progress: —", "host: gpu-box-2   GPU: 0,1",
                                 "started: —", "duration: —", "loss: —   best: —"]
    assert state_colour(TrialState.LOST) == QColor(STATE_COLOURS[TrialState.LOST])


def test_thousands_of_tiles_paint_only_what_is_visible(qtbot: QtBot) -> None:
    view = TrialGridView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    run = synthetic_run(trials=5000, max_steps=20, running=32, seed=1)
    view.set_trials(run.trials, "loss", Goal.MIN, total_steps=20)
    view.show()
    qtbot.waitExposed(view)
    started = time.perf_counter()
    image = view.grab()
    paint_ms = (time.perf_counter() - started) * 1000
    print(f"\ngrid of 5000 trials: one full repaint {paint_ms:.1f} ms")
    assert not image.isNull()
    assert view.grid.height() > view.scroll_area.viewport().height() * 10
    assert view.grid.trial_at(view.grid.tile_rect(run.trials[-1].id).center()) == \
        run.trials[-1].id


def test_trials_panel_feeds_grid_and_table(qtbot: QtBot) -> None:
    panel = TrialsPanel()
    qtbot.addWidget(panel)
    panel.set_trials([trial(0), trial(1, TrialState.RUNNING)], "loss", Goal.MIN, total_steps=10)
    panel.update_trial(trial(2, TrialState.QUEUED))
    panel.add_points([MetricPoint(101, "loss", 0.7, 4, 0.0)])
    assert panel.grid_view.grid.trial_ids() == [100, 101, 102]
    assert panel.table.model.rowCount() == 3
    assert panel.grid_view.grid.facts(101) == LiveFacts(4, 10, 0.7, 0.7)
    panel.set_progress({101: (5, 20)})
    assert panel.grid_view.grid.facts(101).fraction == 0.25
    with qtbot.waitSignal(panel.trialActivated, timeout=1000) as blocker:
        panel.table.trialActivated.emit(102)
    assert blocker.args == [102]


def test_state_counts_follow_every_change_of_the_trials(grid: TrialGrid) -> None:
    """The legend's counts are kept as trials arrive and change state (not recounted
    from every record); they always equal a count of the tiles' records."""
    grid.set_trials([trial(0, TrialState.RUNNING), trial(1, TrialState.CREATED)], "loss",
                    Goal.MIN)
    assert grid.state_counts() == {TrialState.RUNNING: 1, TrialState.QUEUED: 1}
    grid.add_trials([trial(2, TrialState.QUEUED), trial(3, TrialState.FAILED),
                     trial(0, TrialState.COMPLETED, kpi=0.3)])  # #0 again, ended
    assert grid.state_counts() == {TrialState.COMPLETED: 1, TrialState.QUEUED: 2,
                                   TrialState.FAILED: 1}
    grid.update_trial(trial(1, TrialState.RUNNING))
    grid.update_trial(trial(4, TrialState.COMPLETED, kpi=0.2))
    grid.update_trial(trial(4, TrialState.COMPLETED, kpi=0.2))  # the same again
    assert grid.state_counts() == {TrialState.COMPLETED: 2, TrialState.QUEUED: 1,
                                   TrialState.FAILED: 1, TrialState.RUNNING: 1}
    grid.set_trials([], "loss", Goal.MIN)
    assert grid.state_counts() == {}


@pytest.mark.parametrize("goal", [Goal.MIN, Goal.MAX])
def test_a_loaded_history_shows_as_all_its_points_would(qtbot: QtBot, goal: Goal) -> None:
    """Opening an experiment, the grid is given where each trial's stored points end
    (worked out off the GUI thread): its tiles then show what every point would show.
    NaN and infinite KPIs, steps only in another metric, points without a step."""
    import math

    from app.application.live import history_ends
    from app.engine.experiment import Kpi
    from tests.helpers import metric_series

    nan, inf = math.nan, math.inf
    series = [metric_series(101, "loss", [0, 1, 2], [3.0, 1.0, 2.0]),
              metric_series(101, "acc", [0, 5], [0.1, 0.2]),
              metric_series(102, "loss", [None, 3], [nan, inf]),
              metric_series(103, "loss", [1, 2], [-inf, nan]),
              metric_series(104, "acc", [7], [0.5]),
              metric_series(105, "loss", [None, None], [4.0, 0.5])]
    facts = []
    for given in ("points", "ends"):
        shown = TrialGrid()
        qtbot.addWidget(shown)
        shown.set_trials([trial(n, TrialState.COMPLETED, 1.0) for n in range(1, 6)],
                         "loss", goal)
        shown.add_points([MetricPoint(102, "loss", 9.0, 0, 0.0)])  # shown before the load
        if given == "points":
            shown.add_points([MetricPoint(one.trial_id, one.name, value,
                                          None if math.isnan(step) else int(step), 0.0)
                              for one in series
                              for step, value in zip(one.steps.tolist(), one.values.tolist(),
                                                     strict=True)])
        else:
            shown.add_history(history_ends(series, Kpi("loss", goal)))
        facts.append([repr(shown.facts(100 + t)) for t in range(1, 6)])
    assert facts[0] == facts[1]
