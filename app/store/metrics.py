"""The store's metric points: batched inserts, the output of a trial's log with its
offset in one transaction, and reads. :class:`~app.store.store.Store` owns one
:class:`MetricRepository` and hands its methods on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect

from app.engine.ports import NotFound
from app.engine.records import MetricPoint, TrialRecord
from app.store import lookup, trial_writes, validate
from app.store.bulk import METRICS, MetricInsert
from app.store.connect import Target
from app.store.lookup import SessionScope
from app.store.models import TrialRow

_MARKS_PER_QUERY = 200
"""Trials per query of ``metrics_since_many`` (SQLite allows 1,000 nested ORs)."""


class MetricRepository:
    """Metric points of one database.

    Args:
        session: the store's session scope; every method is one call of it.
        write: the store's write transaction on a Core connection (for the output of a
            trial's log, one of a run's most frequent writes).
        target: the database, for messages.
        dialect: the database's, for the insert statement.

    Thread safety: as the store's; the methods keep no state between calls.
    """

    def __init__(self, session: SessionScope,
                 write: Callable[[], AbstractContextManager[sa.Connection]], target: Target,
                 dialect: Dialect) -> None:
        self._session = session
        self._write = write
        self._target = target
        self._metric_insert = MetricInsert(dialect)

    def add_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Insert many points in one transaction with one executemany.

        Raises:
            ValueError: a point is malformed (its index is named).
            NotFound: a point names a trial that does not exist; nothing is written.
        """
        rows = validate.metric_rows(points)
        if not rows:
            return
        trial_ids = {row[0] for row in rows}
        with self._session(write=True) as session:
            found = set(session.scalars(sa.select(TrialRow.id).where(TrialRow.id.in_(trial_ids))))
            missing = sorted(trial_ids - found)
            if missing:
                raise NotFound(f"add_metrics: no trial with id {', '.join(map(str, missing))}")
            self._metric_insert.run(session.connection(), rows)

    def add_output(self, trial_id: int, points: Sequence[MetricPoint], offset: int,
                   kpi: float | None) -> TrialRecord:
        """Points read from the trial's log and the log offset after them, in one
        transaction: after a crash the log is followed again from ``offset``, so no
        point is lost and none is stored twice.

        Raises:
            ValueError: a malformed point, a point of another trial, a negative offset.
            InvalidTransition: the trial has finished.
            NotFound: no such trial.
        """
        rows = validate.metric_rows(points)
        if any(row[0] != trial_id for row in rows):
            raise ValueError(f"add_output({trial_id}): every point must belong to trial "
                             f"{trial_id}")
        changes = validate.trial_fields(trial_id, {"log_offset": offset, "kpi": kpi})
        with self._write() as connection:
            record = trial_writes.output_offset(connection, self._target, trial_id, changes)
            if rows:
                self._metric_insert.run(connection, rows)
            return record

    def end_trial(self, trial_id: int, fields: Mapping[str, object],
                  points: Sequence[MetricPoint] = (), log: str | None = None) -> TrialRecord:
        """A trial's end (``fields``: its finished state, ended time, KPI, ...), the
        points of its log not stored yet with the log offset after them (in
        ``fields``), and a line of the experiment's history about it (``log``), in one
        transaction: the trial is never stored finished without its last points, and
        a crash before it leaves it RUNNING, followed again from the offset stored.

        Raises:
            ValueError: a malformed field or point, a point of another trial, a state
                that is not a finished one.
            InvalidTransition: the trial cannot end so (it has finished already).
            NotFound: no such trial.
        """
        rows = validate.metric_rows(points)
        if any(row[0] != trial_id for row in rows):
            raise ValueError(f"end_trial({trial_id}): every point must belong to trial "
                             f"{trial_id}")
        changes = validate.trial_fields(trial_id, fields)
        state = changes.get("state")
        if state is None or not state.is_finished():
            raise ValueError(f"end_trial({trial_id}): state must be a finished state, got "
                             f"{state!r}")
        if log is not None and not isinstance(log, str):
            raise ValueError(f"end_trial({trial_id}): log must be a string, got {log!r}")
        with self._write() as connection:
            record = trial_writes.update(connection, self._target, trial_id, changes)
            if rows:
                self._metric_insert.run(connection, rows)
            if log is not None:
                trial_writes.trial_event(connection, record, "log", log)
            return record

    def get_metrics(self, trial_id: int, name: str | None = None) -> list[MetricPoint]:
        """Points of one trial ordered by (name, step, time); points without a step first."""
        table = METRICS.c
        query = sa.select(table.trial_id, table.name, table.value, table.step, table.time).where(
            table.trial_id == trial_id
        )
        if name is not None:
            query = query.where(table.name == name)
        query = query.order_by(table.name, table.step.asc().nulls_first(), table.time, table.id)
        with self._session(write=False) as session:
            lookup.trial_row(session, self._target, trial_id)
            return [MetricPoint(*row) for row in session.execute(query)]

    def metrics_since_many(self, marks: Mapping[int, int]
                           ) -> dict[int, tuple[list[MetricPoint], int]]:
        """Per trial (id -> ``after``), its points stored after the point numbered
        ``after``, in the order they were stored, and the number of the last one
        (``after`` when none): reading growing trials costs what is new, not everything
        again. One query per 200 trials; a trial that does not exist (deleted
        meanwhile) just has no points."""
        found: dict[int, tuple[list[MetricPoint], int]] = {
            trial_id: ([], after) for trial_id, after in marks.items()}
        table = METRICS.c
        pending = list(marks.items())
        with self._session(write=False) as session:
            for start in range(0, len(pending), _MARKS_PER_QUERY):
                chunk = pending[start:start + _MARKS_PER_QUERY]
                query = (sa.select(table.id, table.trial_id, table.name, table.value,
                                   table.step, table.time)
                         .where(sa.or_(*(sa.and_(table.trial_id == trial_id, table.id > after)
                                         for trial_id, after in chunk)))
                         .order_by(table.id))
                for row in session.execute(query):
                    points, _ = found[row[1]]
                    points.append(MetricPoint(*row[1:]))
                    found[row[1]] = (points, row[0])
        return found
