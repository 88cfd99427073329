"""The one way across threads in the views (``app.views.bridge``): events posted from
many threads at once all reach the GUI thread, in each thread's order, none lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import TrialState
from app.views.bridge import EngineBridge

THREADS, EACH = 8, 2_000


def test_events_from_many_threads_arrive_on_the_gui_thread_in_order(qtbot: QtBot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    bridge = EngineBridge(owner)
    seen: list[RunnerEvent] = []
    threads_seen: set[int] = set()

    def take(batch: list[RunnerEvent]) -> None:
        threads_seen.add(threading.get_ident())
        seen.extend(batch)

    bridge.events.connect(take)
    points: list[MetricPoint] = []
    bridge.metricsAdded.connect(points.extend)
    start = threading.Barrier(THREADS)
    stamp = datetime(2026, 1, 1, tzinfo=UTC)

    def publish(thread: int) -> None:
        start.wait()
        for i in range(EACH):
            if i % 2:
                bridge.on_event(RunnerEvent(RunnerEventKind.METRICS, thread, metrics=(
                    MetricPoint(thread, "loss", float(i), i, 0.0),)))
            else:
                bridge.on_event(RunnerEvent(RunnerEventKind.TRIAL, thread, trial=TrialRecord(
                    thread, thread, i, TrialState.RUNNING, {}, stamp)))

    workers = [threading.Thread(target=publish, args=(t,)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    qtbot.waitUntil(lambda: len(seen) == THREADS * EACH, timeout=30_000)
    for worker in workers:
        worker.join()
    assert threads_seen == {threading.get_ident()}  # delivered on the GUI thread only
    for thread in range(THREADS):
        mine = [e for e in seen if e.experiment_id == thread]
        order = [e.trial.number if e.trial is not None else e.metrics[0].step for e in mine]
        assert order == list(range(EACH))
    assert len(points) == THREADS * EACH // 2
