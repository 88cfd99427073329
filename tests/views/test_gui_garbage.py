"""Qt objects left in reference cycles are freed on the GUI thread, never on the engine's.

Python collects cycles in whichever thread passes a generation's threshold; with the
window open that was a runner, trial or task thread as often as not, and a Qt object
freed there (a running timer, a widget, a plot) corrupted the heap: the monkey's window
then crashed a few seconds later, painting an axis or a space preview.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from app.views.garbage import collect_on_gui_thread

CHILD = """
import gc, sys, threading, time, weakref
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from app.application.workspace import Workspace
from app.store.store import Store
from app.views.bridge import GuiInbox
from app.views.main_window import MainWindow

folder = Path(sys.argv[1])
app = QApplication([])
store = Store(f"sqlite:///{folder / 'gui.db'}")
workspace = Workspace(store, grace=1.0)
window = MainWindow(workspace, "test", QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat))
window.show()
app.processEvents()
freed_on = []
refs = []

def make_cycle():
    holder = {}
    inbox = GuiInbox(lambda _items: holder.clear(), 10)
    holder["inbox"] = inbox  # inbox -> handler -> holder -> inbox
    inbox.start()  # a running timer: freed on another thread, Qt's state breaks
    refs.append(weakref.ref(inbox, lambda _ref: freed_on.append(threading.current_thread().name)))

kept = []
def allocate():  # what a runner thread does all the time: allocate, keep some
    kept.extend([] for _ in range(20_000))

gc.collect()  # what is young from here on: the cycle and the worker's lists
make_cycle()
worker = threading.Thread(target=allocate, name="runner")
worker.start()
worker.join()
end = time.monotonic() + 5
while time.monotonic() < end and not (freed_on and time.monotonic() > end - 4):
    app.processEvents()  # the GUI thread goes on (a crash shows here, or at its end)
    time.sleep(0.01)
workspace.close()
window.close()
app.processEvents()
store.close()
print("freed on", freed_on, flush=True)
"""


def test_a_qt_object_in_a_cycle_is_freed_on_the_gui_thread_while_the_window_is_open(
        tmp_path: Path) -> None:
    """In a child process: freed on a foreign thread, the object's timer broke Qt and the
    child died of a segmentation fault."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    result = subprocess.run([sys.executable, str(script), str(tmp_path)],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parents[2],
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                 "PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.returncode == 0, f"child ended with {result.returncode}:\n{result.stderr[-3000:]}"
    assert "freed on ['MainThread']" in result.stdout, result.stdout + result.stderr[-3000:]


def test_the_collector_is_shared_collects_what_is_due_and_ends_with_its_holders(
        qtbot: QtBot) -> None:
    first, second = QObject(), QObject()
    collector = collect_on_gui_thread(first)
    assert collect_on_gui_thread(second) is collector
    assert collector.active and not gc.isenabled()
    freed: list[bool] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    cycle = Cycle()
    weak = weakref.ref(cycle, lambda _ref: freed.append(True))
    del cycle
    kept: list[object] = []
    for _ in range(100):  # allocate until the first threshold is passed, as a program does
        kept.extend([] for _ in range(100))
        collector.collect()
        if freed:
            break
    assert freed and weak() is None
    shiboken6.delete(first)
    assert collector.active and not gc.isenabled()
    shiboken6.delete(second)
    assert not collector.active and gc.isenabled()
