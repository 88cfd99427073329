"""Building a main window over a real SQLite file for the menu, export and notify tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.application.workspace import Workspace
from app.engine.records import TrialRecord
from app.engine.trial import TrialState
from app.store.store import Store
from app.views.main_window import MainWindow
from app.views.notify import Notification


class Recorder:
    """A notifier that keeps what it is asked to show."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def notify(self, notification: Notification) -> None:
        self.sent.append(notification)


@contextmanager
def open_window(qtbot: QtBot, tmp_path: Path, **options: Any) -> Iterator[MainWindow]:
    """A shown window over ``tmp_path/gui.db``; workspace and store closed at the end."""
    store = Store(f"sqlite:///{tmp_path / 'gui.db'}")
    workspace = Workspace(store, grace=1.0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(workspace, "test", settings, **options)
    qtbot.addWidget(window)
    window.show()
    try:
        yield window
    finally:
        workspace.close()  # runs end first, so closing the window asks nothing
        window.close()
        QApplication.processEvents()  # what the runs said on ending, while the store is open
        store.close()


def wait_loaded(window: MainWindow, timeout: float = 10.0) -> None:
    """Wait until the shown experiment's trials and points are read (off the GUI thread)."""
    deadline = time.monotonic() + timeout
    while window.is_loading():
        assert time.monotonic() < deadline, f"experiment {window.current_id} still loading"
        QTest.qWait(5)


def finished_trial(workspace: Workspace, experiment_id: int, params: dict[str, Any],
                   state: TrialState, kpi: float | None, host: str = "local") -> TrialRecord:
    """A trial stored through its real life: queued, running, then ``state``."""
    record = workspace.store.create_trial(experiment_id, params)
    workspace.store.update_trial(record.id, state=TrialState.RUNNING, host=host)
    return workspace.store.update_trial(record.id, state=state, kpi=kpi)


class Answer:
    """Clicks the button named ``button`` in the next message box shown (a modal one,
    as a person would), and keeps what the box said and offered."""

    def __init__(self, button: str) -> None:
        self.button = button
        self.text = ""
        self.buttons: list[str] = []
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._answer)
        self._timer.start()

    @property
    def asked(self) -> bool:
        """A box was shown and answered."""
        return bool(self.buttons)

    def cancel(self) -> None:
        """No box is expected any more."""
        self._timer.stop()

    def _answer(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        self._timer.stop()
        self.text = f"{box.text()}\n{box.informativeText()}"
        self.buttons = [button.text().replace("&", "") for button in box.buttons()]
        chosen = [button for button in box.buttons()  # "&Yes" is the Yes button
                  if button.text().replace("&", "") == self.button]
        (chosen[0] if chosen else box.escapeButton()).click()
