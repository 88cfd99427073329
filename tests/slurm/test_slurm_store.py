"""ClusterProfiles on a real SQLite file and a real PostgreSQL; migration 0003 on a
database written by the previous schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.engine.ports import NotFound, StoreError
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles, InvalidProfile
from app.store.connect import make_engine, parse_url
from app.store.migrate import alembic_config
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.store.conftest import store_url

__all__ = ["store_url"]

FULL = ClusterProfile("hpc", login="login1", workdir="/scratch/me/sweeplab", partition="gpu",
                      account="lab", qos="short", cpus_per_trial=8, memory="32G",
                      gpus_per_trial=2, max_parallel=50, setup="module load cuda",
                      python="~/venv/bin/python", sbatch_args=("--constraint=a100", "-N1"))


@pytest.fixture
def clusters(store_url: str) -> Iterator[ClusterProfiles]:
    """ClusterProfiles over an empty database, once per backend."""
    with Store(store_url, busy_timeout=5.0) as store:
        yield ClusterProfiles(store)


@pytest.mark.parametrize("profile", [FULL, ClusterProfile("minimal")], ids=["full", "defaults"])
def test_round_trip_keeps_every_field(clusters: ClusterProfiles, profile: ClusterProfile) -> None:
    assert clusters.add(profile) == profile
    assert clusters.get(profile.name) == profile
    assert clusters.list() == [profile] and clusters.names() == [profile.name]


def test_update_remove_and_errors_name_what_is_wrong(clusters: ClusterProfiles) -> None:
    clusters.add(FULL)
    changed = ClusterProfile("hpc", partition="cpu", max_parallel=3)
    assert clusters.update(changed) == changed and clusters.get("hpc") == changed
    with pytest.raises(StoreError, match="a cluster named 'hpc' already exists"):
        clusters.add(ClusterProfile("hpc"))
    with pytest.raises(InvalidProfile) as bad:
        clusters.add(ClusterProfile("x y", max_parallel=0))
    assert bad.value.problems == [
        "cluster 'x y': name must be 1-64 letters, digits, '_', '.' or '-', starting with a "
        "letter or digit", "cluster 'x y': max parallel must be >= 1, got 0"]
    with pytest.raises(InvalidProfile, match="cpus per trial must be an integer, got '4'"):
        clusters.add(ClusterProfile("typed", cpus_per_trial="4"))  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="no cluster named 'nope'"):
        clusters.update(ClusterProfile("nope"))
    clusters.remove("hpc")
    with pytest.raises(NotFound, match="no cluster named 'hpc'"):
        clusters.remove("hpc")
    assert clusters.list() == []


def test_upgrade_from_0002_adds_the_table_and_keeps_servers(tmp_path: Path) -> None:
    from alembic import command

    url = sqlite_url(tmp_path / "old.db")
    engine = make_engine(parse_url(url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
            connection.execute(sa.text(
                "INSERT INTO server_profiles (name, host, port, user, auth_kind, workdir, "
                "python, max_parallel, trials_per_gpu, allow_busy_gpus) VALUES ('old', 'h', "
                "22, 'u', 'agent', '~/w', 'python3', 1, 1, 0)"))
            assert "cluster_profiles" not in sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()
    with Store(url) as store:
        assert [p.name for p in ServerProfiles(store).list()] == ["old"]
        assert ClusterProfiles(store).add(FULL) == FULL
