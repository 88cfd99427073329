"""The GUI's composition root: open the store, make sure the demo exists, show the window."""

from __future__ import annotations

import sys
from pathlib import Path

from app.engine.experiment import load_experiment
from app.store.store import Store
from app.wiring import open_store

DEMO_EXPERIMENT = (
    Path(__file__).resolve().parent.parent / "examples" / "quadratic" / "experiment.yaml"
)


def ensure_demo(store: Store) -> None:
    """Store the demo experiment (the quadratic example) unless it is there already."""
    config = load_experiment(DEMO_EXPERIMENT)
    if config.name not in {e.name for e in store.list_experiments()}:
        store.create_experiment(config.name, config.to_dict())


def run_gui(demo: bool = False, smoke: bool = False, db: str | None = None) -> int:
    """Open the main window on the user's database; ``smoke`` shows it once and exits."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.session import Session
    from app.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Sweeplab")
    app.setOrganizationName("Sweeplab")
    store = open_store(db)
    if demo or not store.list_experiments():
        ensure_demo(store)
    session = Session(store)
    window = MainWindow(session, store.url)
    window.show()
    if smoke:
        QTimer.singleShot(0, window.close)
    code = int(app.exec())
    store.close()
    return code
