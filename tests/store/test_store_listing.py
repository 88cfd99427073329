"""``sweeplab ls``'s two readers: a SQLite file at the newest schema is read with
:mod:`sqlite3` (:mod:`app.store.listing`), anything else through the Store. They must
give the same table on the same database: these tests keep them from drifting."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.application.database import experiment_listing
from app.commands.console import console
from app.commands.exp_cmd import render_listing
from app.engine.best import best_trial, count_trials
from app.engine.live import StopReason
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.store.connect import make_engine, parse_url
from app.store.listing import Listing, read_sqlite_listing, sqlite_file
from app.store.migrate import HEAD, alembic_config, current_revisions
from app.store.places import sqlite_url
from app.store.store import Store
from tests.helpers import experiment_doc, write_code

ROOT = Path(__file__).resolve().parents[2]


def _trial(store: Store, experiment_id: int, state: TrialState, kpi: float | None = None,
           error: str | None = None) -> None:
    trial = store.create_trial(experiment_id, {"x": 0.5})
    if state is TrialState.QUEUED:
        return
    store.update_trial(trial.id, state=TrialState.RUNNING)
    if state is not TrialState.RUNNING:
        store.update_trial(trial.id, state=state, kpi=kpi, error=error)


def fill(store: Store, root: Path) -> None:
    """Experiments that exercise every decoding and the best rule: NaN and infinite
    KPIs (never best), failed, running, pruned, stopped and budget-cut trials (not
    competing), a minimising and a maximising KPI, unicode and markup in names, an
    experiment without trials, and one whose stored definition is not JSON."""
    code = write_code(root, "print('hi')\n")
    kpis = [math.nan, math.inf, -math.inf, 0.25, -3.5, 7.0, 1e300, -0.0]
    for name, goal in (("min ünïcødé ✓", "min"), ("max [bold]x[/]", "max")):
        doc = experiment_doc(code, name=name, kpi={"name": "score", "goal": goal})
        experiment_id = store.create_experiment(name, doc).id
        for kpi in kpis:
            _trial(store, experiment_id, TrialState.COMPLETED, kpi)
        _trial(store, experiment_id, TrialState.FAILED, -1e9)  # better, but failed
        _trial(store, experiment_id, TrialState.PRUNED, 1e9)
        _trial(store, experiment_id, TrialState.STOPPED, 5.0, StopReason.BUDGET.value)
        _trial(store, experiment_id, TrialState.STOPPED, 5.0, "by the user")
        _trial(store, experiment_id, TrialState.RUNNING)
        _trial(store, experiment_id, TrialState.QUEUED)
    only_nan = store.create_experiment("only NaN", experiment_doc(code, name="only NaN")).id
    _trial(store, only_nan, TrialState.COMPLETED, math.nan)
    store.create_experiment("no trials", experiment_doc(code, name="no trials"))
    broken = store.create_experiment("broken", experiment_doc(code, name="broken")).id
    _trial(store, broken, TrialState.COMPLETED, 1.0)


def damage_definition(url: str, name: str) -> None:
    """Overwrite ``name``'s stored definition with text that is not JSON, as a hand
    edit of the file would."""
    with sqlite3.connect(parse_url(url).sqlite_path or "") as connection:
        connection.execute("UPDATE experiments SET definition = '{oops' WHERE name = ?", (name,))


def store_listing(url: str) -> Listing:
    """The listing as the Store reads it (what ``ls`` did before it had its own reader)."""
    with Store(url) as store:
        return Listing(store.url, store.list_experiments(), store.trial_tallies())


def rendered(listing: Listing) -> str:
    with console.capture() as captured:
        render_listing(listing)
    return captured.get()


@pytest.fixture
def tricky_url(tmp_path: Path) -> str:
    """A SQLite file at the newest schema, in a folder whose name needs quoting in a URL."""
    folder = tmp_path / "a b é#"
    folder.mkdir()
    url = sqlite_url(folder / "sweeplab.db")
    with Store(url) as store:
        fill(store, tmp_path)
    damage_definition(url, "broken")
    return url


def test_both_readers_list_the_same_records_and_tallies(tricky_url: str) -> None:
    light = read_sqlite_listing(tricky_url)
    assert light is not None, "a current SQLite file is read without the Store"
    assert light == store_listing(tricky_url)
    assert [e.name for e in light.experiments] == ["min ünïcødé ✓", "max [bold]x[/]",
                                                    "only NaN", "no trials", "broken"]


def test_both_readers_render_the_same_table(tricky_url: str) -> None:
    light = read_sqlite_listing(tricky_url)
    assert light is not None
    table = rendered(light)
    assert table == rendered(store_listing(tricky_url))
    assert "score 1e+300" in table and "score -3.5" in table  # max, min: finite, completed
    assert "broken: 'broken'" in table and "not JSON" in table


def test_the_tally_is_the_engine_rule(tricky_url: str) -> None:
    """The tally's counts and best KPI are what :mod:`app.engine.best` finds among the
    trials, for both goals."""
    light = read_sqlite_listing(tricky_url)
    assert light is not None
    with Store(tricky_url) as store:
        for experiment in light.experiments:
            trials = store.list_trials(experiment.id)
            tally = light.tallies.get(experiment.id)
            if not trials:
                assert tally is None
                continue
            assert tally is not None and tally.counts == count_trials(trials)
            for goal in Goal:
                best = best_trial(trials, goal)
                assert tally.best_kpi(goal) == (None if best is None else best.kpi)


def test_the_command_prints_the_store_readers_table(tricky_url: str) -> None:
    """``sweeplab ls`` as a program (the reader without SQLAlchemy) prints the table the
    Store's listing renders to, at the same width."""
    env = {**os.environ, "COLUMNS": str(console.width)}
    env.pop("SWEEPLAB_DB", None)
    proc = subprocess.run([sys.executable, "-m", "app", "ls", "--db", tricky_url],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == rendered(store_listing(tricky_url))


@pytest.mark.parametrize("name", ["plain.db", "a b.db", "é.sqlite", "x%20y.db", "a@b#c.db",
                                  "p+q.db"])
def test_the_file_and_shown_url_are_the_stores(tmp_path: Path, name: str) -> None:
    for url in (sqlite_url(tmp_path / name), str(tmp_path / name)):
        target = parse_url(url)
        assert sqlite_file(url) == (target.sqlite_path, target.masked)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro",
                                 "postgresql://me@localhost/x", "sqlite+pysqlite:////x.db"])
