"""The trial writes of a run, each as few SQL statements as it can be.

A runner writes every trial four or five times (created, where it starts, started,
its output, its end). Through the ORM each write was a session, a ``SELECT … FOR
UPDATE`` of the row, a flush of the changed attributes and a conversion of the
object, 0.9–1.4 ms on SQLite against ~0.1 ms for the statements themselves. Here
each is one Core statement on the caller's connection: ``UPDATE … WHERE id = ? AND
state IN (the states the change may start from) RETURNING *``. Only when it changes
nothing is the row read again, to say why (no such trial, or a transition that is not
allowed), with the words :func:`~app.engine.trial.check_transition` uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NoReturn, cast

import sqlalchemy as sa

from app.engine.ports import NotFound
from app.engine.records import TrialRecord
from app.engine.trial import (
    TRANSITIONS,
    EarlyStopping,
    InvalidTransition,
    TrialState,
    check_transition,
)
from app.store import convert
from app.store.connect import Target
from app.store.models import EventRow, ExperimentRow, TrialRow, utc_now

TRIALS = cast(sa.Table, TrialRow.__table__)
_EVENTS = cast(sa.Table, EventRow.__table__)
_ADD_EVENT = sa.insert(_EVENTS)


def _states_from(new: TrialState | None) -> tuple[str, ...]:
    """The stored states a change may start from: those that may go to ``new``; with
    no state change, every state but the finished ones (finished trials are
    immutable)."""
    if new is None:
        return tuple(old.value for old in TrialState
                     if not old.is_finished() or old in TRANSITIONS[old])
    return tuple(old.value for old in TrialState if new in TRANSITIONS[old])


_FROM = {new: _states_from(new) for new in (None, *TrialState)}


@lru_cache(maxsize=256)
def _update_statement(keys: tuple[str, ...], new: TrialState | None) -> sa.Update:
    """``UPDATE trials SET <keys> WHERE id = :trial_id AND state IN (…) RETURNING *``,
    built once per set of columns: building a statement costs more than running it.
    The states are written into the SQL (they are this module's own enum values): as
    bound parameters they were an "expanding" IN list, rendered again at every
    execution (about a tenth of a write's CPU)."""
    states: list[sa.ColumnClause[Any]] = [sa.literal_column(f"'{state}'")
                                          for state in _FROM[new]]
    return (sa.update(TRIALS)
            .where(TRIALS.c.id == sa.bindparam("trial_id"), TRIALS.c.state.in_(states))
            .values({key: sa.bindparam(key) for key in keys}).returning(*TRIALS.c))


_INSERTED = ("experiment_id", "state", "params", "created_at", "updated_at", "gpus",
             "log_offset", "rerun_of", "early_stopping")
_INSERT = sa.insert(TRIALS).from_select(
    ["number", *_INSERTED],
    sa.select(sa.func.coalesce(sa.func.max(TRIALS.c.number), 0) + 1,
              *(sa.bindparam(key, type_=TRIALS.c[key].type) for key in _INSERTED))
    .where(TRIALS.c.experiment_id == sa.bindparam("experiment_id"))).returning(*TRIALS.c)
"""The trial numbered after the experiment's highest, inserted in one statement."""
_EXPERIMENT = cast(sa.Table, ExperimentRow.__table__)
_LOCK_EXPERIMENT = (sa.select(_EXPERIMENT.c.id)
                    .where(_EXPERIMENT.c.id == sa.bindparam("experiment_id")).with_for_update())
_SELECT = sa.select(*TRIALS.c).where(TRIALS.c.id == sa.bindparam("trial_id"))


def update(connection: sa.Connection, target: Target, trial_id: int,
           changes: Mapping[str, Any]) -> TrialRecord:
    """Apply checked ``changes`` (``state`` as a TrialState) to one trial in one
    statement and return the trial as stored.

    Raises:
        NotFound: no such trial.
        InvalidTransition: the state change is not allowed, or the trial has finished.
    """
    values = dict(changes)
    new: TrialState | None = values.get("state")
    if new is not None:
        values["state"] = new.value
    if not values:
        return convert.trial_record(_read(connection, target, trial_id))
    values["updated_at"] = utc_now()
    statement = _update_statement(tuple(sorted(values)), new)
    row = connection.execute(statement, {**values, "trial_id": trial_id}).first()
    if row is None:
        _refuse(connection, target, trial_id, new)
    return convert.trial_record(row)


def _read(connection: sa.Connection, target: Target, trial_id: int) -> sa.Row[Any]:
    row = connection.execute(_SELECT, {"trial_id": trial_id}).first()
    if row is None:
        raise NotFound(f"no trial with id {trial_id} in {target.place}")
    return row


def _refuse(connection: sa.Connection, target: Target, trial_id: int,
            new: TrialState | None) -> NoReturn:
    """Why an update changed no row: raises NotFound or InvalidTransition."""
    old = TrialState(_read(connection, target, trial_id).state)
    try:
        check_transition(old, new if new is not None else old)
    except InvalidTransition as exc:
        raise InvalidTransition(f"trial {trial_id}: {exc}") from None
    # the row changed between the update and this read (another program's write)
    raise InvalidTransition(f"trial {trial_id}: it changed meanwhile (now {old.value})")


def output_offset(connection: sa.Connection, target: Target, trial_id: int,
                  changes: Mapping[str, Any]) -> TrialRecord:
    """Set a running trial's ``log_offset`` and ``kpi`` (the output read so far).

    Raises:
        NotFound: no such trial.
        InvalidTransition: the trial has finished (its output is complete).
    """
    values = {**changes, "updated_at": utc_now()}
    statement = _update_statement(tuple(sorted(values)), None)
    row = connection.execute(statement, {**values, "trial_id": trial_id}).first()
    if row is None:
        state = _read(connection, target, trial_id).state
        raise InvalidTransition(f"trial {trial_id}: it has finished ({state}); its output "
                                "is complete")
    return convert.trial_record(row)


def trial_event(connection: sa.Connection, record: TrialRecord, kind: str,
                message: str) -> None:
    """Append one line to the history of ``record``'s experiment, about it (the trial
    is known to exist: it was just written on this connection)."""
    connection.execute(_ADD_EVENT, {"experiment_id": record.experiment_id,
                                    "trial_id": record.id, "time": utc_now(), "kind": kind,
                                    "message": message})


def create(connection: sa.Connection, target: Target, experiment_id: int,
           state: TrialState, params: dict[str, Any], rerun_of: int | None,
           early_stopping: EarlyStopping = EarlyStopping.SCHEDULED) -> TrialRecord:
    """Insert the experiment's next trial (numbered after its highest) and return it as
    stored: one statement on SQLite, whose write lock (``BEGIN IMMEDIATE``) orders two
    programs numbering trials at once; on PostgreSQL the experiment's row is locked
    first (``FOR UPDATE``) to do the same.

    Raises:
        NotFound: no such experiment.
    """
    key = {"experiment_id": experiment_id}
    locks = connection.dialect.name != "sqlite"
    if locks and connection.scalar(_LOCK_EXPERIMENT, key) is None:
        raise NotFound(f"no experiment with id {experiment_id} in {target.place}")
    now = utc_now()
    try:
        row = connection.execute(_INSERT, {
            "experiment_id": experiment_id, "state": state.value, "params": params,
            "created_at": now, "updated_at": now, "gpus": [], "log_offset": 0,
            "rerun_of": rerun_of, "early_stopping": early_stopping.value}).one()
    except sa.exc.IntegrityError:  # the experiment's foreign key, if it is gone
        if not locks and connection.scalar(_LOCK_EXPERIMENT, key) is None:
            raise NotFound(f"no experiment with id {experiment_id} in {target.place}") from None
        raise
    return convert.trial_record(row)
