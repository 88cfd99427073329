"""Reading a whole experiment at once: its points in one streamed query, and every
experiment's trial counts in one aggregate (see :class:`~app.store.store.Store`).

Opening an experiment used to cost one query per trial and the experiment list one
read of every trial of every experiment; these queries cost one round trip each,
whatever the number of trials. They run inside the caller's session.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.engine.best import TrialTally
from app.engine.ports import StoreError
from app.engine.records import MetricSeries
from app.store.bulk import METRICS
from app.store.listing import TALLY_COUNTS_SQL, TALLY_RANGES_SQL, tallies_from_rows, tally_params
from app.store.models import TrialRow

if TYPE_CHECKING:  # imported when points are read: the window paints before numpy loads
    import numpy as np

CHUNK_POINTS = 20_000
"""Rows fetched per round trip while streaming an experiment's points."""
SIZES_FETCHED = 1000
"""Series sizes fetched at a time beside the points on SQLite."""
SERIES_FETCHED = 20
"""Series fetched per round trip on PostgreSQL (each a row of two arrays)."""


def experiment_series(session: Session, experiment_id: int,
                      chunk: int = CHUNK_POINTS) -> Iterator[list[MetricSeries]]:
    """Every point of the experiment's trials, one SELECT streamed about ``chunk``
    points at a time (on SQLite a row per point, after one aggregate of the series'
    sizes; on PostgreSQL a row per series), as one :class:`MetricSeries` per trial and
    metric: by trial id, then by name, each series
    ordered as :meth:`Store.get_metrics` orders a trial's points (step, points without
    a step first, then time). A series is never split: each list holds whole series
    (one that spans a fetch waits for the next).

    The rows come from the driver's own cursor (a server-side one on PostgreSQL): a
    SQLAlchemy row and type conversion per point cost several times the query itself,
    and the values need none but SQLite's NaN text, which ``float()`` reads. The trials
    are picked by a subquery, so the metrics index gives the order and the first rows
    come at once (a join sorted all the points first).
    """
    if chunk < 1:
        raise ValueError(f"experiment_series: chunk must be >= 1, got {chunk!r}")
    trials = sa.select(TrialRow.id).where(TrialRow.experiment_id == experiment_id)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        yield from _aggregated_series(connection, trials, chunk,
                                      f"sweeplab_series_{experiment_id}")
    else:
        yield from _counted_series(connection, trials, chunk)


def series_bounds(session: Session, experiment_id: int, name: str
                  ) -> tuple[float, float, float, float] | None:
    """Step min, step max, value min and value max over the finite points of metric
    ``name`` of the experiment's trials: the bounds a chart of that metric's curves will
    have once every point is drawn. One aggregate (the database walks the points, the
    caller's interpreter waits for one row). None when no point is finite, or when a
    finite point has no step (a chart numbers those by their place in the series)."""
    table = METRICS.c
    finite = table.value.between(-sys.float_info.max, sys.float_info.max)  # not NaN, not ±inf
    query = (sa.select(sa.func.count() - sa.func.count(table.step), sa.func.min(table.step),
                       sa.func.max(table.step), sa.func.min(table.value),
                       sa.func.max(table.value))
             .where(table.trial_id.in_(sa.select(TrialRow.id)
                                       .where(TrialRow.experiment_id == experiment_id)),
                    table.name == name, finite))
    stepless, *found = session.execute(query).one()
    if stepless or any(value is None for value in found):
        return None
    x_low, x_high, y_low, y_high = (float(value) for value in found)
    return x_low, x_high, y_low, y_high


