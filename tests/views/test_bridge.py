"""The one way across threads in the views (``app.views.bridge``): events posted from
many threads at once all reach the GUI thread, in each thread's order, none lost."""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

import app.views
from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import TrialState
from app.views.bridge import EngineBridge, GuiInbox, start_worker

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


def test_a_worker_thread_is_refused_a_target_that_holds_a_qt_object(qtbot: QtBot) -> None:
    """A thread dropping the last reference to a Qt wrapper made PySide6 delete its C++
    object from a pending call at a random point of the GUI thread (a native crash the
    monkey found); start_worker refuses such a target, naming what it held."""
    widget = QWidget()
    qtbot.addWidget(widget)
    inbox: GuiInbox[int] = GuiInbox(lambda items: None, 10)

    def closure() -> None:
        widget.show()

    holding: list[tuple[object, tuple[object, ...], str]] = [
        (widget.show, (), "QWidget"),  # a bound method of a widget
        (closure, (), "QWidget"),  # a closure over one
        (print, (inbox,), "GuiInbox"),  # an argument
        (functools.partial(print, [inbox.post]), (), "GuiInbox"),  # inside a partial
        (print, (widget.windowTitleChanged,), "SignalInstance"),  # a bound signal
    ]
    for target, args, name in holding:
        with pytest.raises(TypeError, match=name):
            start_worker(target, *args, name="test")  # type: ignore[arg-type]
    done = threading.Event()
    mailbox = inbox.mailbox
    thread = start_worker(lambda: (mailbox.post(1), done.set()), name="plain")
    assert done.wait(10) and inbox.drain() == 1
    thread.join(10)


def test_the_views_start_threads_only_through_start_worker() -> None:
    """Every thread the views start goes through the check above."""
    views = Path(app.views.__file__).parent
    offenders = [str(path.relative_to(views)) for path in sorted(views.rglob("*.py"))
                 if path.name != "bridge.py" and "threading.Thread(" in path.read_text()]
    assert offenders == []
