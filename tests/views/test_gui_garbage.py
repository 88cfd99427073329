"""Python's cycle collector runs on the GUI thread while a main window is open.

Python collects cycles in whichever thread passes a generation's threshold; with the
window open that was a runner, trial or task thread as often as not. Freed there, a Qt
object in a cycle (a running timer) or a plain object whose method was connected to a
Qt signal (PySide then drops the connection's receiver on that thread) corrupted Qt's
state: the monkey's window crashed seconds later, painting an axis or a space preview.
Each case runs in a child process: without the fix the child dies of SIGSEGV.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from app.views.garbage import COLLECT_MS, collect_on_gui_thread, gui_collector

WINDOW = """
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
"""
CLOSE = """
workspace.close()
window.close()
app.processEvents()
store.close()
"""

CYCLE = """
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
"""
"""A running timer in a cycle, garbage from its end on, and ``allocate``, what a thread
beside it does; the child starts that thread (on ``allocate``), joins it, then runs
:data:`WAIT_FREED`."""
WAIT_FREED = """
end = time.monotonic() + 5
while time.monotonic() < end and not (freed_on and time.monotonic() > end - 4):
    app.processEvents()  # the GUI thread goes on (a crash shows here, or at its end)
    time.sleep(0.01)
"""

CHILD = WINDOW + CYCLE + """
worker = threading.Thread(target=allocate, name="runner")
worker.start()
worker.join()
""" + WAIT_FREED + CLOSE + """
print("freed on", freed_on, flush=True)
"""


def test_a_qt_object_in_a_cycle_is_freed_on_the_gui_thread_while_the_window_is_open(
        tmp_path: Path) -> None:
    """In a child process: freed on an allocating thread, the object's running timer broke
    Qt and the child died of a segmentation fault."""
    result = _run_child(tmp_path, CHILD)
    assert "freed on ['MainThread']" in result.stdout, result.stdout + result.stderr[-3000:]


RECEIVERS_CHILD = WINDOW + """
from PySide6.QtCore import QObject, Signal

class Sender(QObject):
    said = Signal(object)

class Receiver:  # a plain object in a cycle, its method connected to a Qt signal
    def __init__(self):
        self.me = self
    def heard(self, _value):
        pass

stop = threading.Event()
def allocate():  # what the engine's threads do all the time
    kept = []
    while not stop.is_set():
        kept.append([[] for _ in range(50)])
        if len(kept) > 200:
            kept.clear()
        time.sleep(0)

workers = [threading.Thread(target=allocate) for _ in range(2)]
for worker in workers:
    worker.start()
sender = Sender()
end = time.monotonic() + 3
said = 0
while time.monotonic() < end:
    for _ in range(20):
        receiver = Receiver()
        sender.said.connect(receiver.heard)
        del receiver  # garbage, freed by the collector, on whichever thread runs it
        sender.said.emit(said)
        said += 1
    app.processEvents()
stop.set()
for worker in workers:
    worker.join()
""" + CLOSE + """
print("said", said, flush=True)
"""


def test_signal_receivers_in_cycles_are_dropped_on_the_gui_thread_while_the_window_is_open(
        tmp_path: Path) -> None:
    """In a child process: collected on an allocating thread, the receivers' connections
    were dropped there while the GUI thread emitted; the child died within a second."""
    result = _run_child(tmp_path, RECEIVERS_CHILD)
    assert "said" in result.stdout, result.stdout + result.stderr[-3000:]


WORKER_CHILD = """
import gc, sys, threading, time, weakref
from PySide6.QtWidgets import QApplication
from app.views.bridge import GuiInbox, start_worker

