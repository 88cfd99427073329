"""ExperimentLoader: an experiment read on a worker thread from a real SQLite file, handed
over in parts (trials, then points of whole trials), and cancelled by the next load."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from app.application.live import HistoryEnd, summarise_trials
from app.application.loading import (
    BoundsRead,
    ExperimentLoader,
    LoadEnded,
    LoadPart,
    PointsRead,
    TrialsRead,
)
from app.engine.experiment import Kpi
from app.engine.records import MetricPoint
from app.engine.search.base import Goal
from app.store.store import Store
from tests.helpers import series_lists


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
    assert first.summary == summarise_trials(first.trials, None)  # no goal given: no best
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
            assert series_lists(one) == (list(range(7)), list(map(float, range(7))))
    assert seen == ids
    assert last.counts == {(t, metric): 7 for t in ids for metric in ("acc", "loss")}
    assert last.last_steps == {(t, metric): 6 for t in ids for metric in ("acc", "loss")}
    for part in middle:  # where each trial's points end (no KPI given: no KPI values)
        assert isinstance(part, PointsRead)
        assert part.ends == {one.trial_id: HistoryEnd(6) for one in part.series}


def test_given_the_kpi_the_bounds_of_its_points_come_before_the_end(store: Store) -> None:
    """Read beside the rest, the bounds of the KPI's points arrive before the points
    (which wait for them a moment) and always before the end."""
    experiment_id, _ = experiment(store, "bounded", trials=12, points=6)
    received: queue.Queue[LoadPart] = queue.Queue()
    loader = ExperimentLoader(store, received.put, batch_points=10)
    parts = parts_of(received, loader.load(experiment_id, Kpi("loss", Goal.MAX)))
    bounds = [part for part in parts if isinstance(part, BoundsRead)]
    assert [(b.name, b.bounds) for b in bounds] == [("loss", (0.0, 5.0, 0.0, 5.0))]
    assert parts.index(bounds[0]) < next(i for i, part in enumerate(parts)
                                         if isinstance(part, PointsRead))
    (trials_read,) = [part for part in parts if isinstance(part, TrialsRead)]
    assert trials_read.summary == summarise_trials(trials_read.trials, Goal.MAX)
    assert isinstance(parts[-1], LoadEnded) and parts[-1].failure is None
    ends = {t: end for part in parts if isinstance(part, PointsRead)
            for t, end in part.ends.items()}
    assert set(ends.values()) == {HistoryEnd(5, 5.0, 5.0)}  # by the goal: max
    plain = parts_of(received, loader.load(experiment_id))  # no KPI: no bounds
    assert not any(isinstance(part, BoundsRead) for part in plain)


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


def test_the_loader_paces_itself_between_reads(store: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reads of a few ms the loader calls ``pace`` (where the window holds it
    while its own thread works), and a pace that holds it holds the load."""
    monkeypatch.setattr("app.application.loading.TRIALS_PER_READ", 4)
    monkeypatch.setattr("app.application.loading.POINTS_PER_READ", 10)
    experiment_id, _ = experiment(store, "paced", trials=10, points=5)
    go_on = threading.Event()
    paced: list[int] = []

    def pace() -> None:
        paced.append(threading.get_ident())
        assert go_on.wait(30)

    received: queue.Queue[LoadPart] = queue.Queue()
    loader = ExperimentLoader(store, received.put, batch_points=1000, pace=pace)
    ticket = loader.load(experiment_id)
    with pytest.raises(queue.Empty):
        received.get(timeout=0.3)  # held at its first pace, before any part
    assert len(paced) == 1 and threading.get_ident() not in paced
    go_on.set()
    parts = parts_of(received, ticket)
    assert isinstance(parts[-1], LoadEnded) and parts[-1].failure is None
    # 10 trials by 4 (3 reads), 100 points by 10 (10 reads, whole series at a time)
    assert len(paced) >= 3 + 5


def test_trials_read_in_chunks_are_those_listed(store: Store) -> None:
    experiment_id, ids = experiment(store, "chunked", trials=7, points=0)
    chunks = list(store.trials_in_chunks(experiment_id, chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [t for c in chunks for t in c] == store.list_trials(experiment_id)
    assert [t.id for c in chunks for t in c] == ids
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        next(store.trials_in_chunks(experiment_id, chunk=0))
