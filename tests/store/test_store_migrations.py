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

TABLES = {"alembic_version", "experiments", "trials", "metrics", "events", "server_profiles"}


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
