"""SshConnection against a real sshd: commands, timeouts, every way to log in or fail,
and no secret in any message, log line or repr."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.remote.ssh.connection import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    SshConnection,
    close_channel,
)
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile
from tests.helpers import wait_until
from tests.ssh.sshd import Sshd, free_port, gone, keygen

PASSWORD = "hunter2-Pa55word-not-for-logs"
PASSPHRASE = "correct horse battery staple 77"


def test_connect_and_run(profile: ServerProfile, known_hosts: KnownHosts) -> None:
    conn = SshConnection(profile, Secrets(), known_hosts)
    conn.connect()
    assert conn.alive and repr(conn).endswith(f"127.0.0.1:{profile.port}, open)")
    result = conn.run("printf 'out'; printf 'err' >&2; exit 3", timeout=10)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out", "err")
    big = os.urandom(300_000).hex().encode()  # more than one SSH window of input
    assert conn.run("wc -c", timeout=20, input=big).stdout.strip() == str(len(big))
    assert conn.run("cat", timeout=10).stdout == ""  # no input: end of file at once
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"did not finish within 0\.5 s"):
        conn.run("sleep 5", timeout=0.5)
    assert time.monotonic() - started < 3
    assert conn.run("echo still usable", timeout=10).stdout == "still usable\n"
    conn.close()
    assert not conn.alive
    with pytest.raises(ConnectionLost, match="not connected"):
        conn.run("true", timeout=5)


def test_a_dropped_connection_fails_commands_in_plain_words(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts
) -> None:
    conn = SshConnection(profile, Secrets(), known_hosts)
    conn.connect()
    ssh_server.kill()
    with pytest.raises(ConnectionLost, match="lab1: "):
        conn.run("true", timeout=5)
    assert not conn.alive


def test_closing_a_channel_while_its_connection_breaks_is_quiet(
    profile: ServerProfile, known_hosts: KnownHosts, caplog: pytest.LogCaptureFixture
) -> None:
    """The window of a breaking connection: the socket is shut, paramiko's transport
    thread has not noticed yet, and a channel's close() raises (EOFError, OSError).
    That once killed a trial's thread. The window is a race with that thread, so each
    try breaks a fresh connection until a close has landed in it; it is quiet there."""
    caplog.set_level(logging.DEBUG, logger="app.remote.ssh.connection")
    for _ in range(20):
        conn = SshConnection(profile, Secrets(), known_hosts)
        conn.connect()
        channels = conn.open_channel(5), conn.open_channel(5)
        assert conn._transport is not None
        conn._transport.packetizer.close()
        for channel in channels:
            close_channel(channel)  # raises nothing, in the window or after it
            assert channel.closed
        conn.close()
        if any("closing a channel of a broken connection" in record.getMessage()
               for record in caplog.records):
            break
    else:
        pytest.fail("no close landed in the window in 20 tries")


def test_nothing_listening_is_connect_failed(
    make_profile: Callable[..., ServerProfile], ssh_server: Sshd, known_hosts: KnownHosts
) -> None:
    closed = dataclasses.replace(make_profile(ssh_server), port=free_port())
    with pytest.raises(ConnectFailed, match=r"lab1: cannot connect to 127\.0\.0\.1:\d+ "
                                            r"\(Connection refused\); is the server on"):
        SshConnection(closed, Secrets(), known_hosts, timeout=5).connect()
    unknown = dataclasses.replace(closed, host="no-such-host.invalid")
    with pytest.raises(ConnectFailed, match=r"host name 'no-such-host\.invalid' is not known"):
        SshConnection(unknown, Secrets(), known_hosts, timeout=5).connect()


def test_wrong_key_is_auth_failed_in_plain_words(
    profile: ServerProfile, known_hosts: KnownHosts, tmp_path: Path
) -> None:
    stranger = keygen(tmp_path / "stranger")
    wrong = dataclasses.replace(profile, key_file=str(stranger))
    with pytest.raises(AuthFailed) as refused:
        SshConnection(wrong, Secrets(), known_hosts).connect()
    assert str(refused.value) == (
        f"lab1: the server refused the key {stranger} for user {profile.user!r}; is the "
        "public key in ~/.ssh/authorized_keys of that user on the server?")
    missing = dataclasses.replace(profile, key_file=str(tmp_path / "nope"))
    with pytest.raises(AuthFailed, match=r"the key file .*nope does not exist"):
        SshConnection(missing, Secrets(), known_hosts).connect()
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello")
    junk = dataclasses.replace(profile, key_file=str(not_a_key))
    with pytest.raises(AuthFailed, match="could not be read; is it a private key"):
        SshConnection(junk, Secrets(), known_hosts).connect()


@pytest.fixture
def both_keys_server(tmp_path: Path, client_key: Path) -> Iterator[tuple[Sshd, Path]]:
    """An sshd accepting the test key and a passphrase-protected one."""
    locked = keygen(tmp_path / "locked", passphrase=PASSPHRASE)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(client_key.with_name("id_ed25519.pub").read_text()
                          + locked.with_name("locked.pub").read_text())
    server = Sshd(tmp_path / "sshd-both", authorized).start()
    yield server, locked
    server.stop()


def test_key_passphrases(
    both_keys_server: tuple[Sshd, Path], make_profile: Callable[..., ServerProfile],
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    server, locked = both_keys_server
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    profile = make_profile(server, key_file=str(locked))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthFailed, match="is protected by a passphrase; give it"):
        SshConnection(profile, Secrets(), hosts).connect()
    wrong = Secrets(passphrase=PASSPHRASE + "x")
    with pytest.raises(AuthFailed, match="could not be opened with the passphrase given"
                       ) as refused:
        SshConnection(profile, wrong, hosts).connect()
    assert PASSPHRASE not in str(refused.value) and PASSPHRASE not in repr(refused.value)
    conn = SshConnection(profile, Secrets(passphrase=PASSPHRASE), hosts)
    conn.connect()
    assert conn.run("echo in", timeout=10).stdout == "in\n"
    assert PASSPHRASE not in repr(conn) and PASSPHRASE not in repr(conn.__dict__)
    conn.close()
    assert PASSPHRASE not in caplog.text and caplog.text  # logs were captured, secret-free


def test_password_never_appears_in_messages_logs_or_reprs(
    profile: ServerProfile, known_hosts: KnownHosts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    by_password = dataclasses.replace(profile, auth=AuthKind.PASSWORD, key_file=None)
    secrets = Secrets(password=PASSWORD)
    conn = SshConnection(by_password, secrets, known_hosts)
    with pytest.raises(AuthFailed) as refused:
        conn.connect()  # the test server takes keys only
    assert str(refused.value) == ("lab1: the server does not accept password logins for "
                                  f"{profile.user!r} (it allows: publickey)")
    with pytest.raises(AuthFailed, match="logs in with a password, but none was given"):
        SshConnection(by_password, Secrets(), known_hosts).connect()
    for text in (str(refused.value), repr(refused.value), repr(conn), repr(secrets),
                 repr(conn.__dict__), caplog.text):
        assert PASSWORD not in text
    assert repr(secrets) == "Secrets(password=***, passphrase=None)"


def test_ssh_agent_login(
    profile: ServerProfile, known_hosts: KnownHosts, client_key: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(socket_path.exists, 10, "ssh-agent to make its socket")
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        by_agent = dataclasses.replace(profile, auth=AuthKind.AGENT, key_file=None)
        with pytest.raises(AuthFailed, match="ssh-agent has no keys"):
            SshConnection(by_agent, Secrets(), known_hosts).connect()
        subprocess.run(["ssh-add", "-q", str(client_key)], check=True, capture_output=True,
                       env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)})
        conn = SshConnection(by_agent, Secrets(), known_hosts)
        conn.connect()
        assert conn.run("echo agent", timeout=10).stdout == "agent\n"
        conn.close()
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)
    assert gone(agent.pid)


def test_a_refused_channel_is_the_callers_to_tell_not_paramikos_error_line(
    sshd_factory: Callable[..., Sshd], make_profile: Callable[..., ServerProfile],
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A server's MaxSessions refusal is handled (the executor learns the limit and
    retries); paramiko's ERROR line for it reached the terminal of every run."""
    server = sshd_factory(max_sessions=2)
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    conn = SshConnection(make_profile(server), Secrets(), hosts)
    conn.connect()
    caplog.set_level(logging.DEBUG)
    try:
        held = [conn.open_channel(), conn.open_channel()]
        with pytest.raises(ConnectionLost, match="the server refused a new channel") as lost:
            conn.open_channel()
        assert lost.value.refused
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], \
            [r.getMessage() for r in caplog.records]
        for channel in held:
            channel.close()
    finally:
        conn.close()
