"""Every experiment with its trials added up: the SQL, and a reader of a SQLite file
that needs no SQLAlchemy.

``sweeplab ls`` lists the experiments with their trial counts and best KPI. Through
the :class:`~app.store.store.Store` that costs SQLAlchemy's import (~0.3 s of CPU,
more than the rest of the command), so a SQLite file at the newest schema is read
here with :mod:`sqlite3` instead, and anything else (PostgreSQL, a memory database, a
file that does not exist yet, an older schema to upgrade, a file that is not a
Sweeplab database) goes through the Store as before, with its messages.

The two readers cannot drift apart: the aggregate SQL below is the one the Store runs
(:func:`app.store.history.trial_tallies`), the columns are decoded by
:mod:`app.store.codec` (which the Store's column types call), the schema revision is
checked by :mod:`app.store.revision`, and the records are frozen by
:mod:`app.store.convert`. This module imports no SQLAlchemy.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from app.engine.best import TrialCounts, TrialTally
from app.engine.live import StopReason
from app.engine.records import ExperimentRecord
from app.engine.trial import TrialState
from app.store import codec
from app.store.convert import experiment_record
from app.store.places import looks_like_path, sqlite_url
from app.store.revision import VERSION_SQL, at_head, stored_revisions

TALLY_COUNTS_SQL = (
    "SELECT experiment_id, state, count(*), "
    "sum(CASE WHEN state = :stopped AND error = :budget THEN 1 ELSE 0 END) "
    "FROM trials GROUP BY experiment_id, state"
)
"""Per experiment and trial state: how many trials, and how many of the STOPPED ones
the time budget cut (:func:`app.engine.best.budget_cut`)."""
TALLY_RANGES_SQL = (
    "SELECT experiment_id, min(kpi), max(kpi) FROM trials "
    "WHERE state = :completed AND kpi > :below AND kpi < :above GROUP BY experiment_id"
)
"""Per experiment, the range of the KPIs that compete for best
(:func:`app.engine.best.competing_kpi`: COMPLETED with a finite KPI). NaN, stored as
text on SQLite (text sorts above every number there) and above every number on
PostgreSQL, and the infinities are left out by the bounds."""

EXPERIMENTS_SQL = (
    'SELECT id, name, definition, state, created_at, updated_at, snapshot_hash, "commit", '
    "dirty, driver, driver_seen FROM experiments ORDER BY id"
)
"""Every experiment, oldest first, in :class:`ExperimentColumns`' order."""
_SQLITE_PREFIX = "sqlite:///"


def tally_params() -> dict[str, Any]:
    """The values :data:`TALLY_COUNTS_SQL` and :data:`TALLY_RANGES_SQL` are run with."""
    return {"stopped": TrialState.STOPPED.value, "budget": StopReason.BUDGET.value,
            "completed": TrialState.COMPLETED.value, "below": -math.inf, "above": math.inf}


def tallies_from_rows(counted: Iterable[Sequence[Any]],
                      ranges: Iterable[Sequence[Any]]) -> dict[int, TrialTally]:
    """Per experiment that has trials, its :class:`TrialTally`, from the rows of
    :data:`TALLY_COUNTS_SQL` and :data:`TALLY_RANGES_SQL`."""
    by_state: dict[int, dict[TrialState, int]] = defaultdict(dict)
    budget: dict[int, int] = defaultdict(int)
    for experiment_id, state, count, cut_count in counted:
        by_state[experiment_id][TrialState(state)] = int(count)
        budget[experiment_id] += int(cut_count or 0)
    bounds = {experiment_id: (codec.exact_float(low), codec.exact_float(high))
              for experiment_id, low, high in ranges}
    return {experiment_id: TrialTally(TrialCounts(states, budget[experiment_id]),
                                      *bounds.get(experiment_id, (None, None)))
            for experiment_id, states in by_state.items()}


class ExperimentColumns(NamedTuple):
    """One row of :data:`EXPERIMENTS_SQL`, decoded as the Store's column types decode it."""

    id: int
    name: str
    definition: dict[str, Any]
    state: str
    created_at: datetime
    updated_at: datetime
    snapshot_hash: str | None
    commit: str | None
    dirty: bool | None
    driver: str | None
    driver_seen: datetime | None


def sqlite_columns(row: Sequence[Any]) -> ExperimentColumns:
    """A row of :data:`EXPERIMENTS_SQL` as SQLite's driver gives it, decoded."""
    (id_, name, definition, state, created_at, updated_at, snapshot_hash, commit, dirty,
     driver, driver_seen) = row
    return ExperimentColumns(
        id_, name, codec.lenient_json(definition), state, codec.sqlite_datetime(created_at),
        codec.sqlite_datetime(updated_at), snapshot_hash, commit, codec.stored_bool(dirty),
        driver, codec.sqlite_datetime(driver_seen))


@dataclass(frozen=True)
class Listing:
    """Every experiment of a database with its trials added up.

    Attributes:
        url: the database's URL, any password masked (``Store.url``).
        experiments: oldest first.
        tallies: per experiment that has trials (none: absent).
    """

    url: str
    experiments: list[ExperimentRecord] = field(default_factory=list)
    tallies: dict[int, TrialTally] = field(default_factory=dict)


def sqlite_file(url: str) -> tuple[str, str] | None:
    """The file a plain SQLite URL (or a file path) names, and the URL as the Store
    shows it (:func:`app.store.connect.parse_url`: its path percent-decoded, then
    shown quoted); None for anything else (a memory database, a URL with options,
    another database)."""
    if looks_like_path(url):
        url = sqlite_url(Path(url))
    if not url.startswith(_SQLITE_PREFIX) or "?" in url:
        return None
    path = unquote(url.removeprefix(_SQLITE_PREFIX))
    if path in ("", ":memory:"):
        return None
    return path, _SQLITE_PREFIX + quote(path, safe=" +/")


def read_sqlite_listing(url: str) -> Listing | None:
    """The listing of the SQLite file ``url`` names, read with :mod:`sqlite3` in one
    read transaction; None when this reader does not answer and the Store must: not a
    SQLite file, no such file, not at the newest schema, or any SQLite error, a lock
    held by another program included (the Store waits for it, its busy timeout, and
    says what is wrong in its words).
    """
    found = sqlite_file(url)
    if found is None or not os.path.isfile(found[0]):
        return None
    path, shown = found
    try:  # mode=rw: never create a file (the Store creates a new database); no wait
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=0,
                                     isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("BEGIN")
        if not at_head(stored_revisions(connection.execute(VERSION_SQL))):
            return None
        experiments = [experiment_record(sqlite_columns(row))
                       for row in connection.execute(EXPERIMENTS_SQL)]
        params = tally_params()
        counted = connection.execute(TALLY_COUNTS_SQL, params).fetchall()
        tallies = tallies_from_rows(counted, connection.execute(TALLY_RANGES_SQL, params))
        return Listing(shown, experiments, tallies)
    except sqlite3.Error:
        return None
    finally:
        connection.close()
