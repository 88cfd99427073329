"""Row lookups shared by the store's methods; they run inside the caller's session."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.engine.ports import NotFound, StoreError
from app.store.connect import Target
from app.store.models import ExperimentRow, TrialRow


class SessionScope(Protocol):
    """The store's session scope (:meth:`~app.store.store.Store._session`): one
    transaction that commits, or rolls back and raises a StoreError; ``write`` takes
    the write lock and a write connection."""

    def __call__(self, *, write: bool) -> AbstractContextManager[Session]: ...


def experiment_row(
    session: Session, target: Target, experiment_id: int, *, lock: bool = False
) -> ExperimentRow:
    """The experiment's row (``FOR UPDATE`` when ``lock``). Raises NotFound."""
    query = sa.select(ExperimentRow).where(ExperimentRow.id == experiment_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"no experiment with id {experiment_id} in {target.place}")
    return row


def trial_row(session: Session, target: Target, trial_id: int, *, lock: bool = False) -> TrialRow:
    """The trial's row (``FOR UPDATE`` when ``lock``). Raises NotFound."""
    query = sa.select(TrialRow).where(TrialRow.id == trial_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"no trial with id {trial_id} in {target.place}")
    return row


def ensure_name_free(session: Session, name: str) -> None:
    """Raise StoreError if an experiment already has ``name``."""
    taken = session.scalar(sa.select(ExperimentRow.id).where(ExperimentRow.name == name))
    if taken is not None:
        raise StoreError(f"an experiment named {name!r} already exists")


def flush_named(session: Session, name: str) -> None:
    """Flush; a unique-name violation (another program was faster) becomes StoreError."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise StoreError(f"an experiment named {name!r} already exists") from exc
