"""From engine events (any thread) to Qt signals (GUI thread), coalesced.

Trial and experiment changes are forwarded at once through queued signals;
metric points are buffered and delivered in one batch per tick of a 10 Hz
timer, so a trial streaming thousands of points costs the GUI a few repaints.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.records import MetricPoint

FLUSH_MS = 100


class EngineBridge(QObject):
    """Subscribe :meth:`on_event` to a workspace; connect widgets to the signals.

    Signals:
        experimentChanged(int experiment_id, object state_or_None, str message) — the
            run's state (None: a message only)
        experimentAltered(int experiment_id, object ExperimentChange) — the experiment
            itself (created, renamed, deleted, …)
        trialChanged(object TrialRecord)
        metricsAdded(object list[MetricPoint]) — batched, at most 10 times a second
        logLine(int experiment_id, str message)
    """

    experimentChanged = Signal(int, object, str)
    experimentAltered = Signal(int, object)
    trialChanged = Signal(object)
    metricsAdded = Signal(object)
    logLine = Signal(int, str)
    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._points: list[MetricPoint] = []
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._arm)

    def on_event(self, event: RunnerEvent) -> None:
        """Called on any thread by the engine."""
        if event.kind is RunnerEventKind.METRICS:
            with self._lock:
                first = not self._points
                self._points.extend(event.metrics)
            if event.trial is not None:
                self.trialChanged.emit(event.trial)
            if first:
                self._wake.emit()
        elif event.kind is RunnerEventKind.TRIAL and event.trial is not None:
            self.trialChanged.emit(event.trial)
        elif event.kind is RunnerEventKind.EXPERIMENT and event.change is not None:
            self.experimentAltered.emit(event.experiment_id, event.change)
        elif event.kind is RunnerEventKind.EXPERIMENT:
            self.experimentChanged.emit(event.experiment_id, event.state, event.message)
        elif event.kind is RunnerEventKind.LOG:
            self.logLine.emit(event.experiment_id, event.message)

    @Slot()
    def _arm(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self) -> None:
        """Deliver buffered metric points now (the timer calls this)."""
        with self._lock:
            points, self._points = self._points, []
        if points:
            self.metricsAdded.emit(points)
