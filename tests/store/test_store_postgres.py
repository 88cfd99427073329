"""PostgreSQL specifics: masked passwords, unreachable servers, the cluster helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.ports import StoreError
from app.store.connect import Backend
from app.store.store import Store
from devtools.pgcluster import PgCluster, PgClusterError, find_bin_dir, free_port


def test_password_is_masked(pg_cluster: PgCluster) -> None:
    pg_cluster.create_database("masked")
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{pg_cluster.port}/masked"
    with Store(url) as store:  # trust authentication ignores the password
        assert store.url == f"postgresql+psycopg://postgres:***@127.0.0.1:{pg_cluster.port}/masked"
        assert "hunter2" not in repr(store)


def test_plain_postgresql_scheme_uses_psycopg(pg_cluster: PgCluster) -> None:
    pg_cluster.create_database("plain")
    with Store(f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/plain") as store:
        assert store.url.startswith("postgresql+psycopg://")
        assert store.backend is Backend.POSTGRESQL


def test_unreachable_server() -> None:
    url = f"postgresql+psycopg://me:hunter2@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreError, match="cannot reach the database at") as caught:
        Store(url)
    assert "hunter2" not in str(caught.value)
    assert "me:***@" in str(caught.value)


def test_missing_database(pg_cluster: PgCluster) -> None:
    with pytest.raises(StoreError, match='database "absent" does not exist'):
        Store(pg_cluster.url("absent"))


def test_cluster_without_binaries_names_the_debian_package(tmp_path: Path) -> None:
    (tmp_path / "15" / "bin").mkdir(parents=True)
    with pytest.raises(PgClusterError, match="install the Debian package `postgresql`"):
        find_bin_dir(tmp_path)


def test_cluster_picks_highest_version(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").write_text("")
    assert find_bin_dir(tmp_path) == tmp_path / "16" / "bin"
