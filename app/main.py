"""The GUI's composition root: build the window on a space and run Qt."""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_SPACE = Path(__file__).resolve().parent.parent / "examples" / "quadratic" / "space.yaml"


def run_gui(demo: bool = False, smoke: bool = False) -> int:
    """Open the main window on the demo space; ``smoke`` shows it once and exits."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.engine.space.files import load_space
    from app.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Sweeplab")
    app.setOrganizationName("Sweeplab")
    window = MainWindow(load_space(DEMO_SPACE), "demo: quadratic")
    window.show()
    if smoke:
        QTimer.singleShot(0, app.quit)
    return int(app.exec())
