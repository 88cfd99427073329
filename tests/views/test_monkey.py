"""A monkey in the window: random clicks, keys, tab and experiment switches and dialogs
on a window whose experiment runs real trials, beside a finished one and an empty one.

Fails on a Python exception reaching Qt's event loop or a GUI stall over 200 ms (see
``devtools/monkey.py`` for how a stall is told from a loaded machine). A crash ends the
worker, which pytest reports. ``bench/monkey.py`` runs the same for minutes; the seed of
any failure it finds goes into ``REGRESSION_SEEDS`` here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.engine.trial import TrialState
from app.views.main_window import MainWindow
from devtools.monkey import Monkey, busy_window

# Seeds a longer run once failed with, kept as regression tests (none so far).
REGRESSION_SEEDS: list[int] = []
SECONDS = 12.0


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[MainWindow]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.chdir(tmp_path)  # whatever a dialog saves by accident lands here
    with busy_window(tmp_path) as shown:
        qtbot.waitUntil(lambda: any(t.state is TrialState.RUNNING
                                    for e in shown.workspace.experiments()
                                    for t in shown.workspace.trials(e.id)), timeout=30_000)
        yield shown


@pytest.mark.parametrize("seed", [11, 23, *REGRESSION_SEEDS])
def test_a_monkey_meets_no_exception_and_no_stall(qtbot: QtBot, window: MainWindow,
                                                  seed: int) -> None:
    end = time.monotonic() + SECONDS
    monkey = Monkey(window, seed)
    monkey.start()
    try:
        qtbot.waitUntil(lambda: time.monotonic() > end, timeout=int(SECONDS * 1000) + 60_000)
    finally:
        report = monkey.stop()
    assert report.actions > 100, f"the monkey acted only {report.actions} times"
    assert not report.problems(), report.problems()


@pytest.mark.qt_no_exception_capture  # the monkey's own hook is what this checks
def test_the_monkey_reports_an_exception_and_a_busy_gui_thread(qtbot: QtBot) -> None:
    """What the monkey fails on is seen: a slot that raises, a slot that keeps the GUI
    thread busy for 300 ms (and neither is met in a window without them)."""
    window = QMainWindow()
    qtbot.addWidget(window)
    buttons = QWidget()
    layout = QVBoxLayout(buttons)
    raising, busy = QPushButton("raise"), QPushButton("busy")
    layout.addWidget(raising)
    layout.addWidget(busy)
    window.setCentralWidget(buttons)
    window.show()

    def fail() -> None:
        raise RuntimeError("a slot failed")

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass

    raising.clicked.connect(fail)
    busy.clicked.connect(spin)
    monkey = Monkey(window, 5)
    monkey.start()
    try:
        qtbot.waitUntil(lambda: bool(monkey.report.exceptions and monkey.report.counted_stalls),
                        timeout=60_000)
    finally:
        report = monkey.stop()
    assert "a slot failed" in report.exceptions[0]
    assert report.counted_stalls[0].cpu_seconds >= 0.2
    assert "in spin" in "".join(report.counted_stalls[0].stack)
    assert "GUI stall of" in report.problems() and "seed 5" in report.problems()
