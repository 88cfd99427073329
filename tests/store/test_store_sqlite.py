"""SQLite specifics: WAL, locks, corrupt and foreign files, default location, URLs."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from app.engine.ports import StoreError
from app.engine.records import MetricPoint
from app.store.connect import Backend, default_database_url
from app.store.places import sqlite_url
from app.store.store import Store


def test_wal_journal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(sqlite_url(path)) as store:
        experiment = store.create_experiment("e", {})
        store.create_trial(experiment.id, {})
        raw = sqlite3.connect(path)
        try:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            raw.execute("PRAGMA foreign_keys = ON")
            with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
                raw.execute("INSERT INTO metrics (trial_id, name, value, time) "
                            "VALUES (999, 'x', 1.0, 0.0)")
        finally:
            raw.close()


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "random.db"
    content = os.urandom(16384)
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        Store(sqlite_url(path))
    assert str(caught.value) == (
        f"the file {path} is not a Sweeplab database (file is not a database)"
    )
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.db"]


def test_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (body TEXT)")
    raw.commit()
    raw.close()
    content = path.read_bytes()
    with pytest.raises(StoreError, match=r"is not a Sweeplab database \(it holds other tables"):
        Store(sqlite_url(path))
    assert path.read_bytes() == content


def test_locked_database_gives_clear_error_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(sqlite_url(path), busy_timeout=0.3)
    kept = store.create_experiment("kept", {})
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.create_experiment("blocked", {})
        waited = time.monotonic() - started
        assert str(caught.value).startswith(f"the database file {path} is locked by another")
        assert "waited 0.3 s" in str(caught.value)
        assert 0.25 <= waited < 5.0
        # WAL: readers are not blocked by the writer
        assert [e.name for e in store.list_experiments()] == ["kept"]
        with Store(sqlite_url(path), busy_timeout=0.1) as reader:  # a current schema: no write
            assert [e.name for e in reader.list_experiments()] == ["kept"]
        other.execute("COMMIT")
        assert store.create_experiment("after", {}).id == kept.id + 1
    finally:
        other.close()
        store.close()


def test_two_stores_on_one_file_wait_for_each_other(tmp_path: Path) -> None:
    """Like the GUI and the terminal writing at once: BEGIN IMMEDIATE + busy timeout."""
    url = sqlite_url(tmp_path / "s.db")
    first, second = Store(url), Store(url)
    trial_id = first.create_trial(first.create_experiment("e", {}).id, {}).id
    errors: list[BaseException] = []

    def write(store: Store, name: str) -> None:
        try:
            for batch in range(20):
                store.add_metrics(
                    [MetricPoint(trial_id, name, float(i), batch * 50 + i, 0.0) for i in range(50)]
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n))
               for s, n in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(first.get_metrics(trial_id, "a")) == len(second.get_metrics(trial_id, "b")) == 1000
    first.close()
    second.close()


def test_memory_database_from_threads() -> None:
    with Store("sqlite://") as store:
        experiment_id = store.create_experiment("m", {}).id
        threads = [threading.Thread(target=store.create_trial, args=(experiment_id, {}))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert [t.number for t in store.list_trials(experiment_id)] == [1, 2, 3, 4]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"{tmp_path / 'nope'} is not a folder"):
        Store(sqlite_url(tmp_path / "nope" / "s.db"))


def test_default_url_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWEEPLAB_DB", raising=False)
    assert default_database_url().endswith(os.sep.join(("sweeplab", "sweeplab.db")))
    assert default_database_url().startswith("sqlite:///")
    monkeypatch.setenv("SWEEPLAB_DB", "postgresql+psycopg://me@db.lab:5432/sweeps")
    assert default_database_url() == "postgresql+psycopg://me@db.lab:5432/sweeps"
    target = tmp_path / "deep" / "er" / "mine.db"
    monkeypatch.setenv("SWEEPLAB_DB", str(target))
    assert default_database_url() == f"sqlite:///{target}"
    with Store.open() as store:
        assert store.url == f"sqlite:///{target}"
        assert store.backend is Backend.SQLITE
        store.create_experiment("x", {})
    assert target.is_file()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://me:hunter2@host/db", "SQLite or PostgreSQL, not 'mysql'"),
        # no scheme, or a typo in it: the password is hidden all the same
        ("me:hunter2@db.lab/sweeps", "'me:\\*\\*\\*@db.lab/sweeps' is not a database URL"),
        ("postgresql:/me:hunter2@db.lab/sweeps",
         "'postgresql:/me:\\*\\*\\*@db.lab/sweeps' is not a database URL"),
        ("postgresql//me:hunt@er2@db.lab/sweeps", "is not a database URL"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        Store(url)
    assert "hunt" not in str(caught.value)


def test_negative_busy_timeout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="busy_timeout must be >= 0 seconds, got -1"):
        Store(sqlite_url(tmp_path / "s.db"), busy_timeout=-1)