app = QApplication([])  # no window: a widget of its own runs a worker (importance)
""" + CYCLE + """
worker = start_worker(allocate, name="importance")
worker.join()
""" + WAIT_FREED + """
print("freed on", freed_on, "automatic", gc.isenabled(), flush=True)
"""


def test_a_worker_started_without_a_window_never_frees_a_qt_object(tmp_path: Path) -> None:
    """In a child process: the importance forest, computed for a chart without a window,
    set off a collection on its own thread that destroyed a timer there; CI's worker
    died of a segmentation fault. Until the worker ends, the GUI thread collects; after,
    collection is automatic again."""
    result = _run_child(tmp_path, WORKER_CHILD)
    assert "freed on ['MainThread'] automatic True" in result.stdout, (
        result.stdout + result.stderr[-3000:])


def test_a_thread_holds_the_collector_from_before_it_starts_until_it_has_ended(
        qtbot: QtBot) -> None:
    collector = gui_collector()
    go = threading.Event()
    thread = threading.Thread(target=go.wait, daemon=True)
    collector.hold_until_ended(thread)
    qtbot.wait(2 * COLLECT_MS)  # ticks before it starts: not ended yet
    assert thread in collector.threads and collector.active and not gc.isenabled()
    thread.start()
    qtbot.wait(2 * COLLECT_MS)
    assert thread in collector.threads
    go.set()
    qtbot.waitUntil(lambda: thread not in collector.threads, timeout=5000)


def test_a_window_made_while_a_thread_holds_the_collector_freezes_what_lives(
        qtbot: QtBot) -> None:
    """A worker thread that outlived its window held the collector: a window made then
    froze nothing, and a full collection in it walked all that was made since (685 ms
    of the GUI thread in the monkey on CI)."""
    collector = gui_collector()
    go = threading.Event()
    thread = threading.Thread(target=go.wait, daemon=True)
    collector.hold_until_ended(thread)
    thread.start()
    window = QObject()
    try:
        kept = [[] for _ in range(10_000)]
        before = gc.get_freeze_count()
        collect_on_gui_thread(window)
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        go.set()
        shiboken6.delete(window)


def _run_child(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = folder / "child.py"
    script.write_text(code)
    root = Path(__file__).parents[2]
    result = subprocess.run([sys.executable, str(script), str(folder)],
                            capture_output=True, text=True, timeout=120, cwd=root,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                 "PYTHONPATH": str(root)})
    assert result.returncode == 0, f"child ended with {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def testgui_collector_is_shared_collects_what_is_due_and_ends_with_its_holders(
        qtbot: QtBot) -> None:
    first, second = QObject(), QObject()
    collector = collect_on_gui_thread(first)
    others = collector.holders - 1  # windows earlier tests of this worker left alive
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
    assert collector.holders == others
    if others == 0:
        assert not collector.active
        qtbot.waitUntil(gc.isenabled, timeout=2000)  # the event loop's next turn


LAST_HOLDER_CHILD = """
import gc
import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer
from app.views.garbage import collect_on_gui_thread

app = QCoreApplication([])
holder = QObject()
collect_on_gui_thread(holder)
child = QObject(holder)
during = []
child.destroyed.connect(lambda *_: during.append(gc.isenabled()))
shiboken6.delete(holder)
right_after = gc.isenabled()
QTimer.singleShot(50, app.quit)
app.exec()
print("during", during, "right after", right_after, "next turn", gc.isenabled(), flush=True)
"""


def test_the_automatic_collector_stays_off_while_the_last_holder_is_destroyed(
        tmp_path: Path) -> None:
    """In a child process (the only holder there): the last holder's ``destroyed`` comes
    before its children go; turned on there, the automatic collector ran inside their
    destructors and a Qt object it freed deadlocked on Qt's lock (a window's teardown
    hung for good in ``~QObject``). It comes back on in the event loop's next turn."""
    result = _run_child(tmp_path, LAST_HOLDER_CHILD)
    assert "during [False] right after False next turn True" in result.stdout, (
        result.stdout + result.stderr[-3000:])


def testgui_collector_follows_the_thresholds_set_now(qtbot: QtBot) -> None:
    """While an experiment loads, its first threshold is raised (loading.py): the GUI
    thread's collector must follow it, or it walks the loading data twice a second
    (seen as 100-170 ms stalls opening 10,000 trials)."""
    holder = QObject()
    collector = collect_on_gui_thread(holder)
    before = gc.get_threshold()
    try:
        gc.set_threshold(1_000_000, *before[1:])
        gc.collect(0)
        kept = [[] for _ in range(5_000)]  # past the usual 700, far below a million
        assert collector.collect() == 0
        assert gc.get_count()[0] > 4_000  # no collection ran
        gc.set_threshold(*before)
        for _ in range(100):
            kept.extend([] for _ in range(100))
            collector.collect()
            if gc.get_count()[0] < 1_000:
                break
        assert gc.get_count()[0] < 1_000  # collected at the usual threshold again
    finally:
        gc.set_threshold(*before)
        shiboken6.delete(holder)
