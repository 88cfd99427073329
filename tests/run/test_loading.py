"""ExperimentLoader: an experiment read on a worker thread from a real SQLite file, handed
over in parts (trials, then points of whole trials), and cancelled by the next load."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from app.application.loading import ExperimentLoader, LoadEnded, LoadPart, PointsRead, TrialsRead
from app.engine.records import MetricPoint
from app.store.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(f"sqlite:///{tmp_path / 'load.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


def experiment(store: Store, name: str, trials: int, points: int) -> tuple[int, list[int]]:
    record = store.create_experiment(name, {})
    ids = [store.create_trial(record.id, {"x": n}).id for n in range(trials)]
    store.add_metrics([MetricPoint(t, metric, float(step), step, 0.0)
                       for t in ids for metric in ("acc", "loss") for step in range(points)])
    return record.id, ids


def parts_of(received: queue.Queue[LoadPart], ticket: int) -> list[LoadPart]:
    found: list[LoadPart] = []
    while True:
        part = received.get(timeout=30)
        if part.ticket == ticket:
            found.append(part)
            if isinstance(part, LoadEnded):
                return found


def test_trials_first_then_points_of_whole_trials(store: Store) -> None:
    experiment_id, ids = experiment(store, "big", trials=30, points=7)
    store.add_event(experiment_id, "log", "started")
    received: queue.Queue[LoadPart] = queue.Queue()
    threads: set[int] = set()

    def deliver(part: LoadPart) -> None:
        threads.add(threading.get_ident())
        received.put(part)

    loader = ExperimentLoader(store, deliver, batch_points=40)
    parts = parts_of(received, loader.load(experiment_id))
    assert threading.get_ident() not in threads, "read on a worker thread"
    first, *middle, last = parts
    assert isinstance(first, TrialsRead) and [t.id for t in first.trials] == ids
    assert [e.message for e in first.events] == ["started"]
    assert isinstance(last, LoadEnded) and last.failure is None
    assert all(isinstance(part, PointsRead) for part in middle) and len(middle) > 3
    seen: list[int] = []
    for part in middle:
        assert isinstance(part, PointsRead)
        trials = [one.trial_id for one in part.series]
        assert not set(trials) & set(seen), "a trial's points never span two batches"
        seen += dict.fromkeys(trials)
        for one in part.series:
            assert one.steps == tuple(range(7)) and one.values == tuple(map(float, range(7)))
    assert seen == ids
    assert last.counts == {(t, metric): 7 for t in ids for metric in ("acc", "loss")}


def test_a_new_load_cancels_the_one_in_progress(store: Store) -> None:
    big, _ = experiment(store, "big", trials=200, points=20)
    small, small_ids = experiment(store, "small", trials=2, points=3)
    received: queue.Queue[LoadPart] = queue.Queue()
    gate = threading.Event()
    first_batch = threading.Event()

    def deliver(part: LoadPart) -> None:
        received.put(part)
        if isinstance(part, PointsRead) and part.experiment_id == big:
            first_batch.set()
            gate.wait(30)  # hold the big load after its first batch

    loader = ExperimentLoader(store, deliver, batch_points=100)
    old = loader.load(big)
    assert first_batch.wait(30)
    new = loader.load(small)
    gate.set()
    parts = parts_of(received, new)
    assert isinstance(parts[0], TrialsRead) and [t.id for t in parts[0].trials] == small_ids
    loader.close()
    late = []
    while not received.empty():
        late.append(received.get())
    old_parts = [p for p in late if p.ticket == old]
    assert old_parts == [], "nothing more of a cancelled load is handed over"


def test_a_deleted_experiment_ends_the_load_with_why(store: Store) -> None:
    received: queue.Queue[LoadPart] = queue.Queue()
    loader = ExperimentLoader(store, received.put)
    parts = parts_of(received, loader.load(4242))
    assert len(parts) == 1 and isinstance(parts[0], LoadEnded)
    assert parts[0].failure is not None and "no experiment with id 4242" in parts[0].failure
