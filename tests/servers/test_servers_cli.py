"""``sweeplab servers add | ls | show | rm | import``: exit codes, messages, no secret leaks.

Commands with a keyring run in this process over the in-memory backend (getpass
answered by the test); the 'no keyring' path runs as a real subprocess with keyring's
own fail backend and the secret typed on its stdin.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.remote.ssh.profile import AuthKind
from app.remote.ssh.secrets import SERVICE, secret_key
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.helpers import CliRun, in_process_cli
from tests.servers.conftest import MemoryKeyring

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-Zq9"
PASSPHRASE = "open-sesame-Xy7"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory for this test (database, known_hosts)."""
    folder = tmp_path / "home"
    monkeypatch.setenv("SWEEPLAB_HOME", str(folder))
    monkeypatch.delenv("SWEEPLAB_DB", raising=False)
    return folder


Run = CliRun


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``sweeplab ARGS`` in this process: (exit code, stdout, stderr)."""

    return in_process_cli(capsys)


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What getpass prompts get, in order; the prompts shown are recorded in place."""
    answers: list[str] = []
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        if not answers:
            raise AssertionError(f"unexpected prompt {prompt!r}")
        return answers.pop(0)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    yield answers
    assert not answers, f"prompts not shown: {answers}"


def saved(home: Path) -> ServerProfiles:
    return ServerProfiles(Store(sqlite_url(home / "sweeplab.db")))


def leaked(folder: Path, *texts: str) -> list[str]:
    """Files under ``folder`` and output texts that contain a secret."""
    found = [str(p) for p in folder.rglob("*") if p.is_file()
             and any(s.encode() in p.read_bytes() for s in (SECRET, PASSPHRASE))]
    return found + [t for t in texts if SECRET in t or PASSPHRASE in t]


def test_add_with_every_option_then_show_and_ls(run: Run, home: Path) -> None:
    code, out, err = run(
        "servers", "add", "gpu-box", "--host", "10.0.0.7", "--port", "2222", "--user", "bob",
        "--workdir", "/scratch/bob", "--setup", "conda activate x", "--python", "python3.11",
        "--max-parallel", "3", "--gpus", "0,1", "--trials-per-gpu", "2", "--allow-busy-gpus")
    assert code == 0, err
    assert "saved server gpu-box (bob@10.0.0.7:2222, agent)" in out
    profile = saved(home).get("gpu-box")
    assert (profile.port, profile.gpus, profile.trials_per_gpu) == (2222, (0, 1), 2)
    assert (profile.setup, profile.python, profile.allow_busy_gpus) == (
        "conda activate x", "python3.11", True)
    code, out, _ = run("servers", "show", "gpu-box")
    assert code == 0
    assert "address:        bob@10.0.0.7:2222" in out
    assert "GPUs:           0,1" in out
    assert "busy GPUs:      used" in out
    code, out, _ = run("servers", "ls")
    assert code == 0
    assert "gpu-box" in out and "10.0.0.7" in out


@pytest.mark.usefixtures("no_keyring")
def test_ls_without_servers_says_how_to_add(run: Run) -> None:
    code, out, _ = run("servers", "ls")
    assert code == 0
    assert "no servers saved" in out and "sweeplab servers add" in out


def test_password_goes_to_the_keyring_only(run: Run, home: Path, typed: list[str],
                                           memory_keyring: MemoryKeyring) -> None:
    typed.append(SECRET)
    code, out, err = run("servers", "add", "pw-box", "--host", "h", "--user", "u",
                         "--password-prompt")
    assert code == 0, err
    assert "password saved in the keyring (" in out
    assert memory_keyring.entries == {(SERVICE, secret_key("pw-box", "password")): SECRET}
    assert saved(home).get("pw-box").auth is AuthKind.PASSWORD
    code, show_out, show_err = run("servers", "show", "pw-box")
    assert "secrets:        password saved in the keyring" in show_out
    assert leaked(home, out, err, show_out, show_err) == []
    code, out, err = run("servers", "rm", "pw-box")
    assert code == 0, err
    assert memory_keyring.entries == {}
    assert saved(home).list() == []


