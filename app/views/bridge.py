"""The one way across threads in the views: a queue that the GUI thread drains.

Every piece of work off the GUI thread (a runner's events, a packing or export
task, the importance forest) reaches the widgets the same way:

1. the foreign thread hands a plain value to :meth:`GuiInbox.post` (thread-safe; it
   never touches a Qt object and never emits a Qt signal);
2. a :class:`QTimer` of the :class:`GuiInbox`, living on the GUI thread, drains the
   queue every few milliseconds and hands the batch, in order, to the owner's
   handler, which updates models and emits its signals there, on the GUI thread.

Why a polled queue rather than queued signals emitted from the foreign thread:
under PySide6 6.11 a cross-thread signal emitted from a plain Python thread was lost
now and then (see :mod:`app.views.tasks`); a queue drained on the GUI thread loses
nothing, keeps the order, and batches bursts (a trial streaming thousands of points
costs the GUI one repaint per drain). Tests drain by hand with :meth:`GuiInbox.drain`.

Users: :class:`EngineBridge` (engine events), :class:`app.views.tasks.TaskRunner`
(long actions), :class:`app.views.importance.worker.ImportanceWorker`, the loading of
an experiment and of the list, the servers' status, queues and connection test.

A foreign thread holds no Qt object, not even for a moment: it is given the inbox's
Qt-free :class:`Mailbox` and Qt-free work, and started with :func:`start_worker`,
which refuses a target that reaches a Qt object. Why: a thread that drops the last
reference to a Qt object's Python wrapper makes PySide6 (6.11) defer the C++ delete to
the GUI thread as a Python "pending call", which runs at whatever bytecode the GUI
thread executes next, inside a paint override or a modal dialog's event loop
included: the monkey test crashed the window that way (SIGSEGV in
``Shiboken::BindingManager::runDeletionInMainThread``).
"""

from __future__ import annotations

import functools
import queue
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance, Slot

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.records import MetricPoint
from app.views.garbage import gui_collector

FLUSH_MS = 100
"""How often engine events are delivered (10 Hz: the GUI's repaint rate)."""

T = TypeVar("T")


