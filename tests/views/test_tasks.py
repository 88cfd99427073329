"""Long actions off the GUI thread: progress shown, results and failures delivered."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget
from pytestqt.qtbot import QtBot

from app.views.tasks import TaskRunner


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


def test_a_failing_task_says_why_and_frees_the_runner(qtbot: QtBot, parent: QWidget,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    runner = TaskRunner(parent)

    def work(_progress: Callable[[int, int], None]) -> None:
        raise ValueError("code directory /nowhere does not exist")

    with qtbot.waitSignal(runner.finished, timeout=10_000) as ended:
        runner.run("start", "Packing…", work)
    assert ended.args == ["start", False]
    assert shown == ["code directory /nowhere does not exist"]
    assert runner.busy is None


def test_a_bug_in_a_task_is_an_internal_error_not_a_crash(qtbot: QtBot, parent: QWidget,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    runner = TaskRunner(parent)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.run("export", "…", lambda _p: {}["missing"])
    assert shown and shown[0].startswith("internal error: KeyError")
