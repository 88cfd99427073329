"""Migrations: from empty to head on both backends, and models == migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from setuptools import find_packages

from app.engine.ports import StoreError
from app.store.connect import make_engine, parse_url
from app.store.migrate import MIGRATIONS_DIR, current_revisions, head_revision, schema_differences
from app.store.store import Store

TABLES = {"alembic_version", "experiments", "trials", "metrics", "events", "server_profiles",
          "cluster_profiles", "segments"}


def test_migrations_create_schema_matching_models(empty_url: str) -> None:
    engine = make_engine(parse_url(empty_url))
    try:
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == []
        Store(empty_url).close()
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert set(inspector.get_table_names()) == TABLES
            assert current_revisions(connection) == (head_revision(),)
            indexes = {ix["name"] for ix in inspector.get_indexes("metrics")}
            assert "ix_metrics_trial_id_name_step" in indexes
            assert schema_differences(connection) == []
    finally:
        engine.dispose()


def test_unknown_revision_means_newer_sweeplab(empty_url: str) -> None:
    Store(empty_url).close()
    engine = make_engine(parse_url(empty_url))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"schema revision '9999'.*written by a newer Sweeplab"):
        Store(empty_url)


def test_database_with_other_tables_is_refused(empty_url: str) -> None:
    engine = make_engine(parse_url(empty_url))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE payroll (id INTEGER)"))
        with pytest.raises(StoreError, match=r"not a Sweeplab database \(it holds other tables"):
            Store(empty_url)
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == ["payroll"]
    finally:
        engine.dispose()


def test_migrations_ship_as_package_data() -> None:
    root = Path(__file__).resolve().parents[2]
    packages = find_packages(where=str(root), include=["app*"])
    assert {"app.store.migrations", "app.store.migrations.versions"} <= set(packages)
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_upgrade_from_0001_keeps_every_row(empty_url: str) -> None:
    """A database written by the first schema gains ``trials.rerun_of`` and loses nothing."""
    from alembic import command

    from app.store.migrate import alembic_config

    engine = make_engine(parse_url(empty_url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.execute(sa.text(
                "INSERT INTO experiments (id, name, definition, state, created_at, updated_at)"
                " VALUES (1, 'old', '{}', 'completed', :t, :t)"), {"t": "2026-01-01 00:00:00"})
            connection.execute(sa.text(
                "INSERT INTO trials (id, experiment_id, number, state, params, created_at, gpus,"
                " log_offset, kpi) VALUES (7, 1, 1, 'completed', '{\"x\": 0.5}', :t, '[]', 42,"
                " 0.25)"), {"t": "2026-01-01 00:00:00"})
            connection.execute(sa.text(
                "INSERT INTO metrics (trial_id, name, step, value, time)"
                " VALUES (7, 'loss', 1, 0.25, 1.5)"))
    finally:
        engine.dispose()
    with Store(empty_url) as store:
        trial = store.get_trial(7)
        assert (trial.params, trial.kpi, trial.log_offset, trial.rerun_of) == (
            {"x": 0.5}, 0.25, 42, None)
        assert [(p.name, p.value) for p in store.get_metrics(7)] == [("loss", 0.25)]
        assert store.get_experiment("old").state.value == "completed"


def test_the_known_head_is_the_newest_migration() -> None:
    """Opening a database compares its revision with ``HEAD`` without loading alembic:
    a new migration must move ``HEAD`` too."""
    from app.store.migrate import HEAD

    assert head_revision() == HEAD
