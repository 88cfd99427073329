"""Shared test setup. Qt must see the offscreen platform before it loads."""

from __future__ import annotations

import gc
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


_GUI_COLLECTS: list[bool] = []
"""Set once this process's Qt application collects Python's garbage on its own."""


@pytest.fixture(autouse=True)
def _garbage_collected_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """From the first Qt test of a worker on, Python's cycle collector runs on the GUI
    thread only (as in the app while a window is open), after every test and whenever
    the event loop turns: left automatic, the garbage a widget test leaves (pyqtgraph
    items, timers in cycles) is collected by whichever thread allocates next (a trial's
    or an SSH session's, in a later test) and destroyed there, which crashes the
    worker (``tests/views/test_gui_garbage.py`` shows how)."""
    if not _GUI_COLLECTS and "qapp" in request.fixturenames:
        from app.views.garbage import collect_on_gui_thread

        collect_on_gui_thread(request.getfixturevalue("qapp"))  # held for the process's life
        _GUI_COLLECTS.append(True)
    yield
    if _GUI_COLLECTS and not gc.isenabled():
        from app.views.garbage import gui_collector

        gui_collector().collect()


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

