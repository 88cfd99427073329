"""Pictures of the Trials tab with a made-up run (called by scripts/screenshots.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.detail import TrialDetail
from app.views.trials.legend import TrialGridView
from app.views.trials.table import TrialTable
from app.views.trials.text import LiveFacts
from devtools.synthetic import KPI, SyntheticRun, synthetic_run

GRID_SIZE = (1000, 470)
TABLE_SIZE = (1100, 520)
DETAIL_SIZE = (960, 640)
COMMAND = "python train.py --params {params}"


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render the grid, the grid with a hover tooltip, the table and a trial's detail.

    Needs a QApplication (offscreen or Xvfb). Returns the PNGs written.
    """
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _screenshot_run()
    written = [*_grid_pictures(run, out_dir), _table_picture(run, out_dir)]
    written += _detail_pictures(run, out_dir)
    return written


def _screenshot_run() -> SyntheticRun:
    """A 400-trial run ending now, with a few trials in every state."""
    run = synthetic_run(trials=400, max_steps=120, running=8, seed=5, prune=False)
    latest = max(t.started_at for t in run.trials if t.started_at is not None)
    shift = datetime.now(UTC) - timedelta(minutes=2) - latest
    trials: list[TrialRecord] = []
    for record in run.trials:
        started = record.started_at + shift if record.started_at else None
        ended = record.ended_at + shift if record.ended_at else None
        changed = replace(record, started_at=started, ended_at=ended, created_at=started
                          or record.created_at)
        if record.state is TrialState.COMPLETED and record.number % 5 == 2:
            changed = replace(changed, state=TrialState.PRUNED)
        elif record.state is TrialState.COMPLETED and record.number % 61 == 60:
            changed = replace(changed, state=TrialState.STOPPED)
        elif record.number == 250:
            changed = replace(changed, state=TrialState.LOST, kpi=None,
                              error="host gpu-box-2 stopped answering")
        trials.append(changed)
    queued = [TrialRecord(id=2000 + i, experiment_id=1, number=len(trials) + i,
                          state=TrialState.QUEUED, params=trials[i].params,
                          created_at=datetime.now(UTC)) for i in range(6)]
    run.trials = trials + queued
    return run


def _grid_pictures(run: SyntheticRun, out_dir: Path) -> list[Path]:
    view = TrialGridView()
    view.resize(*GRID_SIZE)
    view.set_trials(run.trials, KPI, Goal.MIN, total_steps=run.max_steps)
    view.add_points(run.metric_points())
    view.show()
    _settle()
    grid_path = out_dir / "trials-grid.png"
    view.grab().save(str(grid_path))
    hovered = run.running[1]
    hover_path = out_dir / "trials-grid-hover.png"
    _hover_picture(view, hovered).save(str(hover_path))
    QToolTip.hideText()
    view.close()
    return [grid_path, hover_path]


def _hover_picture(view: TrialGridView, trial_id: int) -> QPixmap:
    """The grid with the tile's tooltip painted where it appears (a tooltip is its own window)."""
    grid = view.grid
    centre = grid.tile_rect(trial_id).center()
    view.scroll_area.ensureVisible(centre.x(), centre.y(), 60, 260)
    _settle()
    QTest.mouseMove(grid, centre)
    QToolTip.showText(grid.mapToGlobal(centre), grid.tooltip_text(trial_id), grid,
                      grid.tile_rect(trial_id))
    _settle()
    picture = view.grab()
    tip = _tooltip_window()
    if tip is not None:
        painter = QPainter(picture)
        at = grid.mapTo(view, centre) + QPoint(12, 12)
        tip_picture = tip.grab()
        x = min(at.x(), picture.width() - tip_picture.width() - 4)
        y = min(at.y(), picture.height() - tip_picture.height() - 4)
        painter.drawPixmap(max(0, x), max(0, y), tip_picture)
        painter.end()
    return picture


def _tooltip_window() -> QWidget | None:
    for widget in QApplication.topLevelWidgets():
        if widget.metaObject().className() == "QTipLabel" and widget.isVisible():
            return widget
    return None


def _table_picture(run: SyntheticRun, out_dir: Path) -> Path:
    table = TrialTable()
    table.resize(*TABLE_SIZE)
    table.set_trials(run.trials, KPI)
    table.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    table.show()
    _settle()
    path = out_dir / "trials-table.png"
    table.grab().save(str(path))
    table.close()
    return path


def _detail_pictures(run: SyntheticRun, out_dir: Path) -> list[Path]:
    record = next(t for t in run.trials if t.id == run.running[1])
    points = _with_more_metrics(run, record)
    facts = LiveFacts(step=int(max(p.step or 0 for p in points)))
    log = "\n".join(
        [f"[{record.host}] starting trial {record.number} (GPU {record.gpus[0]})"]
        + [f"epoch={p.step} loss={p.value:.4f}" for p in points if p.name == KPI]
        + [f"#sweeplab {{\"progress\": {facts.step}, \"total\": {run.max_steps}}}"])
    detail = TrialDetail(record, points, log, COMMAND.format(params="params.json"), KPI,
                         Goal.MIN)
    detail.resize(*DETAIL_SIZE)
    detail.show()
    _settle()
    curves = out_dir / "trial-detail-metrics.png"
    detail.grab().save(str(curves))
    detail.tabs.setCurrentWidget(detail.log)
    detail.log.find_box.setText("loss=0.9")
    _settle()
    log_path = out_dir / "trial-detail-log.png"
    detail.grab().save(str(log_path))
    detail.close()
    return [curves, log_path]


def _with_more_metrics(run: SyntheticRun, record: TrialRecord) -> list[MetricPoint]:
    """The trial's loss plus a val_loss and an accuracy that follow it."""
    own = [p for p in run.metric_points() if p.trial_id == record.id]
    more: list[MetricPoint] = []
    for p in own:
        more.append(replace(p, name="val_loss", value=p.value * 1.08 + 0.03))
        more.append(replace(p, name="accuracy", value=max(0.0, 1.0 - p.value / 2.4)))
    return own + more


def _settle() -> None:
    app = QApplication.instance()
    if app is not None:
        for _ in range(3):
            app.processEvents()
