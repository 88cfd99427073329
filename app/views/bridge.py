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
(long actions), :class:`app.views.importance.worker.ImportanceWorker`.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.records import MetricPoint

FLUSH_MS = 100
"""How often engine events are delivered (10 Hz: the GUI's repaint rate)."""

T = TypeVar("T")


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
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    def post(self, item: T) -> None:
        """Queue ``item`` for the GUI thread. Any thread."""
        self._queue.put(item)

    def start(self) -> None:
        """Drain every interval from now on. GUI thread."""
        self._timer.start()

    def stop(self) -> None:
        """Stop draining (what is queued stays until the next start or drain). GUI thread."""
        self._timer.stop()

    @Slot()
    def drain(self) -> int:
        """Hand everything queued to the handler now; returns how many items. GUI thread."""
        items: list[T] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
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

    def on_event(self, event: RunnerEvent) -> None:
        """Called on any thread by the engine."""
        self.inbox.post(event)

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
