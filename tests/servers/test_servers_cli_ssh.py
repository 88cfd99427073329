"""``sweeplab servers add`` + ``servers test`` against real sshd processes, as a user runs them.

The servers and the client key are the SSH tests' fixtures (:mod:`tests.ssh.conftest`);
every command is a real ``python -m app`` subprocess with its own data directory and
HOME, without a keyring and without a terminal (getpass reads stdin).
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.remote.ssh.hostkeys import fingerprint
from tests.ssh.conftest import client_key, ssh_server, sshd_factory, workdir
from tests.ssh.sshd import Sshd, free_port, keygen

__all__ = ["client_key", "ssh_server", "sshd_factory", "workdir"]

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "pass-phrase-Qw3"

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sweeplab(tmp_path: Path) -> Cli:
    """Run ``sweeplab ARGS`` in a new session with its own data dir and HOME, no keyring."""
    home = tmp_path / "user-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "SWEEPLAB_"))}
    env.update(HOME=str(home), SWEEPLAB_HOME=str(tmp_path / "data"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               USER=getpass.getuser(), LOGNAME=getpass.getuser())

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], input=stdin, text=True,
                              capture_output=True, cwd=ROOT, env=env, timeout=120,
                              start_new_session=True)

    return run


def add_server(sweeplab: Cli, name: str, port: int, key: Path, workdir: Path,
               *extra: str, stdin: str = "") -> None:
    result = sweeplab("servers", "add", name, "--host", "127.0.0.1", "--port", str(port),
                      "--user", getpass.getuser(), "--key", str(key), "--workdir", str(workdir),
                      "--python", sys.executable, "--gpus", "none", *extra, stdin=stdin)
    assert result.returncode == 0, result.stderr


def test_unknown_host_key_then_accepted_then_known(
    sweeplab: Cli, ssh_server: Sshd, client_key: Path, workdir: Path, tmp_path: Path
) -> None:
    add_server(sweeplab, "lab1", ssh_server.port, client_key, workdir)
    shown = fingerprint(ssh_server.host_key)

    first = sweeplab("servers", "test", "lab1")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "FAIL  host key" in first.stdout
    assert f"Its fingerprint is {shown}" in first.stdout
    command = f"sweeplab servers test lab1 --accept-host-key {shown}"
    assert command in first.stdout
    assert not (tmp_path / "data" / "known_hosts").exists()

    accepted = sweeplab(*command.split()[1:])
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Server lab1: trials can run there." in accepted.stdout
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in accepted.stdout  # python
    assert workdir.is_dir()
    assert "127.0.0.1" in (tmp_path / "data" / "known_hosts").read_text()

    again = sweeplab("servers", "test", "lab1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ok    host key: known and unchanged" in again.stdout


def test_wrong_fingerprint_is_not_accepted(sweeplab: Cli, ssh_server: Sshd, client_key: Path,
                                           workdir: Path, tmp_path: Path) -> None:
    add_server(sweeplab, "lab1", ssh_server.port, client_key, workdir)
    result = sweeplab("servers", "test", "lab1", "--accept-host-key",
                      "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert result.returncode == 1
    assert "FAIL  host key" in result.stdout
    assert fingerprint(ssh_server.host_key) in result.stdout
    assert not (tmp_path / "data" / "known_hosts").exists()


def test_changed_host_key_is_refused(sweeplab: Cli, ssh_server: Sshd, client_key: Path,
                                     workdir: Path) -> None:
    add_server(sweeplab, "lab1", ssh_server.port, client_key, workdir)
    accept = sweeplab("servers", "test", "lab1", "--accept-host-key",
                      fingerprint(ssh_server.host_key))
    assert accept.returncode == 0, accept.stdout + accept.stderr
    ssh_server.stop()
    ssh_server.new_host_key()
    ssh_server.start()
    new = fingerprint(ssh_server.host_key)
    result = sweeplab("servers", "test", "lab1", "--accept-host-key", new)
    assert result.returncode == 1
    assert "has CHANGED" in result.stdout
    assert "--accept-host-key" not in result.stdout  # a changed key is never offered


def test_unreachable_port_fails_in_plain_words(sweeplab: Cli, client_key: Path,
                                               workdir: Path) -> None:
    add_server(sweeplab, "gone", free_port(), client_key, workdir)
    result = sweeplab("servers", "test", "gone", "--timeout", "5")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == ("Server gone: trials cannot run there until the problems marked "
                        "FAIL are fixed.")
    assert lines[1].startswith("  FAIL  reachable: ")
    assert "Traceback" not in result.stderr


@pytest.fixture
def passphrase_server(tmp_path: Path) -> Iterator[tuple[Sshd, Path]]:
    """An sshd that accepts only a key protected by :data:`PASSPHRASE`."""
    key = keygen(tmp_path / "locked" / "id_ed25519", passphrase=PASSPHRASE)
    server = Sshd(tmp_path / "sshd-locked", key.with_name("id_ed25519.pub")).start()
    yield server, key
    if server.running:
        server.stop()


def test_passphrase_is_asked_and_used_for_this_test_only(
    sweeplab: Cli, passphrase_server: tuple[Sshd, Path], workdir: Path, tmp_path: Path
) -> None:
    server, key = passphrase_server
    add_server(sweeplab, "locked", server.port, key, workdir, "--passphrase-prompt",
               stdin=PASSPHRASE + "\n")
    result = sweeplab("servers", "test", "locked", "--accept-host-key",
                      fingerprint(server.host_key), stdin=PASSPHRASE + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "what you type is used for this test only" in result.stderr
    assert "Passphrase for" in result.stderr
    assert "ok    authentication" in result.stdout
    texts = result.stdout + result.stderr
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert PASSPHRASE not in texts
    assert all(PASSPHRASE.encode() not in p.read_bytes() for p in files)


def test_wrong_passphrase_fails_authentication(sweeplab: Cli,
                                               passphrase_server: tuple[Sshd, Path],
                                               workdir: Path) -> None:
    server, key = passphrase_server
    add_server(sweeplab, "locked", server.port, key, workdir)
    result = sweeplab("servers", "test", "locked", "--accept-host-key",
                      fingerprint(server.host_key), stdin="not-it\n")
    assert result.returncode == 1
    assert "FAIL  authentication" in result.stdout
    assert "not-it" not in result.stdout
