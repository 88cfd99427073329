"""Bulk insert of metric points: the Core insert compiled once, run as one executemany.

SQLAlchemy's per-row parameter processing costs more than SQLite's own insert, so
the statement is compiled from the Core ``insert(metrics)`` once per dialect and
handed to the driver's ``executemany`` with rows already in its format. The one
type conversion the column would do (NaN as text on SQLite, see
:class:`app.store.types.ExactFloat`) is applied here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect

from app.store.models import MetricRow
from app.store.validate import MetricRowTuple

COLUMNS = ("trial_id", "name", "step", "value", "time")
METRICS = cast(sa.Table, MetricRow.__table__)


class MetricInsert:
    """``INSERT INTO metrics`` for one dialect.

    Args:
        dialect: the engine's dialect (its paramstyle decides tuples or dicts).
    """

    def __init__(self, dialect: Dialect) -> None:
        compiled = sa.insert(METRICS).compile(
            dialect=dialect, column_keys=list(COLUMNS), for_executemany=True
        )
        self._sql = str(compiled)
        order = compiled.positiontup
        if order is not None and tuple(order) != COLUMNS:
            raise RuntimeError(f"unexpected parameter order {order} in {self._sql}")
        self._positional = order is not None
        self._nan_as_text = dialect.name == "sqlite"

    def run(self, connection: sa.Connection, rows: Sequence[MetricRowTuple]) -> None:
        """Insert ``rows`` with one ``executemany`` in the connection's transaction."""
        params: Sequence[Any] = rows
        if self._nan_as_text:
            params = [
                row if not math.isnan(row[3]) else (row[0], row[1], row[2], "NaN", row[4])
                for row in rows
            ]
        if not self._positional:
            params = [dict(zip(COLUMNS, row, strict=True)) for row in params]
        connection.exec_driver_sql(self._sql, params)
