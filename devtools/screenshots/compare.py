"""Pictures of the compare dialog and the parameter importance chart (a made-up run).

Called like the other ``screenshots`` modules by ``scripts/screenshots.py``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.data import ChartData
from app.views.charts.panel import ChartsPanel
from app.views.compare.dialog import CompareDialog
from devtools.synthetic import KPI, synthetic_run

COMPARE_SIZE = (1100, 820)
IMPORTANCE_SIZE = (1100, 560)
IMPORTANCE_TIMEOUT_S = 120.0


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render ``compare.png`` (three trials) and ``importance.png``; returns the PNGs written.

    Needs a QApplication (offscreen or Xvfb).

    Raises:
        RuntimeError: without a QApplication, or when the importance is not computed
            within :data:`IMPORTANCE_TIMEOUT_S`.
    """
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    run = synthetic_run(trials=300, max_steps=120, running=6, seed=3, prune=False)
    points = _with_more_metrics(run.metric_points())
    return [_compare_picture(run.trials, points, out_dir),
            _importance_picture(run.trials, points, out_dir)]


def _with_more_metrics(points: list[MetricPoint]) -> list[MetricPoint]:
    """The loss plus a val_loss and an accuracy that follow it."""
    more: list[MetricPoint] = []
    for p in points:
        more.append(replace(p, name="val_loss", value=p.value * 1.08 + 0.03))
        more.append(replace(p, name="accuracy", value=max(0.0, 1.0 - p.value / 2.4)))
    return points + more


def _compare_picture(trials: list[TrialRecord], points: list[MetricPoint],
                     out_dir: Path) -> Path:
    data = ChartData(KPI, Goal.MIN)
    data.set_trials(trials)
    data.add_points(points)
    completed = sorted((t for t in trials
                        if t.state is TrialState.COMPLETED and t.kpi is not None),
                       key=lambda t: t.kpi or 0.0)
    best = completed[0]
    same_optimizer = [t for t in completed[1:]
                      if t.params["optimizer"]["_name"] == best.params["optimizer"]["_name"]]
    chosen = [best.id, same_optimizer[len(same_optimizer) // 3].id, same_optimizer[-1].id]
    dialog = CompareDialog.from_chart_data(chosen, data)
    dialog.resize(*COMPARE_SIZE)
    dialog.show()
    _settle()
    path = out_dir / "compare.png"
    dialog.grab().save(str(path))
    dialog.close()
    return path


def _importance_picture(trials: list[TrialRecord], points: list[MetricPoint],
                        out_dir: Path) -> Path:
    panel = ChartsPanel(auto_refresh=False)
    panel.resize(*IMPORTANCE_SIZE)
    panel.set_experiment(KPI, Goal.MIN)
    panel.set_trials(trials)
    panel.add_points(points)
    panel.tabs.setCurrentWidget(panel.importance)
    panel.show()
    panel.refresh()
    deadline = time.monotonic() + IMPORTANCE_TIMEOUT_S
    while panel.importance.worker.busy or panel.importance.result is None:
        if time.monotonic() > deadline:
            raise RuntimeError("parameter importance was not computed in time")
        _settle()
        time.sleep(0.02)
    _settle()
    path = out_dir / "importance.png"
    panel.grab().save(str(path))
    panel.close()
    return path


def _settle() -> None:
    app = QApplication.instance()
    if app is not None:
        for _ in range(3):
            app.processEvents()
