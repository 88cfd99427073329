"""Reading a whole experiment at once: its points in one streamed query, and every
experiment's trial counts in one aggregate (see :class:`~app.store.store.Store`).

Opening an experiment used to cost one query per trial and the experiment list one
read of every trial of every experiment; these queries cost one round trip each,
whatever the number of trials. They run inside the caller's session.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.engine.best import TrialTally
from app.engine.records import MetricSeries
from app.store.bulk import METRICS
from app.store.listing import TALLY_COUNTS_SQL, TALLY_RANGES_SQL, tallies_from_rows, tally_params
from app.store.models import TrialRow

CHUNK_POINTS = 20_000
"""Rows fetched per round trip while streaming an experiment's points."""


def experiment_series(session: Session, experiment_id: int,
                      chunk: int = CHUNK_POINTS) -> Iterator[list[MetricSeries]]:
    """Every point of the experiment's trials, one SELECT streamed ``chunk`` rows at a
    time, as one :class:`MetricSeries` per trial and metric: by trial id, then by name,
    each series ordered as :meth:`Store.get_metrics` orders a trial's points (step,
    points without a step first, then time). A series is never split: each list holds
    whole series (one that spans a fetch waits for the next).

    The rows come from the driver's own cursor (a server-side one on PostgreSQL): a
    SQLAlchemy row and type conversion per point cost several times the query itself,
    and the values need none but SQLite's NaN text, which ``float()`` reads. The trials
    are picked by a subquery, so the metrics index gives the order and the first rows
    come at once (a join sorted all the points first).
    """
    if chunk < 1:
        raise ValueError(f"experiment_series: chunk must be >= 1, got {chunk!r}")
    table = METRICS.c
    trials = sa.select(TrialRow.id).where(TrialRow.experiment_id == experiment_id)
    query = (sa.select(table.trial_id, table.name, table.step, table.value)
             .where(table.trial_id.in_(trials))
             .order_by(table.trial_id, table.name, table.step.asc().nulls_first(),
                       table.time, table.id))
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    order = compiled.positiontup
    params: Any = (tuple(compiled.params[name] for name in order) if order is not None
                   else compiled.params)
    driver: Any = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name=f"sweeplab_series_{experiment_id}") if postgres else (
        driver.cursor())
    carried: list[Any] = []
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(chunk):
            rows = carried + rows
            last = rows[-1][:2]
            cut = len(rows)
            while cut > 0 and rows[cut - 1][:2] == last:
                cut -= 1
            carried = rows[cut:]
            if cut:
                yield _grouped(rows[:cut])
        if carried:
            yield _grouped(carried)
    finally:
        cursor.close()


def _grouped(rows: list[Any]) -> list[MetricSeries]:
    found = []
    for (trial_id, name), run in groupby(rows, key=itemgetter(0, 1)):
        _, _, steps, values = zip(*run, strict=True)
        found.append(MetricSeries(trial_id, name, steps, tuple(map(float, values))))
    return found


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
