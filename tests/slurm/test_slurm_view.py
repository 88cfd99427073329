"""The Servers window lists Slurm clusters with their queues, read from the real test
Slurm off the GUI thread; a cluster whose login server is gone says so in its row."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backends import fail
from pytestqt.qtbot import QtBot

from app.application.clusters import Clusters
from app.application.servers import SecretKeeper, Servers
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.secrets import SecretStore
from app.store.clusters import ClusterProfiles
from app.store.store import Store
from app.views.servers import ServersDialog
from app.views.servers.clusters import ClusterPanel
from devtools.localcluster import LocalSlurm

WAIT_MS = 30_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Three saved clusters: ``hpc`` (up), ``queue-only`` (partition down), ``far`` (its
    login server is not saved)."""
    opened = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", busy_timeout=5.0)
    for profile in (ClusterProfile("hpc", python=sys.executable),
                    ClusterProfile("queue-only", partition="down"),
                    ClusterProfile("far", login="gone-box")):
        ClusterProfiles(opened).add(profile)
    yield opened
    opened.close()


def _servers(store: Store, tmp_path: Path) -> Servers:
    """The saved servers, without a keyring, trusting no host key yet."""
    return Servers(store, SecretKeeper(SecretStore(fail.Keyring())),
                   known_hosts=KnownHosts(tmp_path / "known_hosts", system_file=None))


def test_clusters_show_their_queue_counts(qtbot: QtBot, store: Store, tmp_path: Path,
                                          slurm: LocalSlurm) -> None:
    held = []
    for name in ("sweeplab-1-1", "sweeplab-1-2", "someone-else"):
        done = slurm.command("sbatch", "--parsable", "--partition=down", f"--job-name={name}",
                             f"--chdir={tmp_path}", "--output=/dev/null", "--wrap=true")
        held.append(done.stdout.strip())
    try:
        servers = _servers(store, tmp_path)
        dialog = ServersDialog(servers, refresh_s=0.5, clusters=Clusters(store, servers))
        qtbot.addWidget(dialog)
        dialog.show()
        panel = dialog.clusters
        assert isinstance(panel, ClusterPanel)

        def shown(name: str, column: str) -> str:
            return panel.row_texts(name)[column]

        qtbot.waitUntil(lambda: shown("queue-only", "Status") == "online", timeout=WAIT_MS)
        assert panel.row_texts("queue-only") == {
            "Cluster": "queue-only", "Login": "this machine", "Partition": "down",
            "Status": "online", "Queue": "3 pending, 0 running",
            "Sweeplab jobs": "2 pending, 0 running"}
        qtbot.waitUntil(lambda: shown("hpc", "Status") == "online", timeout=WAIT_MS)
        pending = int(shown("hpc", "Queue").split()[0])  # every partition: 3 and others'
        assert pending >= 3 and shown("hpc", "Sweeplab jobs").endswith(" running")
        qtbot.waitUntil(lambda: shown("far", "Status") != "checking…", timeout=WAIT_MS)
        assert shown("far", "Status") == "offline: its login server 'gone-box' is not saved"
        assert shown("far", "Queue") == "—"
        closer = panel.close_queues()
        closer.join(30)
        assert not closer.is_alive()
        dialog.done(0)
    finally:
        subprocess.run(["scancel", *held], env=slurm.env, check=False, timeout=30)


def test_without_clusters_the_window_shows_no_cluster_panel(qtbot: QtBot, store: Store,
                                                            tmp_path: Path) -> None:
    dialog = ServersDialog(_servers(store, tmp_path))
    qtbot.addWidget(dialog)
    assert dialog.clusters is None
    dialog.done(0)


def test_a_new_server_may_not_take_a_clusters_name(qtbot: QtBot, store: Store,
                                                   tmp_path: Path, slurm: LocalSlurm) -> None:
    servers = _servers(store, tmp_path)
    dialog = ServersDialog(servers, refresh_s=0.5, clusters=Clusters(store, servers))
    qtbot.addWidget(dialog)
    form = dialog.add_server()
    form.host.setText("10.0.0.9")
    form.name.setText("hpc")  # shown as typed, not only when saving
    assert form.problems()["name"] == ("a Slurm cluster is named 'hpc'; a server needs a "
                                       "name of its own")
    assert not form.errors["name"].isHidden()
    form.name.setText("hpc-gpu")
    assert "name" not in form.problems()
    form.reject()
    assert dialog.clusters is not None
    closer = dialog.clusters.close_queues()
    closer.join(30)
    dialog.done(0)
