"""Shared test setup. Qt must see the offscreen platform before it loads."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.store.store import Store
from devtools.pgcluster import PgCluster, PgClusterError

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked ``slow`` first: with ``make test``'s two workers (``--dist
    loadscope --no-loadscope-reorder``: whole modules, in this order) a long module
    started last would run alone at the end."""
    def module(item: pytest.Item) -> str:
        return getattr(getattr(item, "module", None), "__name__", "")

    slow = {module(item) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: module(item) not in slow)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server; fails (never skips) when it cannot run."""
    try:
        cluster = PgCluster()
        cluster.start()
    except PgClusterError as exc:
        pytest.fail(f"PostgreSQL is needed for the store tests: {exc}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_shared_url(pg_cluster: PgCluster) -> str:
    """One migrated PostgreSQL database that the contract tests share, emptied per test."""
    url = pg_cluster.create_database("sweeplab_shared")
    Store(url).close()
    return url

