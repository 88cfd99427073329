"""Long actions off the GUI thread: progress shown, results and failures delivered."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget
from pytestqt.qtbot import QtBot

from app.views.tasks import TaskRunner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def parent(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_a_long_task_shows_progress_and_delivers_its_result(qtbot: QtBot,
                                                            parent: QWidget) -> None:
    runner = TaskRunner(parent)
    release = threading.Event()
    results: list[object] = []

    def work(progress: Callable[[int, int], None]) -> str:
        progress(3, 4)
        assert release.wait(30)
        return "done"

    assert runner.run("pack", "Packing…", work, results.append)
    assert runner.busy == "pack"
    assert not runner.run("other", "…", lambda _p: None), "one task at a time"
    qtbot.waitUntil(lambda: any(d.isVisible() and d.value() == 750
                                for d in parent.findChildren(QProgressDialog)), timeout=5000)
    with qtbot.waitSignal(runner.finished, timeout=10_000) as ended:
        release.set()
    assert ended.args == ["pack", True] and results == ["done"] and runner.busy is None


def shown_boxes(parent: QWidget) -> list[str]:
    """The texts of the message boxes open over ``parent``."""
    return [box.text() for box in parent.findChildren(QMessageBox) if box.isVisible()]


def test_a_failing_task_says_why_and_frees_the_runner(qtbot: QtBot, parent: QWidget) -> None:
    runner = TaskRunner(parent)

    def work(_progress: Callable[[int, int], None]) -> None:
        raise ValueError("code directory /nowhere does not exist")

    with qtbot.waitSignal(runner.finished, timeout=10_000) as ended:
        runner.run("start", "Packing…", work)
    assert ended.args == ["start", False]
    assert shown_boxes(parent) == ["code directory /nowhere does not exist"]
    assert runner.busy is None
    box = parent.findChildren(QMessageBox)[0]
    assert box.isModal(), "the box keeps the window until it is read"
    box.accept()
    qtbot.waitUntil(lambda: not parent.findChildren(QMessageBox), timeout=5000)


def test_a_bug_in_a_task_is_an_internal_error_not_a_crash(qtbot: QtBot, parent: QWidget) -> None:
    runner = TaskRunner(parent)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.run("export", "…", lambda _p: {}["missing"])
    shown = shown_boxes(parent)
    assert shown and shown[0].startswith("internal error: KeyError")


CLOSED_FIRST = """
import os, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication, QWidget
from app.views.tasks import TaskRunner
app = QApplication([])
window = QWidget()
window.show()
runner = TaskRunner(window)
def work(progress):
    raise ValueError("the code directory went away")
runner.run("start", "Packing…", work)
inbox = runner._inbox
deadline = time.monotonic() + 30
while not (inbox.mailbox._queue.qsize() and inbox._timer.remainingTime() == 0):
    assert time.monotonic() < deadline, "the failure never reached the inbox"
# the failure waits, its drain is due: the window goes now, outside any event loop,
# as pytest-qt deletes a test's widgets
window.close()
window.deleteLater()
for _ in range(100):
    app.processEvents()
print("survived")
"""


def test_a_task_failing_after_its_window_closed_does_not_crash_the_process() -> None:
    """The failure's word arrives after the window was closed and deleted (a test's
    teardown, or a quit during a pack): the old static box's nested event loop deleted
    the window, and its own stack box with it (CI: "double free or corruption")."""
    done = subprocess.run([sys.executable, "-c", CLOSED_FIRST], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]
