"""Saved servers and saved clusters share one namespace (an experiment's ``hosts`` names
either): adding one refuses a name the other kind holds, in both directions, on SQLite and
PostgreSQL, in the store and in the CLI; a rename cannot get round it; on PostgreSQL an
add that races another program's waits for it and is then refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.engine.ports import NotFound, StoreError
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles
from app.store.models import ClusterProfileRow
from app.store.named import _PG_LOCK_KEY, HOSTS_CLASH
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store
from devtools.pgcluster import PgCluster
from tests.helpers import CliRun, fresh_cli
from tests.servers.conftest import MemoryKeyring, make_profile


def clash(kind: str, name: str) -> str:
    """The refusal for a name that a saved ``kind`` ("server" or "cluster") holds."""
    return HOSTS_CLASH.format(kind=kind, name=name)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on an empty database, once per backend."""
    with Store(store_url, busy_timeout=5.0) as opened:
        yield opened


def test_a_server_cannot_take_a_clusters_name(store: Store) -> None:
    ClusterProfiles(store).add(ClusterProfile("hpc", partition="gpu"))
    with pytest.raises(StoreError) as refused:
        ServerProfiles(store).add(make_profile(name="hpc"))
    assert str(refused.value) == clash("cluster", "hpc")
    assert ServerProfiles(store).list() == []
    assert ClusterProfiles(store).list() == [ClusterProfile("hpc", partition="gpu")]


def test_a_cluster_cannot_take_a_servers_name(store: Store) -> None:
    ServerProfiles(store).add(make_profile(name="box"))
    with pytest.raises(StoreError) as refused:
        ClusterProfiles(store).add(ClusterProfile("box"))
    assert str(refused.value) == clash("server", "box")
    assert ClusterProfiles(store).list() == []
    assert ServerProfiles(store).get("box") == make_profile(name="box")


def test_a_name_of_the_same_kind_keeps_its_short_message(store: Store) -> None:
    ServerProfiles(store).add(make_profile(name="box"))
    ClusterProfiles(store).add(ClusterProfile("hpc"))
    with pytest.raises(StoreError) as server:
        ServerProfiles(store).add(make_profile(name="box", host="elsewhere"))
    with pytest.raises(StoreError) as cluster:
        ClusterProfiles(store).add(ClusterProfile("hpc", partition="cpu"))
    assert str(server.value) == "a server profile named 'box' already exists"
    assert str(cluster.value) == "a cluster named 'hpc' already exists"


def test_a_name_is_free_again_once_the_other_kind_lets_it_go(store: Store) -> None:
    ClusterProfiles(store).add(ClusterProfile("shared"))
    ClusterProfiles(store).remove("shared")
    ServerProfiles(store).add(make_profile(name="shared"))
    ServerProfiles(store).remove("shared")
    assert ClusterProfiles(store).add(ClusterProfile("shared")) == ClusterProfile("shared")
    assert ServerProfiles(store).names() == [] and ClusterProfiles(store).names() == ["shared"]


def test_renaming_a_server_to_a_clusters_name_is_refused(store: Store) -> None:
    """The store has no rename: ``update`` keys on the name, and a rename is remove+add
    (``sweeplab servers rm`` then ``add``), so both paths are tried."""
    servers, clusters = ServerProfiles(store), ClusterProfiles(store)
    servers.add(make_profile(name="box"))
    clusters.add(ClusterProfile("hpc"))
    with pytest.raises(NotFound, match="no server profile named 'hpc'"):
        servers.update(make_profile(name="hpc"))
    servers.remove("box")
    with pytest.raises(StoreError) as refused:
        servers.add(make_profile(name="hpc"))
    assert str(refused.value) == clash("cluster", "hpc")
    assert servers.add(make_profile(name="box2")).name == "box2"
    assert servers.names() == ["box2"] and clusters.list() == [ClusterProfile("hpc")]


