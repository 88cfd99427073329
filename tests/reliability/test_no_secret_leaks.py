"""A server password typed once goes to the keyring and nowhere else.

``sweeplab servers add --password-prompt`` reads the password from stdin (getpass's
own fallback when there is no terminal), then ``servers ls``, ``show`` and ``test``
run against a real sshd that refuses passwords and against a closed port. Afterwards
the password is searched, as UTF-8, UTF-16 and base64, in every file of the data
directory (SQLite database and its -wal, known_hosts, anything else written there),
in the sshd folders, in everything printed, and in every log record at DEBUG level
(paramiko's included). It must be found only in the keyring.
"""

from __future__ import annotations

import base64
import getpass
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.secrets import SERVICE, secret_key
from tests.servers.conftest import MemoryKeyring, memory_keyring
from tests.ssh.conftest import client_key, ssh_server, sshd_factory
from tests.ssh.sshd import Sshd, free_port

__all__ = ["client_key", "memory_keyring", "ssh_server", "sshd_factory"]

SECRET = "Zq9-h\u00fcnter2;'$(id)`x`"
"""The password: non-ASCII and shell characters, so no quoting or encoding hides it."""


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written down."""
    raw = secret.encode()
    return [raw, secret.encode("utf-16-le"), base64.b64encode(raw),
            secret.encode("unicode_escape")]


def files_holding(folder: Path, secret: str) -> list[str]:
    """Files under ``folder`` that hold the secret in any of its forms."""
    return [str(path) for path in folder.rglob("*") if path.is_file()
            and any(form in path.read_bytes() for form in forms(secret))]


def texts_holding(texts: list[str], secret: str) -> list[str]:
    return [text for text in texts
            if any(form.decode("latin-1") in text for form in forms(secret))
            or secret in text]


def test_the_search_finds_a_secret_in_every_form(tmp_path: Path) -> None:
    for index, form in enumerate(forms(SECRET)):
        (tmp_path / f"f{index}").write_bytes(b"before " + form + b" after")
    assert len(files_holding(tmp_path, SECRET)) == len(forms(SECRET))
    assert texts_holding(["x " + SECRET], SECRET) and not texts_holding(["nothing"], SECRET)


class PasswordSshd(Sshd):
    """A real sshd that takes password logins (so the password is really sent, and is
    wrong: the test user's password is not this one)."""

    def _config(self) -> Path:
        path = super()._config()
        text = path.read_text().replace("PasswordAuthentication no", "PasswordAuthentication yes")
        path.write_text(text.replace("PermitRootLogin prohibit-password", "PermitRootLogin yes"))
        return path


@pytest.fixture
def password_sshd(tmp_path: Path, client_key: Path) -> Iterator[Sshd]:
    server = PasswordSshd(tmp_path / "sshd-password", client_key.with_name("id_ed25519.pub"))
    server.start()
    yield server
    server.stop()


class Cli:
    """``sweeplab ARGS`` in this process with stdin text; records all it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
        self.capsys, self.monkeypatch = capsys, monkeypatch
        self.printed: list[str] = []
        # No terminal here: getpass's own fallback reads the typed line from stdin.
        monkeypatch.setattr(getpass, "getpass", getpass.fallback_getpass)

    def __call__(self, *args: str, stdin: str = "") -> int:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        self.printed += [out, err]
        return code


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_a_password_is_kept_in_the_keyring_and_nowhere_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, memory_keyring: MemoryKeyring,
        ssh_server: Sshd, password_sshd: Sshd) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SWEEPLAB_HOME", str(home))
    monkeypatch.delenv("SWEEPLAB_DB", raising=False)
    caplog.set_level(logging.DEBUG)
    cli = Cli(capsys, monkeypatch)
    user = getpass.getuser()
    home.mkdir(mode=0o700)
    for server in (ssh_server, password_sshd):
        KnownHosts(home / "known_hosts").accept("127.0.0.1", server.port, server.host_key)

    assert cli("servers", "add", "pw-box", "--host", "127.0.0.1", "--port",
               str(ssh_server.port), "--user", user, "--password-prompt",
               stdin=SECRET + "\n") == 0, cli.printed
    assert cli("servers", "add", "pw-tried", "--host", "127.0.0.1", "--port",
               str(password_sshd.port), "--user", user, "--password-prompt",
               stdin=SECRET + "\n") == 0, cli.printed
    closed = free_port()
    assert cli("servers", "add", "closed-box", "--host", "127.0.0.1", "--port", str(closed),
               "--user", user, "--password-prompt", stdin=SECRET + "\n") == 0, cli.printed
    assert memory_keyring.entries == {
        (SERVICE, secret_key("pw-box", "password")): SECRET,
        (SERVICE, secret_key("pw-tried", "password")): SECRET,
        (SERVICE, secret_key("closed-box", "password")): SECRET,
    }, "the typed password reached the keyring (so it was there to leak)"

    assert cli("servers", "ls") == 0
    assert cli("servers", "show", "pw-box") == 0
    assert "password saved in the keyring" in cli.printed[-2]
    assert cli("servers", "test", "pw-box", "--timeout", "10") == 1  # sshd refuses passwords
    assert "authentication" in cli.printed[-2] + cli.printed[-1]
    assert cli("servers", "test", "pw-tried", "--timeout", "10") == 1  # a wrong password
    assert "authentication" in cli.printed[-2] + cli.printed[-1]
    assert "Failed password" in (password_sshd.root / "sshd.log").read_text(), \
        "the password was sent, and refused"
    assert cli("servers", "test", "closed-box", "--timeout", "5") == 1
    assert "reachable" in cli.printed[-2] + cli.printed[-1]

    records = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert records, "paramiko's DEBUG log was captured (the search is not of nothing)"
    assert (home / "sweeplab.db").is_file() and (home / "known_hosts").is_file()
    assert files_holding(tmp_path, SECRET) == []
    assert texts_holding(cli.printed, SECRET) == []
    assert texts_holding([*records, caplog.text], SECRET) == []
