"""The Store: Sweeplab's :class:`~app.engine.ports.TrialRepository` on SQLite or PostgreSQL.

Every public method is one session scope: it commits, or rolls back and raises
:class:`~app.engine.ports.StoreError` with a message for a person. SQLAlchemy
exceptions never leave this module; records handed out are frozen snapshots.

Thread safety: methods may be called from any thread. On SQLite one writer at a
time is enforced by a lock in this process and ``BEGIN IMMEDIATE`` between
processes; readers never wait for writers (WAL).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.engine.best import TrialTally
from app.engine.names import check_name
from app.engine.pbt import Segment
from app.engine.ports import NotFound, StoreError
from app.engine.records import EventRecord, ExperimentRecord, MetricPoint, MetricSeries, TrialRecord
from app.engine.trial import (
    EarlyStopping,
    ExperimentState,
    TrialState,
)
from app.store import convert, history, lookup, trial_writes, validate
from app.store.connect import (
    ENV_VAR,
    Backend,
    default_database_url,
    make_engine,
    parse_url,
    use_wal,
    write_engine,
    writing,
)
from app.store.errors import describe
from app.store.leases import LeaseRecords
from app.store.metrics import MetricRepository
from app.store.migrate import is_current, upgrade
from app.store.models import EventRow, ExperimentRow, TrialRow, utc_now
from app.store.places import make_private_folder, resolve_busy_timeout
from app.store.segments import SegmentRecords

if TYPE_CHECKING:
    from app.engine.pbt import SegmentRepository
    from app.engine.ports import TrialRepository

__all__ = ["ENV_VAR", "Backend", "Store", "default_database_url"]


class Store:
    """Experiments, trials, metrics and events in one database.

    The store holds the engine and the session scope; metric points
    (:class:`~app.store.metrics.MetricRepository`) and the experiment lease
    (:class:`~app.store.leases.LeaseRecords`) are objects it owns, given that scope,
    whose methods it hands on.

    Args:
        url: a SQLAlchemy URL: ``sqlite:////abs/path.db``, ``sqlite://`` (memory) or
            ``postgresql+psycopg://user@host:5432/db``.
        busy_timeout: seconds a SQLite write waits for another program's lock
            before failing with "locked"; None: ``$SWEEPLAB_BUSY_TIMEOUT``, else 10.

    Raises:
        StoreError: the database cannot be opened, is not a Sweeplab database, or
            was written by a newer Sweeplab. Opening migrates it to the newest schema;
            a database already at it is only read, so it opens while another program
            writes to it.
        ValueError: ``busy_timeout`` (or ``$SWEEPLAB_BUSY_TIMEOUT``) is not a number
            of seconds >= 0.
    """

    def __init__(self, url: str, *, busy_timeout: float | None = None) -> None:
        self._target = parse_url(url)
        busy_timeout = resolve_busy_timeout(busy_timeout)
        self._busy_timeout = busy_timeout
        if self._target.sqlite_path is not None:
            parent = Path(self._target.sqlite_path).parent
            if not parent.is_dir():
                raise StoreError(f"cannot create {self._target.place}: {parent} is not a folder")
        self._engine = make_engine(self._target, busy_timeout)
        self._writer = write_engine(self._engine)
        self._write_lock = threading.Lock()
        # A memory database is one shared connection: serialise reads as well. (Only
        # it: PostgreSQL has no file either, and a read held its lock for a whole
        # streamed load, freezing the window's other reads for seconds.)
        self._read_lock = self._write_lock if self._target.is_memory else None
        self._closed = False
        self._metrics = MetricRepository(self._session, self._write, self._target,
                                         self._engine.dialect)
        self._leases = LeaseRecords(self._session)
        self._segments = SegmentRecords(self._session)
        try:
            self._bring_up_to_date()
            if self._target.sqlite_path is not None:
                use_wal(self._engine, busy_timeout)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            self._engine.dispose()
            raise describe(exc, self._target, busy_timeout) from exc
        except BaseException:
            self._engine.dispose()
            raise

    def _bring_up_to_date(self) -> None:
        """Upgrade the schema if it is not the newest: a read first, the write lock only
        when an upgrade is due (:func:`upgrade` checks again under it)."""
        with self._engine.connect() as connection:
            current = is_current(connection, self._target)
        if current:
            return
        try:
            with self._write_lock, writing(), self._writer.begin() as connection:
                upgrade(connection, self._target)
        except SQLAlchemyError as exc:  # say why merely opening it needed to write
            described = describe(exc, self._target, self._busy_timeout)
            raise StoreError(f"{described} (opening it first brings its schema up to this "
                             "Sweeplab's, which needs a write)") from exc

    @classmethod
    def open(cls, url: str | None = None, *, busy_timeout: float | None = None) -> Store:
        """Open ``url``, or the default database (creating its folder) when None."""
        if url is None:
            url = default_database_url()
            target = parse_url(url)
            if target.sqlite_path is not None:
                try:
                    make_private_folder(Path(target.sqlite_path).parent)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {target.place}: {exc}") from exc
        return cls(url, busy_timeout=busy_timeout)

    @property
    def url(self) -> str:
        """The database URL with any password masked, for messages."""
        return self._target.masked

    @property
    def backend(self) -> Backend:
        """SQLite or PostgreSQL."""
        return self._target.backend

    def close(self) -> None:
        """Release every connection. Further calls raise StoreError."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Session]:
        if self._closed:
            raise StoreError(f"the store for {self._target.place} is closed")
        lock = self._write_lock if write else (self._read_lock or nullcontext())
        with lock, writing(write):
            session = Session(self._writer if write else self._engine, expire_on_commit=False)
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                with suppress(SQLAlchemyError):
                    session.rollback()
                raise describe(exc, self._target, self._busy_timeout) from exc
            except BaseException:
                with suppress(SQLAlchemyError):
                    session.rollback()
                raise
            finally:
                with suppress(SQLAlchemyError):
                    session.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction on a Core connection, for the statements of
        :mod:`app.store.trial_writes` (no ORM session: a run's trial writes are its
        most frequent); errors as :meth:`_session` gives them."""
        if self._closed:
            raise StoreError(f"the store for {self._target.place} is closed")
        with self._write_lock, writing():
            try:
                with self._writer.begin() as connection:
                    yield connection
            except SQLAlchemyError as exc:
                raise describe(exc, self._target, self._busy_timeout) from exc

    # -- experiments ---------------------------------------------------------

    def create_experiment(self, name: str, definition: dict[str, Any]) -> ExperimentRecord:
        """Store a new experiment in DRAFT. Raises StoreError if the name is taken."""
        name = check_name(name)
        definition = validate.json_dict(definition, f"definition of experiment {name!r}")
        now = utc_now()
        row = ExperimentRow(
            name=name, definition=definition, state=ExperimentState.DRAFT.value,
            created_at=now, updated_at=now,
        )
        with self._session(write=True) as session:
            lookup.ensure_name_free(session, name)
            session.add(row)
            lookup.flush_named(session, name)
            return convert.experiment_record(row)

    def get_experiment(self, key: int | str) -> ExperimentRecord:
        """By id, or by name (a name made of digits is tried as a name first). Raises NotFound."""
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise ValueError(f"get_experiment: key must be an id or a name, got {key!r}")
        with self._session(write=False) as session:
            row: ExperimentRow | None
            if isinstance(key, int):
                row = session.get(ExperimentRow, key)
            else:
                row = session.scalar(sa.select(ExperimentRow).where(ExperimentRow.name == key))
                if row is None and key.isdigit():
                    row = session.get(ExperimentRow, int(key))
            if row is None:
                what = f"with id {key}" if isinstance(key, int) else f"named {key!r}"
                raise NotFound(f"no experiment {what} in {self._target.place}")
            return convert.experiment_record(row)

    def list_experiments(self) -> list[ExperimentRecord]:
        """All experiments, oldest first."""
        with self._session(write=False) as session:
            rows = session.scalars(sa.select(ExperimentRow).order_by(ExperimentRow.id))
            return [convert.experiment_record(row) for row in rows]

    def experiment_ids(self) -> set[int]:
        """Every experiment's id (a cheap check for experiments added or removed)."""
        with self._session(write=False) as session:
            return set(session.scalars(sa.select(ExperimentRow.id)))

    def update_experiment(
        self,
        experiment_id: int,
        *,
        state: ExperimentState | None = None,
        definition: dict[str, Any] | None = None,
        snapshot_hash: str | None = None,
        commit: str | None = None,
        dirty: bool | None = None,
    ) -> ExperimentRecord:
        """Change the given fields only (None leaves a field as it is)."""
        where = f"update_experiment({experiment_id})"
        changes: dict[str, Any] = {}
        if state is not None:
            changes["state"] = validate.enum_member(ExperimentState, state, f"{where}: state").value
        if definition is not None:
            changes["definition"] = validate.json_dict(definition, f"{where}: definition")
        if snapshot_hash is not None:
            changes["snapshot_hash"] = validate.optional_str(
                snapshot_hash, f"{where}: snapshot_hash"
            )
        if commit is not None:
            changes["commit"] = validate.optional_str(commit, f"{where}: commit")
        if dirty is not None:
            changes["dirty"] = validate.optional_bool(dirty, f"{where}: dirty")
        with self._session(write=True) as session:
            row = lookup.experiment_row(session, self._target, experiment_id)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utc_now()
            return convert.experiment_record(row)

    def rename_experiment(self, experiment_id: int, name: str) -> ExperimentRecord:
        """Give an experiment a new, unused name. Raises StoreError if it is taken."""
        name = check_name(name)
        with self._session(write=True) as session:
            row = lookup.experiment_row(session, self._target, experiment_id)
            if row.name != name:
                lookup.ensure_name_free(session, name)
                row.name = name
                row.updated_at = utc_now()
                lookup.flush_named(session, name)
            return convert.experiment_record(row)

    def delete_experiment(self, experiment_id: int) -> None:
        """Remove it with its trials, metrics and events. Raises NotFound."""
        with self._session(write=True) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            session.execute(sa.delete(ExperimentRow).where(ExperimentRow.id == experiment_id))

    # -- trials ----------------------------------------------------------------

    def create_trial(
        self, experiment_id: int, params: dict[str, Any], state: TrialState = TrialState.QUEUED,
        *, rerun_of: int | None = None,
        early_stopping: EarlyStopping = EarlyStopping.SCHEDULED,
    ) -> TrialRecord:
        """A new trial numbered 1, 2, ... within its experiment (after the highest);
        ``rerun_of`` is the number of the trial whose params it repeats;
        ``early_stopping`` whether the scheduler may prune it (never changes)."""
        if rerun_of is not None and (type(rerun_of) is not int or rerun_of < 1):
            raise ValueError(f"create_trial({experiment_id}): rerun_of must be a trial "
                             f"number >= 1, got {rerun_of!r}")
        params = validate.json_dict(params, f"create_trial({experiment_id}): params")
        state = validate.enum_member(TrialState, state, f"create_trial({experiment_id}): state")
        early_stopping = validate.enum_member(EarlyStopping, early_stopping,
                                              f"create_trial({experiment_id}): early_stopping")
        with self._write() as connection:
            return trial_writes.create(connection, self._target, experiment_id, state,
                                       params, rerun_of, early_stopping)

    def update_trial(self, trial_id: int, **fields: Any) -> TrialRecord:
        """Set fields of the trial; ``state`` is checked with ``check_transition``.

        Raises:
            ValueError: an unknown or unchangeable field, or a bad value.
            InvalidTransition: a state change not allowed, or any change to a
                finished trial (finished trials are immutable).
            NotFound: no such trial.
        """
        changes = validate.trial_fields(trial_id, fields)
        with self._write() as connection:
            return trial_writes.update(connection, self._target, trial_id, changes)

    def get_trial(self, trial_id: int) -> TrialRecord:
        """Raises NotFound."""
        with self._session(write=False) as session:
            return convert.trial_record(lookup.trial_row(session, self._target, trial_id))

    def list_trials(
        self, experiment_id: int, states: Sequence[TrialState] | None = None, *,
        changed_since: datetime | None = None,
    ) -> list[TrialRecord]:
        """Trials of one experiment by number, optionally only those in ``states``, or
        changed at or after ``changed_since`` (by their ``updated_at``)."""
        query = _trials_query(experiment_id, states, changed_since)
        with self._session(write=False) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            rows = session.connection().execute(query)
            return [convert.trial_record(row) for row in rows]

    def trials_in_chunks(self, experiment_id: int, chunk: int) -> Iterator[list[TrialRecord]]:
        """Every trial of one experiment by number, as :meth:`list_trials` reads them,
        in lists of ``chunk`` (one read transaction): a reader can let other threads
        have the interpreter between them. Lazy: NotFound and StoreError come from the
        first ``next()``; a read connection is held until it is exhausted or closed."""
        if chunk < 1:
            raise ValueError(f"trials_in_chunks: chunk must be >= 1, got {chunk!r}")
        query = _trials_query(experiment_id, None, None)
        with self._session(write=False) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            result = session.connection().execute(query)
            while rows := result.fetchmany(chunk):
                yield [convert.trial_record(row) for row in rows]

    def trial_tallies(self) -> dict[int, TrialTally]:
        """Per experiment with trials, its counts per state and competing KPI range, in
        one aggregate read (the experiment list; see :func:`history.trial_tallies`)."""
        with self._session(write=False) as session:
            return history.trial_tallies(session)

    def experiment_series(self, experiment_id: int, chunk: int = history.CHUNK_POINTS
                          ) -> Iterator[list[MetricSeries]]:
        """Every metric point of the experiment's trials in one SELECT, streamed about
        ``chunk`` points at a time, as whole series per trial and metric (see
        :func:`history.experiment_series`). Lazy: NotFound and StoreError come from the
        first ``next()``. A read connection is held until the iterator is exhausted or
        closed."""
        with self._session(write=False) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            yield from history.experiment_series(session, experiment_id, chunk)

    def series_bounds(self, experiment_id: int, name: str
                      ) -> tuple[float, float, float, float] | None:
        """Step and value bounds of the finite points of metric ``name`` of the
        experiment's trials, or None (see :func:`history.series_bounds`). Raises NotFound."""
        with self._session(write=False) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            return history.series_bounds(session, experiment_id, name)

    def delete_trials(self, experiment_id: int) -> None:
        """Drop every trial of the experiment (Restart) with its metrics."""
        with self._session(write=True) as session:
            lookup.experiment_row(session, self._target, experiment_id, lock=True)
            session.execute(sa.delete(TrialRow).where(TrialRow.experiment_id == experiment_id))

    # -- metric points: app.store.metrics ---------------------------------------

    def add_metrics(self, points: Sequence[MetricPoint]) -> None:
        """See :meth:`MetricRepository.add_metrics`."""
        self._metrics.add_metrics(points)

    def add_output(self, trial_id: int, points: Sequence[MetricPoint], offset: int,
                   kpi: float | None) -> TrialRecord:
        """See :meth:`MetricRepository.add_output`."""
        return self._metrics.add_output(trial_id, points, offset, kpi)

    def end_trial(self, trial_id: int, fields: Mapping[str, object],
                  points: Sequence[MetricPoint] = (), log: str | None = None) -> TrialRecord:
        """See :meth:`MetricRepository.end_trial`."""
        return self._metrics.end_trial(trial_id, fields, points, log)

    def get_metrics(self, trial_id: int, name: str | None = None) -> list[MetricPoint]:
        """See :meth:`MetricRepository.get_metrics`."""
        return self._metrics.get_metrics(trial_id, name)

    def metrics_since_many(self, marks: Mapping[int, int]
                           ) -> dict[int, tuple[list[MetricPoint], int]]:
        """See :meth:`MetricRepository.metrics_since_many`."""
        return self._metrics.metrics_since_many(marks)

    # -- the experiment lease: app.store.leases ---------------------------------

    def experiment_driver(self, experiment_id: int) -> tuple[str | None, datetime | None]:
        """See :meth:`LeaseRecords.experiment_driver`."""
        return self._leases.experiment_driver(experiment_id)

    def claim_experiment(self, experiment_id: int, driver: str, expected: str | None) -> bool:
        """See :meth:`LeaseRecords.claim_experiment`."""
        return self._leases.claim_experiment(experiment_id, driver, expected)

    def renew_experiment(self, experiment_id: int, driver: str) -> bool:
        """See :meth:`LeaseRecords.renew_experiment`."""
        return self._leases.renew_experiment(experiment_id, driver)

    def release_experiment(self, experiment_id: int, driver: str) -> None:
        """See :meth:`LeaseRecords.release_experiment`."""
        self._leases.release_experiment(experiment_id, driver)

    # -- segments under population-based training: app.store.segments -------------

    def add_segment(self, trial_id: int, index: int, start_step: int,
                    params: dict[str, Any], donor_trial_id: int | None,
                    checkpoint_step: int | None, restore_from: str | None = None) -> Segment:
        """See :meth:`SegmentRecords.add_segment`."""
        return self._segments.add_segment(trial_id, index, start_step, params,
                                          donor_trial_id, checkpoint_step, restore_from)

    def update_segment(self, trial_id: int, index: int, **fields: Any) -> Segment:
        """See :meth:`SegmentRecords.update_segment`."""
        return self._segments.update_segment(trial_id, index, **fields)

    def delete_segment(self, trial_id: int, index: int) -> None:
        """See :meth:`SegmentRecords.delete_segment`."""
        self._segments.delete_segment(trial_id, index)

    def segments(self, experiment_id: int) -> list[Segment]:
        """See :meth:`SegmentRecords.segments`."""
        return self._segments.segments(experiment_id)

    # -- events ----------------------------------------------------------------

    def add_event(
        self, experiment_id: int, kind: str, message: str, trial_id: int | None = None
    ) -> EventRecord:
        """Append one line to the experiment's history."""
        if not isinstance(kind, str) or not 0 < len(kind) <= 32:
            raise ValueError(
                f"add_event: kind must be a string of 1 to 32 characters, got {kind!r}"
            )
        if not isinstance(message, str):
            raise ValueError(f"add_event: message must be a string, got {message!r}")
        row = EventRow(
            experiment_id=experiment_id, trial_id=trial_id, time=utc_now(), kind=kind,
            message=message,
        )
        with self._session(write=True) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            if trial_id is not None:
                trial = lookup.trial_row(session, self._target, trial_id)
                if trial.experiment_id != experiment_id:
                    raise ValueError(
                        f"add_event: trial {trial_id} belongs to experiment "
                        f"{trial.experiment_id}, not {experiment_id}"
                    )
            session.add(row)
            session.flush()
            return convert.event_record(row)

    def list_events(self, experiment_id: int, *, after: int = 0) -> list[EventRecord]:
        """The experiment's history, oldest first; only the events with an id above
        ``after`` when given (what was logged since an event)."""
        with self._session(write=False) as session:
            lookup.experiment_row(session, self._target, experiment_id)
            rows = session.scalars(
                sa.select(EventRow).where(EventRow.experiment_id == experiment_id,
                                          EventRow.id > after)
                .order_by(EventRow.id)
            )
            return [convert.event_record(row) for row in rows]


if TYPE_CHECKING:

    def _implements_segments(store: Store) -> SegmentRepository:
        return store

    def _implements_protocol(store: Store) -> TrialRepository:
        return store


def _trials_query(experiment_id: int, states: Sequence[TrialState] | None,
                  changed_since: datetime | None) -> sa.Select[Any]:
    """The trials of one experiment by number, optionally only those in ``states`` or
    changed at or after ``changed_since``, as Core rows: no ORM object per trial (an
    experiment of 10,000 trials is read in ~60% of the ORM's CPU time)."""
    table = TrialRow.__table__.c
    query = sa.select(TrialRow.__table__).where(table.experiment_id == experiment_id)
    since = validate.aware_datetime(changed_since, "list_trials: changed_since")
    if since is not None:
        query = query.where(table.updated_at >= since)
    if states is not None:
        wanted = [validate.enum_member(TrialState, s, "list_trials: states").value
                  for s in states]
        query = query.where(table.state.in_(wanted))
    return query.order_by(table.number)
