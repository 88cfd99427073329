"""Render the app's windows to docs/screenshots/ (run by `make screenshots`).

Uses a throwaway database and data directory with the demo experiment, runs a
short optimisation for real, and grabs the window while it runs. Works under
Xvfb or Qt's offscreen platform.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def wait(app: object, predicate: object, timeout: float = 60.0) -> None:
    """Process events until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the optimisation")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="sweeplab-shots-"))
    os.environ["SWEEPLAB_HOME"] = str(tmp / "home")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.application.workspace import Workspace
    from app.engine.experiment import load_experiment
    from app.engine.trial import TrialState
    from app.store.store import Store
    from app.views.experiment_dialog import ExperimentDialog
    from app.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "quadratic", tmp / "quadratic")
    store = Store(f"sqlite:///{tmp / 'demo.db'}")
    workspace = Workspace(store, grace=1.0)
    demo = workspace.create(load_experiment(tmp / "quadratic" / "experiment.yaml"))
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(workspace, "demo", settings)
    window.resize(1400, 820)
    window.show()

    def save(name: str, widget: object) -> None:
        app.processEvents()
        path = OUT / name
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        print(f"wrote {path.relative_to(ROOT)}")

    preview = window.panels.space.preview
    wait(app, lambda: preview.message.text() != "Sampling…")  # sampled once painted
    save("main-window.png", window)
    window.start()
    wait(app, lambda: sum(t.state is TrialState.COMPLETED
                          for t in workspace.trials(demo.id)) >= 8)
    window.tabs.setCurrentWidget(window.panels.trials)
    wait(app, lambda: not window.panels.trials.table.fitter.pending)  # columns fitted
    save("trials-running.png", window)
    window.tabs.setCurrentWidget(window.panels.charts)
    window.panels.charts.refresh_all()
    save("charts-running.png", window)
    window.stop()
    wait(app, lambda: not workspace.is_running(demo.id))

    # population-based training: the example's population of 4, trained at once
    os.environ["SWEEPLAB_LOCAL_SLOTS"] = "4"
    shutil.copytree(ROOT / "examples" / "pbt_mlp", tmp / "pbt_mlp")
    pbt = workspace.create(load_experiment(tmp / "pbt_mlp" / "experiment.yaml"))
    window.reload_experiments(select_name=pbt.name)
    wait(app, lambda: window.current_id == pbt.id and not window.is_loading())
    window.start()
    wait(app, lambda: workspace.trials(pbt.id) and all(
        t.state.is_finished() for t in workspace.trials(pbt.id))
        and not workspace.is_running(pbt.id), timeout=240.0)
    window.tabs.setCurrentWidget(window.pbt)
    window.pbt.refresh()
    wait(app, lambda: window.pbt.picture is not None
         and window.pbt.picture.schedule is not None)
    save("pbt-tab.png", window)

    dialog = ExperimentDialog(config=load_experiment(ROOT / "examples" / "digits-mlp"
                                                     / "experiment.yaml"))
    dialog.max_epochs.setValue(0)  # asha without max epochs: the message shows beside it
    dialog.scheduler.setCurrentText("asha")
    dialog.show()
    save("new-optimisation-dialog.png", dialog)
    dialog.close()
    from devtools.screenshots.compare import render_screenshots as compare_shots
    from devtools.screenshots.help import render_screenshots as help_shots
    from devtools.screenshots.servers import render_screenshots as servers_shots
    from devtools.screenshots.space_editor import render_screenshots as editor_shots
    from devtools.screenshots.trials import render_screenshots as trials_shots

    for path in [*editor_shots(OUT), *trials_shots(OUT), *servers_shots(OUT),
                 *help_shots(OUT), *compare_shots(OUT)]:
        print(f"wrote {path.relative_to(ROOT)}")
    window.close()
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
