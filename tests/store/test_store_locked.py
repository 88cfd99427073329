"""A SQLite database another program is writing to: reads go on, writes say who holds it.

The lock is held by a real second process (``BEGIN IMMEDIATE`` on its own sqlite3
connection), as the GUI or a running ``sweeplab run`` would hold it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.ports import StoreError
from app.engine.trial import ExperimentState
from app.store.migrate import head_revision
from app.store.places import BUSY_TIMEOUT_ENV, sqlite_url
from app.store.store import Store
from tests.reliability.bad_db import StoredState, make_golden
from tests.reliability.bad_support import TRACEBACK, assert_refused, sweeplab

Hold = Callable[[Path], None]


@pytest.fixture
def hold() -> Iterator[Hold]:
    """Hold a write lock on a database from another process until the test ends."""
    started: list[subprocess.Popen[str]] = []
    code = ("import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "c.execute('ROLLBACK')\n")

    def start(db: Path) -> None:
        process = subprocess.Popen([sys.executable, "-c", code, str(db)], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"  # blocks until it holds it

    yield start
    for process in started:
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=30) == 0


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    """A current Sweeplab database holding experiment ``kept`` (marked running)."""
    path = tmp_path / "db" / "sweeplab.db"
    path.parent.mkdir()
    make_golden(path)
    with Store(sqlite_url(path)) as store:
        store.update_experiment(store.get_experiment("kept").id, state=ExperimentState.RUNNING)
    return path


def test_a_current_database_opens_and_reads_while_another_program_writes(
        golden: Path, hold: Hold) -> None:
    hold(golden)
    # if opening took the write lock it would fail as "locked" after this generous wait
    with Store(sqlite_url(golden), busy_timeout=30) as store:
        assert [e.name for e in store.list_experiments()] == ["kept"]
        assert [t.kpi for t in store.list_trials(store.get_experiment("kept").id)] == [0.2]


def test_a_write_while_another_program_writes_says_so(golden: Path, hold: Hold) -> None:
    hold(golden)
    with (Store(sqlite_url(golden), busy_timeout=0.2) as store,
          pytest.raises(StoreError) as caught):
        store.create_experiment("blocked", {})
    assert str(caught.value).startswith(
        f"the database file {golden} is locked by another program (waited 0.2 s)")


def test_a_database_that_needs_creating_waits_for_the_lock_and_says_so(
        tmp_path: Path, hold: Hold) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).close()  # an empty file: Sweeplab would create its tables
    hold(path)
    with pytest.raises(StoreError, match=f"the database file {path} is locked by another"):
        Store(sqlite_url(path), busy_timeout=0.2)


@pytest.mark.parametrize("round_", range(5))
def test_stores_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path,
                                                              round_: int) -> None:
    """Each reads "not current", then the upgrade checks again under the write lock; the
    one that wrote the schema switches the file to WAL while the others still hold or
    wait for the write lock (which failed at once, about one time in twenty, before the
    switch waited for it). Eight openers, five times, to meet that often."""
    url = sqlite_url(tmp_path / "race.db")
    openers = 8
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait(timeout=30)
            Store(url, busy_timeout=30).close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    raw = sqlite3.connect(tmp_path / "race.db")
    assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
        (head_revision(),)]
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_the_switch_to_wal_waits_for_another_writer_as_long_as_it_says(
        tmp_path: Path) -> None:
    """A current database not yet in WAL, another program writing: SQLite fails the
    switch at once (it would upgrade a read lock), so opening said "locked (waited
    0.5 s)" after no wait at all. Now it waits the busy timeout, and switches once free."""
    path = tmp_path / "db" / "sweeplab.db"
    path.parent.mkdir()
    make_golden(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
    raw.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n", str(path)],
        text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"the database file {path} is locked by "
                                             r"another program \(waited 0.5 s\)"):
            Store(sqlite_url(path), busy_timeout=0.5)
        assert time.monotonic() - started >= 0.5
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    with Store(sqlite_url(path), busy_timeout=0.5) as store:
        assert [e.name for e in store.list_experiments()] == ["kept"]
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_cli_ls_lists_and_a_write_command_says_who_holds_the_file(
        golden: Path, hold: Hold, tmp_path: Path) -> None:
    before = StoredState.of(golden)
    hold(golden)
    home = tmp_path / "home"
    listed = sweeplab("ls", "--db", str(golden), home=home, timeout=60)
    assert listed.code == 0, listed.text
    assert "kept" in listed.out and "loss 0.2" in listed.out
    assert TRACEBACK not in listed.text
    stopped = sweeplab("stop", "kept", "--db", str(golden), home=home, timeout=60,
                       env={BUSY_TIMEOUT_ENV: "0.3"})
    assert_refused(stopped, f"the database file {golden} is locked by another program",
                   "stop kept while locked")
    assert StoredState.of(golden) == before


def test_a_bad_busy_timeout_variable_is_named(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match=f"{BUSY_TIMEOUT_ENV} must be a number of seconds "
                                         ">= 0, got 'soon'"):
        Store(sqlite_url(tmp_path / "s.db"))
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "0.5")
    with Store(sqlite_url(tmp_path / "s.db")) as store:
        assert store.list_experiments() == []
