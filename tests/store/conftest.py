"""Store fixtures: every contract test runs on a SQLite file and on a real PostgreSQL.

The PostgreSQL cluster is started once per session (lazily, only when a test asks
for it) and each test gets a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.store.models import Base
from app.store.places import sqlite_url
from app.store.store import Store
from devtools.pgcluster import PgCluster

BACKENDS = ("sqlite", "postgresql")


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            names = ", ".join(table.name for table in Base.metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


def new_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of ``backend`` (no tables at all) for one test."""
    if backend == "sqlite":
        return sqlite_url(tmp_path / "sweeplab.db")
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database with the schema and no rows, once per backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "sweeplab.db")
    url: str = request.getfixturevalue("pg_shared_url")
    _truncate(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database without any table, once per backend."""
    return new_url(request.param, request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on an empty database, once per backend."""
    opened = Store(store_url, busy_timeout=5.0)
    yield opened
    opened.close()
