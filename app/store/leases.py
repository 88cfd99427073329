"""The store's half of the experiment lease (see :mod:`app.engine.lease`).

Each method is one compare-and-set ``UPDATE`` on the experiment row, so two
programs racing for one experiment cannot both win: on SQLite the write
transaction is ``BEGIN IMMEDIATE``, on PostgreSQL the row lock of the ``UPDATE``
serialises them. Renewals do not touch ``updated_at``: a heartbeat is no edit.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.engine.ports import NotFound
from app.store.lookup import SessionScope
from app.store.models import ExperimentRow, utc_now


def _holder_is(expected: str | None) -> sa.ColumnElement[bool]:
    if expected is None:
        return ExperimentRow.driver.is_(None)
    return ExperimentRow.driver == expected


class LeaseRecords:
    """The lease columns of the experiments of one database;
    :class:`~app.store.store.Store` owns one and hands its methods on.

    Args:
        session: the store's session scope; every method is one call of it.
    """

    def __init__(self, session: SessionScope) -> None:
        self._session = session

    def experiment_driver(self, experiment_id: int) -> tuple[str | None, datetime | None]:
        """The stored driver and when it last renewed (None, None when free)."""
        with self._session(write=False) as session:
            row = session.execute(
                sa.select(ExperimentRow.driver, ExperimentRow.driver_seen)
                .where(ExperimentRow.id == experiment_id)).one_or_none()
        if row is None:
            raise NotFound(f"no experiment with id {experiment_id}")
        return row[0], row[1]

    def claim_experiment(self, experiment_id: int, driver: str,
                         expected: str | None) -> bool:
        """Become the driver if the stored one is still ``expected``."""
        with self._session(write=True) as session:
            result = session.execute(
                sa.update(ExperimentRow)
                .where(ExperimentRow.id == experiment_id, _holder_is(expected))
                .values(driver=driver, driver_seen=utc_now()))
            return _count(result) == 1

    def renew_experiment(self, experiment_id: int, driver: str) -> bool:
        """Mark ``driver`` seen now; False when it no longer holds the lease."""
        with self._session(write=True) as session:
            result = session.execute(
                sa.update(ExperimentRow)
                .where(ExperimentRow.id == experiment_id, ExperimentRow.driver == driver)
                .values(driver_seen=utc_now()))
            return _count(result) == 1

    def release_experiment(self, experiment_id: int, driver: str) -> None:
        """Free the lease if ``driver`` still holds it."""
        with self._session(write=True) as session:
            session.execute(
                sa.update(ExperimentRow)
                .where(ExperimentRow.id == experiment_id, ExperimentRow.driver == driver)
                .values(driver=None, driver_seen=None))


def _count(result: sa.Result[object]) -> int:
    return int(getattr(result, "rowcount", 0))


__all__ = ["LeaseRecords"]
