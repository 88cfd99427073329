"""A run's trial writes are one statement each (besides BEGIN and COMMIT), on both
backends: the store's part of the local dispatch cost (docs/PERFORMANCE.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.engine.orders import now
from app.engine.ports import NotFound
from app.engine.records import MetricPoint
from app.engine.trial import InvalidTransition, TrialState
from app.store.store import Store


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store runs from now on (transaction control left out)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(sql)

    engine = store._engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_each_write_of_a_trial_is_one_statement(store: Store, statements: list[str]) -> None:
    experiment = store.create_experiment("writes", {"a": 1})
    statements.clear()
    trial = store.create_trial(experiment.id, {"x": 0.5})
    assert trial.number == 1 and trial.state is TrialState.QUEUED
    # the insert, numbering the trial after the highest (on PostgreSQL, the experiment
    # is locked first: SQLite's BEGIN IMMEDIATE orders two programs numbering already)
    assert len(statements) == (1 if store._target.is_sqlite else 2), statements
    for fields in ({"host": "local", "trial_dir": "/tmp/t"},
                   {"state": TrialState.RUNNING, "pid": 12, "started_at": now()}):
        statements.clear()
        record = store.update_trial(trial.id, **fields)
        assert len(statements) == 1, statements
    assert record.state is TrialState.RUNNING and record.host == "local" and record.pid == 12
    statements.clear()
    record = store.add_output(trial.id, [MetricPoint(trial.id, "loss", 0.5, 1, time.time())],
                              20, 0.5)
    assert len(statements) == 2, statements  # the offset and KPI, the points
    assert (record.log_offset, record.kpi) == (20, 0.5)
    assert record.updated_at is not None and record.updated_at >= trial.updated_at
    statements.clear()
    record = store.update_trial(trial.id, state=TrialState.COMPLETED, ended_at=now(),
                                exit_code=0, kpi=0.5)
    assert len(statements) == 1, statements
    assert record.state is TrialState.COMPLETED and record.exit_code == 0
    assert store.get_trial(trial.id) == record


def test_a_refused_write_says_why_and_changes_nothing(store: Store) -> None:
    experiment = store.create_experiment("refused", {"a": 1})
    trial = store.create_trial(experiment.id, {"x": 0.5})
    with pytest.raises(InvalidTransition, match=f"trial {trial.id}: a trial cannot go from "
                                                "queued to completed"):
        store.update_trial(trial.id, state=TrialState.COMPLETED)
    store.update_trial(trial.id, state=TrialState.FAILED, error="no")
    with pytest.raises(InvalidTransition, match="finished trials are immutable"):
        store.update_trial(trial.id, host="elsewhere")
    with pytest.raises(InvalidTransition, match="its output is complete"):
        store.add_output(trial.id, [MetricPoint(trial.id, "loss", 1.0, 1, time.time())], 9,
                         1.0)
    assert store.get_metrics(trial.id) == []
    stored = store.get_trial(trial.id)
    assert (stored.state, stored.host, stored.log_offset) == (TrialState.FAILED, None, 0)
    with pytest.raises(NotFound, match="no trial with id 999"):
        store.update_trial(999, host="x")
    with pytest.raises(NotFound, match="no experiment with id 999"):
        store.create_trial(999, {"x": 1})


def test_sqlite_writes_begin_immediate_with_no_engine_event(tmp_path: Path) -> None:
    """A write opens with BEGIN IMMEDIATE (two programs writing wait for each other) and
    a read with BEGIN, through the dialect's own begin: no connection event is
    listened to, as an engine with one runs SQLAlchemy's event dispatch around every
    statement (a fifth of a trial write's CPU, docs/PERFORMANCE.md)."""
    store = Store(f"sqlite:///{tmp_path / 'begin.db'}")
    try:
        experiment = store.create_experiment("begin", {"a": 1})
        seen: list[str] = []
        store._engine.pool.dispose()  # new connections, each traced
        sa.event.listen(store._engine.pool, "connect",
                        lambda raw, _record: raw.set_trace_callback(seen.append))
        trial = store.create_trial(experiment.id, {"x": 0.5})
        assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT", seen
        seen.clear()
        assert store.get_trial(trial.id).number == 1
        assert seen[0] == "BEGIN", seen
        assert not store._engine._has_events and not store._writer._has_events
    finally:
        store.close()


def test_a_read_inside_a_write_on_its_thread_does_not_wait_for_the_write_lock(
        tmp_path: Path) -> None:
    """A write transaction marks this thread's transactions as writes (BEGIN IMMEDIATE);
    a read opened meanwhile on the same thread still opens with BEGIN, so it never waits
    for the write lock its own thread holds (it would, for the busy timeout, and fail)."""
    store = Store(f"sqlite:///{tmp_path / 'nested.db'}", busy_timeout=1.0)
    try:
        experiment = store.create_experiment("nested", {"a": 1})
        with store._session(write=True) as session:
            session.execute(sa.text("UPDATE experiments SET name = name"))  # the write lock
            assert store.get_experiment(experiment.id).name == "nested"
    finally:
        store.close()


def test_a_trial_ends_with_its_last_points_and_its_log_line_in_one_transaction(
        store: Store, statements: list[str]) -> None:
    experiment = store.create_experiment("end", {"a": 1})
    trial = store.create_trial(experiment.id, {"x": 0.5})
    store.update_trial(trial.id, state=TrialState.RUNNING, started_at=now())
    points = [MetricPoint(trial.id, "loss", 0.5, 1, time.time()),
              MetricPoint(trial.id, "loss", 0.25, 2, time.time())]
    statements.clear()
    record = store.end_trial(trial.id, {"state": TrialState.FAILED, "ended_at": now(),
                                        "exit_code": 3, "kpi": 0.25, "error": "exit 3",
                                        "log_offset": 40},
                             points, log="trial 1 failed: exit 3")
    # the end, the points (one executemany), the line: one statement each
    assert len(statements) == 3, statements
    assert (record.state, record.kpi, record.log_offset) == (TrialState.FAILED, 0.25, 40)
    assert [(p.step, p.value) for p in store.get_metrics(trial.id)] == [(1, 0.5), (2, 0.25)]
    [line] = [e for e in store.list_events(experiment.id) if e.trial_id == trial.id]
    assert (line.kind, line.message) == ("log", "trial 1 failed: exit 3")


def test_an_end_that_cannot_be_stored_stores_nothing_of_it(store: Store) -> None:
    experiment = store.create_experiment("end-refused", {"a": 1})
    trial = store.create_trial(experiment.id, {"x": 0.5})
    other = store.create_trial(experiment.id, {"x": 0.6})
    point = MetricPoint(trial.id, "loss", 0.5, 1, time.time())
    with pytest.raises(ValueError, match=f"end_trial\\({trial.id}\\): state must be a "
                                         "finished state"):
        store.end_trial(trial.id, {"state": TrialState.RUNNING}, [point])
    with pytest.raises(ValueError, match=f"every point must belong to trial {other.id}"):
        store.end_trial(other.id, {"state": TrialState.STOPPED}, [point])
    store.update_trial(trial.id, state=TrialState.STOPPED, ended_at=now())
    with pytest.raises(InvalidTransition, match="finished trials are immutable"):
        store.end_trial(trial.id, {"state": TrialState.FAILED}, [point], log="again")
    assert store.get_metrics(trial.id) == []
    assert store.get_trial(trial.id).state is TrialState.STOPPED
    assert not [e for e in store.list_events(experiment.id) if e.trial_id == trial.id]


def test_the_states_a_write_may_start_from_are_written_into_its_sql(
        store: Store, statements: list[str]) -> None:
    """Not bound as an "expanding" IN list, which SQLAlchemy renders again at every
    execution (about a tenth of a write's CPU): the SQL is the same text each time."""
    experiment = store.create_experiment("literal", {"a": 1})
    trial = store.create_trial(experiment.id, {"x": 0.5})
    store.update_trial(trial.id, state=TrialState.RUNNING, started_at=now())
    statements.clear()
    store.update_trial(trial.id, state=TrialState.COMPLETED, ended_at=now())
    [sql] = statements
    assert "trials.state IN ('running')" in sql, sql