def test_renaming_a_cluster_to_a_servers_name_is_refused(store: Store) -> None:
    servers, clusters = ServerProfiles(store), ClusterProfiles(store)
    servers.add(make_profile(name="box"))
    clusters.add(ClusterProfile("hpc"))
    with pytest.raises(NotFound, match="no cluster named 'box'"):
        clusters.update(ClusterProfile("box"))
    clusters.remove("hpc")
    with pytest.raises(StoreError) as refused:
        clusters.add(ClusterProfile("box"))
    assert str(refused.value) == clash("server", "box")
    assert clusters.add(ClusterProfile("hpc2")).name == "hpc2"
    assert clusters.names() == ["hpc2"] and servers.list() == [make_profile(name="box")]


Run = CliRun


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:
    """``sweeplab ARGS`` in this process with a fresh data directory: (code, out, err)."""
    return fresh_cli(tmp_path / "home", monkeypatch, capsys)


def test_the_cli_refuses_both_directions_with_the_same_message(
        run: Run, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    assert run("clusters", "add", "hpc")[0] == 0
    assert run("servers", "add", "box", "--host", "h", "--user", "u")[0] == 0
    code, out, err = run("servers", "add", "hpc", "--host", "h", "--user", "u")
    assert (code, out, err) == (2, "", f"error: {clash('cluster', 'hpc')}\n")
    code, out, err = run("clusters", "add", "box")
    assert (code, out, err) == (2, "", f"error: {clash('server', 'box')}\n")
    with Store(sqlite_url(tmp_path / "home" / "sweeplab.db")) as store:
        assert ServerProfiles(store).names() == ["box"]
        assert ClusterProfiles(store).names() == ["hpc"]
    assert memory_keyring.entries == {}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.02)


def test_on_postgresql_an_add_racing_another_programs_waits_and_is_refused(
        pg_cluster: PgCluster) -> None:
    """Another program holds the host-names lock and has inserted cluster 'hpc' but not
    committed: a server add must wait for it, then see the cluster and refuse (without
    the lock it would see no cluster yet and save a clashing server)."""
    url = pg_cluster.create_database()
    engine = sa.create_engine(url)
    refused: list[BaseException] = []
    try:
        with Store(url, busy_timeout=5.0) as store, engine.connect() as other:
            transaction = other.begin()
            other.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            other.execute(sa.insert(ClusterProfileRow).values(name="hpc", workdir="~/w"))

            def add_server() -> None:
                try:
                    ServerProfiles(store).add(make_profile(name="hpc"))
                except StoreError as exc:
                    refused.append(exc)

            adder = threading.Thread(target=add_server, daemon=True)
            adder.start()

            def waiting_on_the_lock() -> bool:
                with engine.connect() as probe:
                    return bool(probe.scalar(sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                        "granted AND objid = :key AND database = (SELECT oid FROM "
                        "pg_database WHERE datname = current_database())"), {"key": _PG_LOCK_KEY}))

            _wait_for(waiting_on_the_lock, "the server add waits on the host-names lock")
            assert adder.is_alive()
            transaction.commit()
            adder.join(timeout=10.0)
            assert not adder.is_alive()
            assert [str(exc) for exc in refused] == [clash("cluster", "hpc")]
            assert ServerProfiles(store).list() == []
            assert ClusterProfiles(store).names() == ["hpc"]
    finally:
        engine.dispose()


def test_a_cluster_name_is_refused_before_any_prompt_and_skipped_by_import(
        run: Run, tmp_path: Path, memory_keyring: MemoryKeyring,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("clusters", "add", "hpc")[0] == 0
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or "pw")
    code, _, err = run("servers", "add", "hpc", "--host", "h", "--user", "u",
                       "--password-prompt")
    assert (code, err) == (2, f"error: {clash('cluster', 'hpc')}\n")
    assert prompts == [], "refused before asking for a password"
    config = tmp_path / "ssh_config"
    config.write_text("Host hpc\n  HostName 10.0.0.9\n  User me\n"
                      "Host web\n  HostName 10.0.0.5\n  User me\n")
    code, out, err = run("servers", "import", "--ssh-config", str(config))
    assert code == 0, err
    assert "skipped hpc: a cluster with this name is saved already" in err
    assert "1 server(s) imported" in out
    with Store(sqlite_url(tmp_path / "home" / "sweeplab.db")) as store:
        assert ServerProfiles(store).names() == ["web"]
