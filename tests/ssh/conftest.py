"""Fixtures for the SSH tests: real sshd processes, a client key, profiles, known hosts.

Every server is a real ``/usr/sbin/sshd`` on 127.0.0.1 (see :mod:`tests.ssh.sshd`);
logins are as the current user with a key made for the test session. Sessions get a
PATH whose first folder holds a fake ``nvidia-smi`` (via ``SetEnv``), so GPU tests
need no GPU.
"""

from __future__ import annotations

import getpass
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.processes import signal_group
from app.engine.records import Snapshot
from app.remote.launcher import read_pid_file
from app.remote.snapshot import take_snapshot
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, ServerProfile
from tests.ssh.sshd import Sshd, keygen, require_sshd

TRIAL_SCRIPT = Path(__file__).parents[1] / "remote" / "trials" / "trial.py"
TWO_GPUS = ("0, NVIDIA GeForce RTX 3090, 24576, 10, 0\n"
            "1, NVIDIA GeForce RTX 3090, 24576, 20000, 97\n")
FAKE_NVIDIA_SMI = """#!/bin/sh
# A fake nvidia-smi: GPU list, uuids, and compute apps as the real one prints them.
case "$*" in
  *index,uuid*) printf '0, GPU-aaaa\\n1, GPU-bbbb\\n' ;;
  *compute-apps*) [ -f "$(dirname "$0")/apps" ] && cat "$(dirname "$0")/apps" ;;
  *) cat "$(dirname "$0")/gpus.csv" ;;
esac
"""


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private key (no passphrase) the test servers accept; ``.pub`` beside it."""
    require_sshd()
    return keygen(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture
def gpu_bin(tmp_path: Path) -> Path:
    """A folder with a fake ``nvidia-smi`` printing two GPUs (edit ``gpus.csv``/``apps``)."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    tool = folder / "nvidia-smi"
    tool.write_text(FAKE_NVIDIA_SMI)
    tool.chmod(0o755)
    (folder / "gpus.csv").write_text(TWO_GPUS)
    return folder


@pytest.fixture
def sshd_factory(tmp_path: Path, client_key: Path) -> Iterator[Callable[..., Sshd]]:
    """Make and start sshd servers; all are stopped (by pid) at the end of the test."""
    made: list[Sshd] = []

    def factory(*, gpus: Path | None = None, max_sessions: int = 10) -> Sshd:
        path = "/usr/local/bin:/usr/bin:/bin"
        env = {"PATH": f"{gpus}:{path}"} if gpus is not None else {"PATH": path}
        server = Sshd(tmp_path / f"sshd{len(made)}", client_key.with_name("id_ed25519.pub"),
                      env=env, max_sessions=max_sessions)
        made.append(server)
        return server.start()

    yield factory
    for server in made:
        if server.running:
            server.stop()


@pytest.fixture
def ssh_server(sshd_factory: Callable[..., Sshd]) -> Sshd:
    """One running sshd."""
    return sshd_factory()


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """The server-side work folder; trial groups left in it are killed at the end."""
    folder = tmp_path / "remote work"  # a space, to prove the quoting
    yield folder
    for pid_file in folder.glob("*/*/pid"):
        record = read_pid_file(pid_file.parent)
        if record is not None:
            signal_group(record.pid, signal.SIGKILL)


@pytest.fixture
def make_profile(client_key: Path, workdir: Path) -> Callable[..., ServerProfile]:
    """A profile for a test server (key auth as the current user)."""

    def factory(server: Sshd, name: str = "lab1", **fields: object) -> ServerProfile:
        options: dict[str, object] = {
            "host": "127.0.0.1", "port": server.port, "user": getpass.getuser(),
            "auth": AuthKind.KEY, "key_file": str(client_key), "workdir": str(workdir),
            "python": sys.executable, "max_parallel": 4, **fields,
        }
        return ServerProfile(name=name, **options)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def profile(ssh_server: Sshd, make_profile: Callable[..., ServerProfile]) -> ServerProfile:
    """The profile of :func:`ssh_server`."""
    return make_profile(ssh_server)


@pytest.fixture
def known_hosts(tmp_path: Path, ssh_server: Sshd) -> KnownHosts:
    """Our own known_hosts (no system file) with the test server's key accepted."""
    hosts = KnownHosts(tmp_path / "sweeplab" / "known_hosts", system_file=None)
    hosts.accept("127.0.0.1", ssh_server.port, ssh_server.host_key)
    return hosts


@pytest.fixture(scope="session")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A code snapshot holding the shared test trial script (``trial.py MODE``)."""
    code = tmp_path_factory.mktemp("code")
    shutil.copy(TRIAL_SCRIPT, code / "trial.py")
    return take_snapshot(code, tmp_path_factory.mktemp("snapshots"))
