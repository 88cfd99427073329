"""A monkey in the window: random clicks, keys, tab and experiment switches and dialogs
on a window whose experiment runs real trials, beside a finished one and an empty one.

Fails on a Python exception reaching Qt's event loop or a GUI stall over 200 ms (see
``devtools/monkey.py`` for how a stall is told from a loaded machine). A crash ends the
worker, which pytest reports. ``bench/monkey.py`` runs the same for minutes; the seed of
any failure it finds goes into ``REGRESSION_SEEDS`` here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QLineEdit, QMainWindow, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.engine.trial import TrialState
from app.views.main_window import MainWindow
from devtools.monkey import Monkey, busy_window

# Seeds a longer run once failed with, kept as regression tests (none so far; the
# short runs' own seeds 11 and 23 found the native crash, a sort column outliving its
# experiment and a modal opened after stop: see docs/RELIABILITY.md).
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
    # about 8 actions a second on a quiet machine, fewer at load 15 (6 a second seen)
    assert report.actions > 50, f"the monkey acted only {report.actions} times"
    assert not report.problems(), report.problems()


@pytest.mark.qt_no_exception_capture  # the monkey's own hook is what this checks
def test_the_monkey_reports_an_exception_a_busy_and_a_blocked_gui_thread(qtbot: QtBot) -> None:
    """What the monkey fails on is seen: a slot that raises, one that keeps the GUI thread
    busy for 300 ms, one that blocks it for 400 ms on a wait in "our" code."""
    window = QMainWindow()
    qtbot.addWidget(window)
    buttons = QWidget()
    layout = QVBoxLayout(buttons)
    raising, busy, blocked = QPushButton("raise"), QPushButton("busy"), QPushButton("wait")
    for button in (raising, busy, blocked):
        layout.addWidget(button)
    window.setCentralWidget(buttons)
    window.show()

    def fail() -> None:
        raise RuntimeError("a slot failed")

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass

    def block() -> None:
        threading.Event().wait(0.4)

    raising.clicked.connect(fail)
    busy.clicked.connect(spin)
    blocked.clicked.connect(block)
    monkey = Monkey(window, 5, own_code=("/tests/views/",))
    monkey.start()

    def seen_all() -> bool:
        stalls = monkey.report.counted_stalls
        return bool(monkey.report.exceptions and any(s.cpu_seconds >= 0.2 for s in stalls)
                    and any(s.blocked_in_app for s in stalls))

    try:
        qtbot.waitUntil(seen_all, timeout=90_000)
    finally:
        report = monkey.stop()
    assert "a slot failed" in report.exceptions[0]
    busy_stall = next(s for s in report.counted_stalls if s.cpu_seconds >= 0.2)
    assert "in spin" in "".join(busy_stall.stack)
    blocked_stall = next(s for s in report.counted_stalls if s.blocked_in_app)
    assert "in block" in "".join(blocked_stall.stack) and blocked_stall.seconds >= 0.3
    assert "GUI stall of" in report.problems() and "seed 5" in report.problems()


def test_the_monkey_goes_on_when_the_field_it_types_into_is_gone(qtbot: QtBot) -> None:
    """A field deleted mid-typing (its dialog closed) ends the typing, as for a person;
    the monkey once failed on the dead field at every tick and never acted again."""
    window = QMainWindow()
    qtbot.addWidget(window)
    field = QLineEdit()
    window.setCentralWidget(field)
    window.show()
    monkey = Monkey(window, 3)
    monkey._type(window)  # starts typing into the only field
    assert monkey._typing is not None
    shiboken6.delete(field)
    for _ in range(20):
        monkey._act_once()
    assert not [line for line in monkey.report.log if line.startswith("(monkey:")], \
        monkey.report.log
    assert monkey._typing is None
