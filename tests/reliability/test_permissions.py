"""What Sweeplab creates is for the user only: the data folder and the database's
folder 0700, the database file (and its -wal/-shm) 0600, trial directories 0700 on
this machine and on SSH servers (real sshd)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.application.wiring import data_dir, open_store
from app.engine.records import ProcessEventKind, Snapshot
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from app.remote.ssh.executor import SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.store.store import Store
from tests.reliability.bad_support import sweeplab
from tests.remote.remote_support import PYTHON, Events, spec
from tests.ssh.conftest import (
    client_key,
    known_hosts,
    make_profile,
    profile,
    snap,
    ssh_server,
    sshd_factory,
    workdir,
)

__all__ = ["client_key", "known_hosts", "make_profile", "profile", "snap", "ssh_server",
           "sshd_factory", "workdir"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask 022: whatever is private is so by Sweeplab's doing."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("loose_umask")
def test_data_dir_is_created_private_and_an_existing_one_is_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "new" / "sweeplab"
    monkeypatch.setenv("SWEEPLAB_HOME", str(home))
    assert data_dir() == home
    assert mode(home) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    monkeypatch.setenv("SWEEPLAB_HOME", str(shared))
    assert data_dir() == shared
    assert mode(shared) == 0o755, "a folder the user made keeps the mode the user chose"


@pytest.mark.usefixtures("loose_umask")
def test_default_database_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SWEEPLAB_HOME", str(home))
    monkeypatch.delenv("SWEEPLAB_DB", raising=False)
    with open_store() as store:
        store.create_experiment("e", {"version": 1})  # a write: the -wal file exists now
        files = sorted(home.glob("sweeplab.db*"))
        assert [f.name for f in files][:1] == ["sweeplab.db"]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(home) == 0o700


@pytest.mark.usefixtures("loose_umask")
def test_store_open_creates_a_private_folder_and_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "deep" / "folder" / "lab.db"
    monkeypatch.setenv("SWEEPLAB_DB", str(db))
    Store.open().close()
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    Store(f"sqlite:///{db}").close()
    db.chmod(0o640)  # the user shares it with a group on purpose
    Store(f"sqlite:///{db}").close()
    assert mode(db) == 0o640


def test_the_real_command_makes_the_data_dir_and_database_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = sweeplab("servers", "add", "box", "--host", "h", "--user", "u", home=home)
    assert result.code == 0, result.text
    assert mode(home) == 0o700
    assert mode(home / "sweeplab.db") == 0o600


@pytest.fixture
def local_snapshot(tmp_path: Path) -> Snapshot:
    code = tmp_path / "code"
    code.mkdir()
    (code / "noop.py").write_text("print('#sweeplab {\"metric\": \"loss\", \"value\": 1}')\n")
    return take_snapshot(code, tmp_path / "snapshots")


@pytest.mark.usefixtures("loose_umask")
def test_local_trial_directory_is_private(tmp_path: Path, local_snapshot: Snapshot) -> None:
    executor = LocalExecutor(tmp_path / "trials", gpus=[], cpu_slots=1, grace=1.0)
    try:
        executor.submit(spec(local_snapshot, f"{PYTHON} noop.py", 1, experiment_id=3))
        events = Events(executor)
        events.wait_end(1)
        where = executor.trial_dir(3, 1)
        assert events.last(1, ProcessEventKind.EXITED).exit_code == 0
        assert mode(where) == 0o700
    finally:
        executor.close()


@pytest.fixture
def ssh_executor(profile: ServerProfile,
                 known_hosts: KnownHosts) -> Iterator[Callable[[], SshExecutor]]:
    made: list[SshExecutor] = []

    def make() -> SshExecutor:
        executor = SshExecutor(profile, Secrets(), known_hosts, grace=1.0)
        made.append(executor)
        executor.connect()
        return executor

    yield make
    for executor in made:
        executor.close()


def test_ssh_trial_directory_is_private(ssh_executor: Callable[[], SshExecutor],
                                        profile: ServerProfile, snap: Snapshot) -> None:
    executor = ssh_executor()
    executor.submit(spec(snap, "{python} trial.py exit 0", 4, experiment_id=9))
    events = Events(executor)
    events.wait_end(4, timeout=60)
    where = Path(profile.workdir) / "9" / "4"
    assert events.last(4, ProcessEventKind.EXITED).trial_dir == str(where)
    assert mode(where) == 0o700
    assert mode(where / "code") == 0o700