class Mailbox(Generic[T]):
    """The Qt-free side of a :class:`GuiInbox`: what a foreign thread is given."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()

    def post(self, item: T) -> None:
        """Queue ``item`` for the GUI thread. Any thread."""
        self._queue.put(item)

    def take_all(self) -> list[T]:
        """Everything posted so far, in order."""
        items: list[T] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items


REACH = 5
"""How many hops from a worker's target :func:`qt_object_in` looks: a bound method's
object, a closure's cells, a partial's arguments, the items of a tuple or dict."""


def qt_object_in(root: object, depth: int = REACH) -> object | None:
    """The first Qt object (a wrapper or a bound signal) that ``root`` holds within
    ``depth`` hops through methods, closures, partials and containers; None if none.
    Plain objects' attributes are not followed: what a thread must not hold is a
    reference it might be the last to drop."""
    seen: set[int] = set()
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        held, hops = stack.pop()
        if id(held) in seen:
            continue
        seen.add(id(held))
        if isinstance(held, (shiboken6.Shiboken.Object, SignalInstance)):
            return held
        if hops < depth:
            stack.extend((child, hops + 1) for child in _held_by(held))
    return None


def _held_by(value: object) -> Iterable[object]:
    if isinstance(value, types.MethodType):
        return (value.__self__, value.__func__)
    if isinstance(value, types.BuiltinMethodType):  # a C method: a wrapper's, say
        return (value.__self__,)
    if isinstance(value, types.FunctionType):
        cells = [cell.cell_contents for cell in value.__closure__ or ()
                 if _filled(cell)]
        return [*cells, *(value.__defaults__ or ()), *(value.__kwdefaults__ or {}).values()]
    if isinstance(value, functools.partial):
        return (value.func, *value.args, *value.keywords.values())
    if isinstance(value, (tuple, list, set, frozenset)):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return ()


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def start_worker(target: Callable[..., object], *args: Any, name: str) -> threading.Thread:
    """Start a daemon thread running ``target(*args)``, which must hold no Qt object.
    GUI thread only: until the thread ends, Python's cycle collector runs on the GUI
    thread alone (:meth:`app.views.garbage.GuiGarbageCollector.hold_until_ended`).

    Raises:
        TypeError: ``target`` or ``args`` reach a Qt object (a bug: give the thread a
            :class:`Mailbox` and Qt-free work instead).
        RuntimeError: off the GUI thread, or without a Qt application.
    """
    found = qt_object_in((target, args))
    if found is not None:
        raise TypeError(f"the worker thread {name!r} would hold the Qt object "
                        f"{type(found).__name__}: give it a Mailbox and Qt-free work")
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    gui_collector().hold_until_ended(thread)  # it allocates: never let it collect
    thread.start()
    return thread


class GuiInbox(QObject, Generic[T]):
    """A queue any thread posts to and the GUI thread drains on a timer.

    Args:
        handler: called on the GUI thread with every item posted since the last
            drain, in order (never with an empty list).
        interval_ms: how often the queue is drained while started.
        parent: the owning Qt object (on the GUI thread).

    The timer runs between :meth:`start` and :meth:`stop` (GUI thread only);
    :meth:`post` may be called from any thread at any time.
    """

    def __init__(self, handler: Callable[[list[T]], None], interval_ms: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handler = handler
        self.mailbox: Mailbox[T] = Mailbox()
        """What foreign threads post to (they are never given the inbox itself)."""
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    def post(self, item: T) -> None:
        """Queue ``item`` (on the GUI thread; other threads post to :attr:`mailbox`)."""
        self.mailbox.post(item)

    def start(self) -> None:
        """Drain every interval from now on. GUI thread."""
        self._timer.start()

    def stop(self) -> None:
        """Stop draining (what is queued stays until the next start or drain). GUI thread."""
        self._timer.stop()

    @Slot()
    def drain(self) -> int:
        """Hand everything queued to the handler now; returns how many items. GUI thread."""
        items = self.mailbox.take_all()
        if items:
            self._handler(items)
        return len(items)


class EngineBridge(QObject):
    """Subscribe :meth:`on_event` to a workspace; connect widgets to the signals.

    Events are posted to a :class:`GuiInbox` and emitted, on the GUI thread, every
    :data:`FLUSH_MS`: the metric points of consecutive METRICS events in one batch.

    Signals (all emitted on the GUI thread):
        events(object list[RunnerEvent]) — every event of one drain, in order (what a
            live view model takes in)
        experimentChanged(int experiment_id, object state_or_None, str message) — the
            run's state (None: a message only)
        experimentAltered(int experiment_id, object ExperimentChange) — the experiment
            itself (created, renamed, deleted, …)
        trialChanged(object TrialRecord)
        metricsAdded(object list[MetricPoint]) — batched
        logLine(int experiment_id, str message)
    """

    events = Signal(object)
    experimentChanged = Signal(int, object, str)
    experimentAltered = Signal(int, object)
    trialChanged = Signal(object)
    metricsAdded = Signal(object)
    logLine = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inbox: GuiInbox[RunnerEvent] = GuiInbox(self._deliver, FLUSH_MS, self)
        self.inbox.start()

    @property
    def on_event(self) -> Callable[[RunnerEvent], None]:
        """What to subscribe to a workspace: takes an event on any thread (the inbox's
        Qt-free mailbox, so the engine's threads hold no Qt object)."""
        return self.inbox.mailbox.post

    @Slot()
    def flush(self) -> None:
        """Deliver the queued events now (the timer calls this)."""
        self.inbox.drain()

    def _deliver(self, batch: list[RunnerEvent]) -> None:
        self.events.emit(batch)
        points: list[MetricPoint] = []
        for event in batch:
            if event.kind is RunnerEventKind.METRICS:
                points.extend(event.metrics)
                if event.trial is not None:
                    self.trialChanged.emit(event.trial)
                continue
            if points:
                self.metricsAdded.emit(points)
                points = []
            if event.kind is RunnerEventKind.TRIAL and event.trial is not None:
                self.trialChanged.emit(event.trial)
            elif event.kind is RunnerEventKind.EXPERIMENT and event.change is not None:
                self.experimentAltered.emit(event.experiment_id, event.change)
            elif event.kind is RunnerEventKind.EXPERIMENT:
                self.experimentChanged.emit(event.experiment_id, event.state, event.message)
            elif event.kind is RunnerEventKind.LOG:
                self.logLine.emit(event.experiment_id, event.message)
        if points:
            self.metricsAdded.emit(points)
