"""Render the app's windows to docs/screenshots/ (run by `make screenshots`).

Uses a throwaway database with the demo experiment, so the pictures are the same
on every machine. Works under Xvfb or Qt's offscreen platform.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.main import ensure_demo, stored_experiments
    from app.store.store import Store
    from app.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{tmp}/demo.db") as store:
        ensure_demo(store)
        window = MainWindow(stored_experiments(store), "demo")
    window.resize(1300, 640)
    window.show()
    app.processEvents()
    path = OUT / "main-window.png"
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")
    window.close()

    from app.engine.experiment import load_experiment
    from app.views.experiment_dialog import ExperimentDialog

    config = load_experiment(ROOT / "examples" / "digits-mlp" / "experiment.yaml")
    dialog = ExperimentDialog(config=config, title="New optimisation")
    dialog.max_epochs.setValue(0)  # asha without max epochs: the message shows beside it
    dialog.scheduler.setCurrentText("asha")
    dialog.show()
    app.processEvents()
    path = OUT / "new-optimisation-dialog.png"
    dialog.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")
    dialog.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