def test_other_urls_are_left_to_the_store(url: str) -> None:
    assert sqlite_file(url) is None
    assert read_sqlite_listing(url) is None


def test_an_older_schema_is_upgraded_by_the_store(tmp_path: Path) -> None:
    """A file at an older revision is not read by the light reader: the Store upgrades
    it, and the next listing is read without SQLAlchemy."""
    from alembic import command

    url = sqlite_url(tmp_path / "old.db")
    engine = make_engine(parse_url(url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0006")
            connection.execute(sa.text(
                "INSERT INTO experiments (id, name, definition, state, created_at, updated_at)"
                " VALUES (1, 'old', '{}', 'completed', :t, :t)"), {"t": "2026-01-01 00:00:00"})
    finally:
        engine.dispose()
    assert read_sqlite_listing(url) is None
    listing = experiment_listing(url)
    assert [e.name for e in listing.experiments] == ["old"]
    engine = make_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            assert current_revisions(connection) == (HEAD,)
    finally:
        engine.dispose()
    assert read_sqlite_listing(url) == listing


def ls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "ls", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)


def test_a_newer_schema_is_refused_as_before(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "new.db")
    Store(url).close()
    with sqlite3.connect(tmp_path / "new.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    assert read_sqlite_listing(url) is None
    proc = ls("--db", url)
    assert proc.returncode == 2
    assert "schema revision '9999'" in proc.stderr and str(tmp_path / "new.db") in proc.stderr


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_text("garbage\n")
    assert read_sqlite_listing(str(path)) is None
    proc = ls("--db", str(path))
    assert proc.returncode == 2
    assert proc.stderr == (f"error: the file {path} is not a Sweeplab database "
                           "(file is not a database)\n")


def test_a_foreign_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE things (id INTEGER)")
    assert read_sqlite_listing(str(path)) is None
    proc = ls("--db", str(path))
    assert proc.returncode == 2
    assert f"the file {path} is not a Sweeplab database" in proc.stderr


def test_a_missing_file_or_folder_is_named_and_never_made(tmp_path: Path) -> None:
    """Neither the light reader nor the Store makes a database for a listing
    (tests/test_cli_missing_database.py has the other commands)."""
    for path in (tmp_path / "new.db", tmp_path / "nowhere" / "x.db"):
        assert read_sqlite_listing(str(path)) is None
        proc = ls("--db", str(path))
        assert proc.returncode == 2
        assert f"no database at {path} (from --db)" in proc.stderr
        assert not path.exists() and not (tmp_path / "nowhere").exists()


def test_postgresql_goes_through_the_store(pg_cluster: object, tmp_path: Path) -> None:
    """A PostgreSQL URL is the Store's: the shared tally SQL runs there too and gives
    the engine's rule."""
    url = pg_cluster.create_database()  # type: ignore[attr-defined]
    assert read_sqlite_listing(url) is None
    with Store(url) as store:
        fill(store, tmp_path)
    listing = experiment_listing(url)
    assert listing == store_listing(url)
    with Store(url) as store:
        for experiment in listing.experiments:
            trials = store.list_trials(experiment.id)
            tally = listing.tallies.get(experiment.id)
            assert (tally is None) == (not trials)
            if tally is not None:
                best = best_trial(trials, Goal.MAX)
                assert tally.best_kpi(Goal.MAX) == (None if best is None else best.kpi)


def test_a_write_in_progress_does_not_hold_the_light_reader(tricky_url: str) -> None:
    """Another program writing (a run) does not make ``ls`` wait or take the Store's
    path: it reads the committed state (WAL)."""
    expected = store_listing(tricky_url)
    writer = sqlite3.connect(parse_url(tricky_url).sqlite_path or "", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM trials")
        assert read_sqlite_listing(tricky_url) == expected
    finally:
        writer.execute("ROLLBACK")
        writer.close()