def test_passphrase_of_a_key_goes_to_the_keyring(run: Run, home: Path, typed: list[str],
                                                 memory_keyring: MemoryKeyring,
                                                 tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not really a key")
    typed.append(PASSPHRASE)
    code, out, err = run("servers", "add", "k", "--host", "h", "--user", "u",
                         "--key", str(key), "--passphrase-prompt")
    assert code == 0, err
    assert "passphrase saved in" in out
    assert memory_keyring.entries == {(SERVICE, secret_key("k", "passphrase")): PASSPHRASE}
    assert saved(home).get("k").key_file == str(key)
    assert leaked(home, out, err) == []


def test_taken_name_is_refused_before_any_prompt(run: Run, home: Path, typed: list[str],
                                                 memory_keyring: MemoryKeyring) -> None:
    typed.append(SECRET)
    assert run("servers", "add", "box", "--host", "h", "--user", "u", "--password-prompt")[0] == 0
    code, _, err = run("servers", "add", "box", "--host", "other", "--user", "u",
                       "--password-prompt")  # no answer queued: a prompt would fail the test
    assert code == 2
    assert "a server profile named 'box' already exists" in err
    assert memory_keyring.entries[(SERVICE, secret_key("box", "password"))] == SECRET
    assert saved(home).get("box").host == "h"


@pytest.mark.usefixtures("no_keyring")
def test_every_bad_field_is_reported_with_exit_2(run: Run, home: Path) -> None:
    code, _, err = run("servers", "add", "local", "--host", " ", "--user", "", "--port", "0",
                       "--max-parallel", "0", "--trials-per-gpu", "0")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [
        "error: server 'local': the name 'local' is this machine; pick another",
        "error: server 'local': host is empty",
        "error: server 'local': user is empty",
        "error: server 'local': port must be 1-65535, got 0",
        "error: server 'local': max parallel must be >= 1, got 0",
        "error: server 'local': trials per GPU must be >= 1, got 0",
    ]
    assert not (home / "sweeplab.db").exists() or saved(home).list() == []


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize(("args", "message"), [
    (["--passphrase-prompt"], "--passphrase-prompt goes with --key FILE"),
    (["--gpus", "0,x"], "argument --gpus: expected GPU indices like 0,1"),
    (["--gpus", "-1"], "argument --gpus: GPU indices must be >= 0"),
    (["--key", "k", "--agent"], "not allowed with argument --key"),
    (["--port", "ssh"], "argument --port: invalid int value"),
], ids=["passphrase-without-key", "gpus-word", "gpus-negative", "key-and-agent", "port-word"])
def test_bad_options_exit_2(run: Run, capsys: pytest.CaptureFixture[str], args: list[str],
                            message: str) -> None:
    try:
        code, _, err = run("servers", "add", "x", "--host", "h", "--user", "u", *args)
    except SystemExit as exc:  # argparse's own usage errors
        code, err = int(str(exc.code)), capsys.readouterr().err
    assert code == 2
    assert message in err


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("command", ["show", "rm", "test"])
def test_unknown_server_exits_2(run: Run, home: Path, command: str) -> None:
    code, _, err = run("servers", command, "ghost")
    assert code == 2  # nothing stored at all yet: the database is not made for this
    assert f"error: no database at {home / 'sweeplab.db'}: nothing was stored there" in err
    Store(f"sqlite:///{home / 'sweeplab.db'}").close()  # a database with no such server
    code, _, err = run("servers", command, "ghost")
    assert code == 2
    assert "error: no server profile named 'ghost'" in err


@pytest.mark.usefixtures("no_keyring")
def test_test_refuses_a_malformed_fingerprint(run: Run) -> None:
    code, _, err = run("servers", "test", "any", "--accept-host-key", "MD5:aa:bb")
    assert code == 2
    assert "--accept-host-key: expected a fingerprint like SHA256:" in err


SSH_CONFIG = """\
Host web1
    HostName 10.0.0.5
    User deploy
Host web2
    HostName 10.0.0.6
    ProxyJump bastion
Host *.lab
    User x
Host db
    Port 2201
"""


@pytest.mark.usefixtures("no_keyring")
def test_import_saves_concrete_hosts_once(run: Run, home: Path, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(SSH_CONFIG)
    code, out, err = run("servers", "import", "--ssh-config", str(config))
    assert code == 0, err
    assert "imported web1 (deploy@10.0.0.5:22, agent)" in out
    assert "2 server(s) imported" in out
    assert "skipped web2: it uses ProxyJump" in err
    assert "skipped *.lab: a pattern, not one server" in err
    assert [p.name for p in saved(home).list()] == ["db", "web1"]
    code, out, err = run("servers", "import", "--ssh-config", str(config))
    assert code == 0
    assert "0 server(s) imported" in out
    assert "skipped web1: a server with this name is saved already" in err


@pytest.mark.usefixtures("no_keyring")
def test_import_only_some(run: Run, home: Path, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(SSH_CONFIG)
    code, _, err = run("servers", "import", "--ssh-config", str(config), "--only", "db")
    assert code == 0, err
    assert [p.name for p in saved(home).list()] == ["db"]
    assert saved(home).get("db").port == 2201
    assert "web2" not in err  # skipped hosts not asked for are not mentioned


@pytest.mark.usefixtures("no_keyring")
def test_import_only_unknown_host_exits_2_and_saves_nothing(run: Run, home: Path,
                                                            tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(SSH_CONFIG)
    code, _, err = run("servers", "import", "--ssh-config", str(config),
                       "--only", "db", "nope")
    assert code == 2
    assert "--only: no host 'nope' in" in err and "web1, db" in err
    assert not (home / "sweeplab.db").exists() or saved(home).list() == []


@pytest.mark.usefixtures("no_keyring")
def test_import_of_a_bad_config_names_file_and_line(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host a\nnonsense\n")
    code, _, err = run("servers", "import", "--ssh-config", str(config))
    assert code == 2
    assert f"error: {config} line 2: cannot understand 'nonsense'" in err
    code, _, err = run("servers", "import", "--ssh-config", str(tmp_path / "missing"))
    assert code == 2
    assert "there is no ssh config at" in err


def sweeplab(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real command in a new session (no terminal: getpass reads stdin), no keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "SWEEPLAB_"))}
    env.update(SWEEPLAB_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return subprocess.run([sys.executable, "-m", "app", *args], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, env=env, timeout=120,
                          start_new_session=True)


def test_without_keyring_add_saves_the_profile_but_never_the_password(home: Path) -> None:
    result = sweeplab(home, "servers", "add", "pw-box", "--host", "h", "--user", "u",
                      "--password-prompt", stdin=SECRET + "\n")
    assert result.returncode == 0, result.stderr
    assert "saved server pw-box (u@h:22, password)" in result.stdout
    assert "the password was not saved: no OS keyring was found" in result.stderr
    assert "`sweeplab servers test pw-box` and runs on it will ask for the password" \
        in result.stderr
    shown = sweeplab(home, "servers", "show", "pw-box")
    assert shown.returncode == 0
    assert "secrets:        none can be saved here" in shown.stdout
    removed = sweeplab(home, "servers", "rm", "pw-box")
    assert removed.returncode == 0
    assert "the keyring is unavailable here" in removed.stderr
    assert leaked(home, result.stdout, result.stderr, shown.stdout, shown.stderr,
                  removed.stdout, removed.stderr) == []


@pytest.mark.usefixtures("no_keyring")
def test_missing_key_file_is_saved_with_a_warning(run: Run, home: Path, tmp_path: Path) -> None:
    code, _, err = run("servers", "add", "k", "--host", "h", "--user", "u",
                         "--key", str(tmp_path / "no-such-key"))
    assert code == 0, err
    assert f"warning: there is no key file at {tmp_path / 'no-such-key'}" in err
    assert saved(home).get("k").auth is AuthKind.KEY
