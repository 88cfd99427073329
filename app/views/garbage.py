"""Python's cycle collector runs on the GUI thread only, while the window runs the engine.

CPython collects reference cycles in whichever thread happens to allocate when a
generation's threshold is passed: with the window open that is as often a runner, trial
or task thread as the GUI thread. What such a collection frees is undone on that thread:
a Qt object in a cycle is destroyed there (a running timer killed from the wrong thread),
and a plain object whose method was connected to a Qt signal has its connection's
receiver dropped there by PySide while the GUI thread may be emitting. Qt's state is
then corrupt and the GUI thread crashes later, anywhere (seen: segmentation faults in
pyqtgraph's ``AxisItem.boundingRect``, a space preview's ``paintEvent``, the trials
legend's ``paintEvent``). Both cases crash a child process of
``tests/views/test_gui_garbage.py`` within a second without this module.

:func:`collect_on_gui_thread` turns the automatic collector off and collects from a
timer on the GUI thread instead, by the same generation thresholds, so every Qt object
freed by the collector is destroyed on the thread that owns it. What exists when a
window is made (modules, classes, the libraries' tables: some 220,000 objects once the
window is up) is frozen out of the collector's sight: a full collection then costs next to
nothing instead of ~130 ms of the GUI thread's time (the monkey counted that as a
stall once every full collection landed on the GUI thread).
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Slot

COLLECT_MS = 500
"""How often the GUI thread looks whether a collection is due."""


class GuiGarbageCollector(QObject):
    """Collects Python's cyclic garbage on the GUI thread, on a timer, while anything
    holds it (a Qt object until it is destroyed, :meth:`hold`; a thread until it has
    ended, :meth:`hold_until_ended`); automatic collection (on any thread) is off
    meanwhile and back on, as it was, once the last holder is gone.

    Args:
        interval_ms: how often to look whether a generation's threshold was passed.
        parent: the owner on the GUI thread (the application).
    """

    def __init__(self, interval_ms: int = COLLECT_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._holders = 0
        self._threads: list[threading.Thread] = []
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    @property
    def holders(self) -> int:
        """How many live objects (main windows) and running threads (the views'
        workers) hold it."""
        return self._holders

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The threads that hold it (not started yet, or not seen to end yet)."""
        return tuple(self._threads)

    @property
    def active(self) -> bool:
        """Whether collection is on the GUI thread now (someone holds it)."""
        return self._holders > 0

    def hold(self, holder: QObject) -> None:
        """Collect on the GUI thread until ``holder`` (a main window) is destroyed (and
        every other holder too). What lives when a window is made lives on: it is
        frozen out of the collector's walks, whoever held the collector before (a
        worker thread of an earlier window could hold it for good: then nothing was
        frozen again, and a full collection walked everything made since)."""
        self._acquire()
        gc.freeze()
        holder.destroyed.connect(self._release)

    def hold_until_ended(self, thread: threading.Thread) -> None:
        """Collect on the GUI thread until ``thread`` has started and ended (and every
        other holder is gone). Call before starting it: from its first allocation on,
        it must never run the collector, or it frees the Qt objects of whatever
        garbage is pending (a window it outlives, a widget without a window: an
        importance forest computed for a chart of its own set off collections that
        destroyed pyqtgraph items on its thread, and the process crashed).
        :func:`app.views.bridge.start_worker` does, for every thread the views start."""
        self._acquire()
        self._threads.append(thread)

    def _acquire(self) -> None:
        if self._holders == 0:
            gc.disable()
            self._timer.start()
        self._holders += 1

    @Slot()
    def _release(self) -> None:
        self._holders -= 1
        if self._holders == 0:
            self._timer.stop()
            # The holder is being destroyed (its ``destroyed`` signal, sent before its
            # children go): turned on here, the automatic collector ran inside the
            # children's destructors, where an allocation set it off, and a Qt object
            # it freed there deadlocked on Qt's own lock (a test's teardown hung for
            # good in ``~QObject``). It comes back on in the event loop's next turn.
            QTimer.singleShot(0, self, self._resume_automatic)

    @Slot()
    def _resume_automatic(self) -> None:
        """Automatic collection on again, unless a new holder came meanwhile."""
        if self._holders == 0 and not gc.isenabled():
            gc.unfreeze()
            gc.enable()

    @Slot()
    def _tick(self) -> None:
        """The timer: let the threads that have ended go, then collect what is due."""
        ended = [thread for thread in self._threads
                 if thread.ident is not None and not thread.is_alive()]
        for thread in ended:
            self._threads.remove(thread)
            self._release()
        self.collect()

    @Slot()
    def collect(self) -> int:
        """Collect the generations whose thresholds were passed, as CPython would have
        done itself; returns how many unreachable objects were found. The thresholds
        are the interpreter's as set now (an experiment being loaded raises the first:
        see :data:`app.views.loading.LOADING_GC_THRESHOLD`)."""
        count0, count1, count2 = gc.get_count()
        threshold0, threshold1, threshold2 = gc.get_threshold()
        if count0 <= threshold0:
            return 0
        generation = 0
        if count1 + 1 > threshold1:
            generation = 2 if count2 + 1 > threshold2 else 1
        return gc.collect(generation)


def collect_on_gui_thread(holder: QObject) -> GuiGarbageCollector:
    """Collect Python's cyclic garbage on the GUI thread only, until ``holder`` is
    destroyed (one collector per application, shared by every holder).

    Call on the GUI thread before any thread that allocates Python objects starts beside
    Qt objects (the main window does, since it runs the engine's threads).

    Raises:
        RuntimeError: without an application, or off its thread.
    """
    collector = gui_collector()
    collector.hold(holder)
    return collector


def gui_collector() -> GuiGarbageCollector:
    """The application's collector, made on first use.

    Raises:
        RuntimeError: without an application, or off its thread.
    """
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("the cycle collector needs a Qt application to run on")
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("the cycle collector must be set up on the GUI thread")
    collector = app.findChild(GuiGarbageCollector)
    if not isinstance(collector, GuiGarbageCollector):
        collector = GuiGarbageCollector(parent=app)
    return collector
