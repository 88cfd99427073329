"""Host keys against a real sshd: unknown keys refused with a fingerprint, accepted by
it, changed keys refused; the known_hosts file format, modes and lookups."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest

from app.remote.ssh.connection import SshConnection
from app.remote.ssh.errors import HostKeyChanged, UnknownHostKey
from app.remote.ssh.hostkeys import KnownHosts, fetch_host_key, fingerprint, host_key_name
from app.remote.ssh.profile import Secrets, ServerProfile
from tests.ssh.sshd import Sshd


def ssh_keygen_fingerprint(public_key_file: Path) -> str:
    """OpenSSH's own rendering of a key's SHA256 fingerprint."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def test_fingerprint_is_the_one_ssh_keygen_prints(ssh_server: Sshd) -> None:
    public = ssh_server.host_key_file.with_name(ssh_server.host_key_file.name + ".pub")
    assert fingerprint(ssh_server.host_key) == ssh_keygen_fingerprint(public)
    offered = fetch_host_key("127.0.0.1", ssh_server.port, timeout=5)
    assert fingerprint(offered) == ssh_keygen_fingerprint(public)


def test_unknown_key_is_refused_with_its_fingerprint_then_accepted_by_it(
    ssh_server: Sshd, profile: ServerProfile, tmp_path: Path
) -> None:
    hosts = KnownHosts(tmp_path / "cfg" / "known_hosts", system_file=None)
    with pytest.raises(UnknownHostKey) as refused:
        SshConnection(profile, Secrets(), hosts).connect()
    error = refused.value
    expected = fingerprint(ssh_server.host_key)
    assert error.fingerprint == expected and error.port == ssh_server.port
    assert error.host == "127.0.0.1" and error.key.asbytes() == ssh_server.host_key.asbytes()
    assert expected in str(error) and "not known yet" in str(error)
    assert not hosts.path.exists()  # nothing stored without consent

    with pytest.raises(UnknownHostKey, match="is not this one, so nothing was accepted"):
        SshConnection(profile, Secrets(), hosts, accept_fingerprint="SHA256:wrong").connect()
    assert not hosts.path.exists()

    conn = SshConnection(profile, Secrets(), hosts, accept_fingerprint=expected)
    conn.connect()
    assert conn.alive and conn.run("echo hi", timeout=10).stdout == "hi\n"
    conn.close()
    line = hosts.path.read_text()
    assert line.startswith(f"[127.0.0.1]:{ssh_server.port} ssh-ed25519 ")
    assert stat.S_IMODE(hosts.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(hosts.path.parent.stat().st_mode) == 0o700
    again = SshConnection(profile, Secrets(), hosts)  # stored: no confirmation needed now
    again.connect()
    again.close()


def test_changed_key_is_refused_with_a_warning(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts
) -> None:
    old = fingerprint(ssh_server.host_key)
    ssh_server.stop()
    ssh_server.new_host_key()
    ssh_server.start()  # same port, new key: what a man in the middle looks like
    new = fingerprint(ssh_server.host_key)
    assert new != old
    for accept in (None, new):  # even the new key's own fingerprint does not override
        with pytest.raises(HostKeyChanged) as refused:
            SshConnection(profile, Secrets(), known_hosts, accept_fingerprint=accept).connect()
        error = refused.value
        assert (error.expected, error.fingerprint) == (old, new)
        assert "CHANGED" in str(error) and "man-in-the-middle" in str(error)
        assert str(known_hosts.path) in str(error)
    assert known_hosts.forget("127.0.0.1", ssh_server.port) == 1
    conn = SshConnection(profile, Secrets(), known_hosts, accept_fingerprint=new)
    conn.connect()
    conn.close()


def test_user_known_hosts_is_read_never_written(
    ssh_server: Sshd, profile: ServerProfile, tmp_path: Path
) -> None:
    system = tmp_path / "dot-ssh" / "known_hosts"
    system.parent.mkdir()
    key = ssh_server.host_key
    # a hashed entry, as ssh writes with HashKnownHosts yes, behind a comment and junk
    hashed = paramiko.HostKeys.hash_host(host_key_name("127.0.0.1", ssh_server.port))
    system.write_text(f"# mine\nnot a key line\n{hashed} {key.get_name()} {key.get_base64()}\n")
    before = system.read_text()
    hosts = KnownHosts(tmp_path / "own" / "known_hosts", system_file=system)
    conn = SshConnection(profile, Secrets(), hosts)
    conn.connect()
    conn.close()
    assert system.read_text() == before and not hosts.path.exists()
    assert hosts.known_types("127.0.0.1", ssh_server.port) == ["ssh-ed25519"]


def test_names_patterns_and_port_forms(tmp_path: Path) -> None:
    key_a = paramiko.Ed25519Key.from_private_key_file(_new_key(tmp_path / "a"))
    key_b = paramiko.Ed25519Key.from_private_key_file(_new_key(tmp_path / "b"))
    assert host_key_name("lab", 22) == "lab" and host_key_name("lab", 2222) == "[lab]:2222"
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.path.write_text(f"gpu*.lab,!gpu9.lab {key_a.get_name()} {key_a.get_base64()}\n")
    hosts.check("gpu1.lab", 22, key_a)
    for name in ("gpu9.lab", "other"):
        with pytest.raises(UnknownHostKey):
            hosts.check(name, 22, key_a)
    with pytest.raises(UnknownHostKey):
        hosts.check("gpu1.lab", 2222, key_a)  # another port is another host
    with pytest.raises(HostKeyChanged, match=r"host key of gpu1\.lab:22 has CHANGED"):
        hosts.check("gpu1.lab", 22, key_b)
    with pytest.raises(HostKeyChanged):
        hosts.accept("gpu1.lab", 22, key_b)  # accept never overrides a stored key


def _new_key(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    return str(path)


def test_fetch_host_key_from_nothing_fails_in_plain_words(
    sshd_factory: Callable[..., Sshd]
) -> None:
    server = sshd_factory()
    port = server.port
    server.stop()
    with pytest.raises(Exception, match=rf"127\.0\.0\.1:{port}: cannot connect"):
        fetch_host_key("127.0.0.1", port, timeout=5)