def _aggregated_series(connection: sa.Connection, trials: sa.Select[Any], chunk: int,
                       cursor_name: str) -> Iterator[list[MetricSeries]]:
    """PostgreSQL: one row per series from a server-side cursor, its steps and values
    gathered into two arrays in the rule's order by the server (one statement: one
    snapshot). The driver makes a row per series, not per point: a row per point cost
    the reading thread over twice the CPU (``bench/gui_load_store.py``)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by  # ~80 ms: PostgreSQL only

    table = METRICS.c
    order = (table.step.asc().nulls_first(), table.time, table.id)
    query = (sa.select(table.trial_id, table.name,
                       sa.func.array_agg(aggregate_order_by(table.step, *order)),
                       sa.func.array_agg(aggregate_order_by(table.value, *order)))
             .where(table.trial_id.in_(trials))
             .group_by(table.trial_id, table.name)
             .order_by(table.trial_id, table.name))
    driver: Any = connection.connection.driver_connection
    cursor = driver.cursor(name=cursor_name)
    try:
        cursor.execute(*_driver_statement(query, connection))
        found: list[MetricSeries] = []
        size = 0
        while rows := cursor.fetchmany(SERIES_FETCHED):
            for trial_id, name, steps, values in rows:
                found.append(MetricSeries(trial_id, name, _frozen(steps), _frozen(values)))
                size += len(values)
                if size >= chunk:
                    yield found
                    found, size = [], 0
        if found:
            yield found
    finally:
        cursor.close()


def _counted_series(connection: sa.Connection, trials: sa.Select[Any], chunk: int
                    ) -> Iterator[list[MetricSeries]]:
    """SQLite: the series' keys and sizes from one aggregate, read beside only (step,
    value) per point, which those sizes cut into series. Both statements run in the caller's read
    transaction (``BEGIN``, see :mod:`app.store.connect`), so they see the same points
    (WAL: a write meanwhile is not seen).

    Two columns a point instead of four: the driver makes a row tuple and an object per
    column, a new name string and a trial id each point, all holding the GIL the window
    needs (~35 % less CPU than the four columns, the aggregate included, which runs in
    SQLite without the GIL). The index (trial_id, name, step) holds equal steps in id
    order, so ordering by id after the step needs no sort; ordering by time first (the
    rule) made SQLite sort every run of equal keys, ~0.8 s CPU a million points. The
    few series with a step twice are read again in the rule's order (_exact_series).
    """
    table = METRICS.c
    picked = table.trial_id.in_(trials)
    keys = (sa.select(table.trial_id, table.name, sa.func.count())
            .where(picked).group_by(table.trial_id, table.name)
            .order_by(table.trial_id, table.name))
    points = (sa.select(table.step, table.value).where(picked)
              .order_by(table.trial_id, table.name, table.step.asc().nulls_first(), table.id))
    driver: Any = connection.connection.driver_connection
    sizes_cursor, cursor = driver.cursor(), driver.cursor()
    try:
        # the sizes are streamed beside the points (the aggregate walks the index in
        # order, so its groups come as it goes): the first curves wait for no full scan
        sizes_cursor.execute(*_driver_statement(keys, connection))
        sizes = _streamed(sizes_cursor, SIZES_FETCHED)
        pending: tuple[int, str, int] | None = next(sizes, None)
        cursor.execute(*_driver_statement(points, connection))
        carried: list[Any] = []
        while rows := cursor.fetchmany(chunk):
            rows = carried + rows if carried else rows
            cuts: list[tuple[int, str, int, int]] = []  # trial id, name, start, end
            start = 0
            while pending is not None and start + pending[2] <= len(rows):
                trial_id, name, size = pending
                cuts.append((trial_id, name, start, start + size))
                start += size
                pending = next(sizes, None)
            carried = rows[start:]
            if cuts:
                yield _cut_series(connection, rows[:start], cuts)
        if carried or pending is not None:
            raise StoreError("the experiment's points changed while they were read "
                             f"({len(carried)} rows left over, series "
                             f"{pending and pending[:2]!r} not read)")
    finally:
        sizes_cursor.close()
        cursor.close()


def _cut_series(connection: sa.Connection, rows: list[Any],
                cuts: list[tuple[int, str, int, int]]) -> list[MetricSeries]:
    """Rows of (step, value) cut into series (trial id, name, start, end): views of two
    arrays made at once, and a series with a step twice read again in the rule's order."""
    import numpy as np

    steps, values = _arrays(rows)
    repeated = _repeats(steps)
    found = []
    for trial_id, name, start, end in cuts:
        if len(repeated) and np.searchsorted(repeated, start) < np.searchsorted(
                repeated, end - 1):
            found.append(MetricSeries(trial_id, name,
                                      *_arrays(_exact_series(connection, trial_id, name))))
        else:
            found.append(MetricSeries(trial_id, name, steps[start:end], values[start:end]))
    return found


def _arrays(rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (step, value) as two read-only float64 arrays: a step None is NaN, as is
    SQLite's NaN text. One pass over the rows, in numpy (no object per point)."""
    import numpy as np

    pairs = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=2 * len(rows))
    columns = pairs.reshape(-1, 2).T.copy()
    columns.flags.writeable = False
    return columns[0], columns[1]


def _frozen(numbers: Sequence[Any]) -> np.ndarray:
    """Numbers as a read-only float64 array (None as NaN)."""
    import numpy as np

    array = np.array(numbers, dtype=np.float64)
    array.flags.writeable = False
    return array


def _repeats(steps: np.ndarray) -> np.ndarray:
    """The indices ``i`` where point ``i + 1`` has the step of point ``i`` (None, NaN
    here, counting as a step too)."""
    import numpy as np

    before, after = steps[:-1], steps[1:]
    return np.flatnonzero((before == after) | (np.isnan(before) & np.isnan(after)))


def _streamed(cursor: Any, size: int) -> Iterator[Any]:
    """The rows of ``cursor``'s statement, fetched ``size`` at a time."""
    while rows := cursor.fetchmany(size):
        yield from rows


def _driver_statement(query: sa.Select[Any], connection: sa.Connection) -> tuple[str, Any]:
    """``query`` as the driver's own SQL text and parameters."""
    compiled = query.compile(dialect=connection.dialect)
    order = compiled.positiontup
    params: Any = (tuple(compiled.params[name] for name in order) if order is not None
                   else compiled.params)
    return str(compiled), params


def _exact_series(connection: sa.Connection, trial_id: int, name: str) -> list[Any]:
    """One series' rows of (step, value) in :meth:`Store.get_metrics`'s order (step,
    points without a step first, then time, then id), through a cursor of its own."""
    table = METRICS.c
    query = (sa.select(table.step, table.value)
             .where(table.trial_id == trial_id, table.name == name)
             .order_by(table.step.asc().nulls_first(), table.time, table.id))
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(*_driver_statement(query, connection))
        rows: list[Any] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def trial_tallies(session: Session) -> dict[int, TrialTally]:
    """Per experiment that has trials, its :class:`TrialTally`: two GROUP BY queries,
    :data:`~app.store.listing.TALLY_COUNTS_SQL` and
    :data:`~app.store.listing.TALLY_RANGES_SQL`, the SQL the reader without SQLAlchemy
    runs too (``sweeplab ls``).

    The KPI range is of the trials that compete for best
    (:func:`app.engine.best.competing_kpi`: COMPLETED with a finite KPI; NaN, stored
    as text on SQLite and above every number on PostgreSQL, and the infinities are
    left out by the bounds), and the budget cut counts STOPPED trials whose note is
    :attr:`StopReason.BUDGET` (:func:`app.engine.best.budget_cut`).
    """
    params = tally_params()
    counted = session.execute(sa.text(TALLY_COUNTS_SQL), params).all()
    ranges = session.execute(sa.text(TALLY_RANGES_SQL), params)
    return tallies_from_rows(counted, ranges)
