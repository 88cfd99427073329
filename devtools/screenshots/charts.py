"""Pictures of the Charts tab with a made-up run (called by scripts/screenshots.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.engine.search.base import Goal
from app.views.charts.panel import ChartsPanel
from devtools.synthetic import KPI, synthetic_run

SIZE = (1100, 560)


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render each chart of a 300-trial run with 6 trials running; returns the PNGs written.

    Needs a QApplication (offscreen or Xvfb).
    """
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    run = synthetic_run(trials=300, max_steps=120, running=6, seed=3)
    panel = ChartsPanel(auto_refresh=False)
    panel.resize(*SIZE)
    panel.set_experiment(KPI, Goal.MIN)
    panel.set_trials(run.trials)
    panel.add_points(run.metric_points())
    panel.show()
    written = []
    names = ["charts-kpi-curves", "charts-best-so-far", "charts-parallel-coordinates",
             "charts-kpi-vs-param"]
    for index, name in enumerate(names):
        panel.tabs.setCurrentIndex(index)
        if index == 3:
            panel.scatter.set_param("lr")
        panel.refresh()
        app.processEvents()
        path = out_dir / f"{name}.png"
        panel.grab().save(str(path))
        written.append(path)
    panel.close()
    return written
