"""Importing ~/.ssh/config: concrete hosts, patterns skipped, bad lines and files named."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from app.remote.ssh.profile import AuthKind
from app.remote.ssh.sshconfig import (
    SshConfigError,
    import_ssh_config,
    profile_name,
    scan_ssh_config,
)

CONFIG = """\
# a comment, then global options (first value wins, as in OpenSSH)
Host web1 web-alias
    HostName 10.0.0.5
    Port 2200
    User deploy
    IdentityFile ~/.ssh/id_web
    IdentityFile ~/.ssh/id_other

Host *.lab gpu? !bastion
    User labber

Host gpu-box
    User alice

Match exec "touch {marker}"
    User evil

Host jump
    ProxyJump bastion

Host local
    HostName 127.0.0.1

Host badport
    Port abc

Host hugeport
    Port 70000

Host "weird name" a/b
    User carol

Host *
    User fallback
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG.format(marker=tmp_path / "pwned"))
    return path


def test_concrete_hosts_become_profiles_in_file_order(config: Path) -> None:
    found = scan_ssh_config(config)
    by_name = {p.name: p for p in found.profiles}
    assert list(by_name) == ["web1", "web-alias", "gpu-box", "local-2", "weird-name", "a-b"]
    web = by_name["web1"]
    assert (web.host, web.port, web.user) == ("10.0.0.5", 2200, "deploy")
    assert web.auth is AuthKind.KEY
    assert web.key_file == str(Path("~/.ssh/id_web").expanduser())  # the first one
    assert by_name["web-alias"].host == "10.0.0.5"
    gpu = by_name["gpu-box"]
    assert (gpu.host, gpu.user, gpu.port, gpu.auth) == ("gpu-box", "alice", 22, AuthKind.AGENT)
    assert gpu.key_file is None
    assert by_name["local-2"].host == "127.0.0.1"
    assert found.aliases["local-2"] == "local"
    assert found.aliases["a-b"] == "a/b"
    assert by_name["weird-name"].user == "carol"


def test_patterns_and_unusable_hosts_are_skipped_with_reasons(config: Path) -> None:
    skipped = {s.alias: s.reason for s in scan_ssh_config(config).skipped}
    for pattern in ("*.lab", "gpu?", "!bastion", "*"):
        assert skipped[pattern] == "a pattern, not one server"
    assert "ProxyJump" in skipped["jump"]
    assert skipped["badport"] == "Port 'abc' is not a number"
    assert "port must be 1-65535, got 70000" in skipped["hugeport"]


def test_match_exec_is_never_run(config: Path, tmp_path: Path) -> None:
    found = scan_ssh_config(config)
    assert not (tmp_path / "pwned").exists()
    assert any("line 15:" in note and "Match exec" in note for note in found.notes)
    assert all(p.user != "evil" for p in found.profiles)


def test_user_defaults_to_the_local_user(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host plain\n")
    (profile,) = import_ssh_config(path)
    assert (profile.name, profile.host, profile.user) == ("plain", "plain", getpass.getuser())


def test_taken_names_are_avoided(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host box\n")
    (profile,) = scan_ssh_config(path, taken={"box", "box-2"}).profiles
    assert profile.name == "box-3"


@pytest.mark.parametrize(("alias", "expected"), [
    ("ok.name_1", "ok.name_1"), ("-lead", "lead"), ("a b", "a-b"), ("___", "server"),
    ("local", "local-2"), ("x" * 80, "x" * 60),
])
def test_profile_name_is_made_valid(alias: str, expected: str) -> None:
    assert profile_name(alias, set()) == expected


def test_bad_lines_are_named_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host ok\n  User me\nthis-line-has-no-value\nHost 'unclosed\n")
    with pytest.raises(SshConfigError) as caught:
        scan_ssh_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path} line 3: cannot understand 'this-line-has-no-value'")
    assert lines[1].startswith(f"{path} line 4: Host")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SshConfigError, match=f"there is no ssh config at {tmp_path}/nope"):
        import_ssh_config(tmp_path / "nope")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SshConfigError, match="is a folder, not an ssh config file"):
        import_ssh_config(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_bytes(b"Host a\n\xff\xfe\x00")
    with pytest.raises(SshConfigError, match=r"not UTF-8 text \(byte 7\)"):
        import_ssh_config(path)


def test_default_path_is_the_users_ssh_config(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host home-box\n  User me\n")
    assert [p.name for p in import_ssh_config()] == ["home-box"]


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("# only a comment\n\n")
    found = scan_ssh_config(path)
    assert (found.profiles, found.skipped, found.notes) == ([], [], [])
