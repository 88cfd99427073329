"""The Servers window driven as a person would, on a real SQLite file and real sshd servers.

Secrets go to an in-memory keyring backend (this machine has no OS keyring) or, with
keyring's own "no backend" backend, stay in the window's memory. Connection tests and
live statuses talk to real OpenSSH servers started by the fixtures of tests/ssh.
"""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from app.application.servers import SecretKeeper, Servers
from app.engine.experiment import experiment_from_dict
from app.remote.ssh.hostkeys import KnownHosts, fingerprint
from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile
from app.remote.ssh.secrets import SERVICE, SecretStore
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store
from app.views.experiment_dialog import ExperimentDialog
from app.views.servers import ServerForm, ServersDialog
from devtools.screenshots.servers import render_screenshots
from tests.servers.conftest import MemoryKeyring
from tests.ssh.conftest import (
    client_key,
    gpu_bin,
    known_hosts,
    make_profile,
    ssh_server,
    sshd_factory,
    workdir,
)
from tests.ssh.sshd import Sshd, keygen

__all__ = ["client_key", "gpu_bin", "known_hosts", "make_profile", "ssh_server",
           "sshd_factory", "workdir"]

WAIT_MS = 30_000
"""Upper bound for a status or a connection test against a local sshd."""


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Message boxes the window shows (recorded instead of blocking the test)."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, _title, text, *rest: shown.append(text))
    return shown


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite file."""
    opened = Store(sqlite_url(tmp_path / "servers.db"), busy_timeout=5.0)
    yield opened
    opened.close()


@pytest.fixture
def profiles(store: Store) -> ServerProfiles:
    """Saved servers in the SQLite file."""
    return ServerProfiles(store)


@pytest.fixture
def backend() -> MemoryKeyring:
    """A recommended in-memory keyring backend."""
    return MemoryKeyring()


@pytest.fixture
def open_dialog(qtbot: QtBot, store: Store, backend: MemoryKeyring,
                tmp_path: Path, warnings: list[str]) -> Iterator[Callable[..., ServersDialog]]:
    """Make a Servers window; every one made is closed (and its connections) at the end."""
    made: list[ServersDialog] = []

    def factory(hosts: KnownHosts | None = None, **options: object) -> ServersDialog:
        hosts = hosts or KnownHosts(tmp_path / "sweeplab" / "known_hosts", system_file=None)
        options.setdefault("refresh_s", 0.5)
        servers = Servers(store, SecretKeeper(SecretStore(backend)), known_hosts=hosts)
        dialog = ServersDialog(servers, **options)  # type: ignore[arg-type]
        qtbot.addWidget(dialog)
        dialog.show()
        made.append(dialog)
        return dialog

    yield factory
    for dialog in made:
        closed(dialog)


def closed(dialog: ServersDialog) -> None:
    """Close the window's status connections and wait until they are closed."""
    closer = dialog.monitor.close()
    closer.join(30)
    assert not closer.is_alive(), "the status connections did not close"


def closed_port() -> int:
    """A local port nobody listens on (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ok_enabled(form: ServerForm) -> bool:
    return form.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_add_edit_delete_through_the_form(qtbot: QtBot, open_dialog: Callable[..., ServersDialog],
                                          profiles: ServerProfiles, backend: MemoryKeyring,
                                          tmp_path: Path, warnings: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = open_dialog()
    assert dialog.table.rowCount() == 0 and not dialog.empty.isHidden()
    port = closed_port()
    form = dialog.add_server()
    form.name.setText("gpu-box")
    form.host.setText("127.0.0.1")
    form.port.setValue(port)
    form.user.setText("alice")
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.PASSWORD))
    assert form.errors["password"].text() == "type the password, or logging in will fail"
    form.password.setText("hunter2")
    form.workdir.setText("/scratch/alice/sweeplab")
    form.setup.setText("conda activate torch")
    form.python.setText("/opt/py/bin/python3")
    form.max_parallel.setValue(3)
    form.gpus.setText("0, 2")
    form.trials_per_gpu.setValue(2)
    form.allow_busy_gpus.setChecked(True)
    assert ok_enabled(form) and form.problems() == {}
    form.accept()

    expected = ServerProfile(
        name="gpu-box", host="127.0.0.1", user="alice", port=port, auth=AuthKind.PASSWORD,
        workdir="/scratch/alice/sweeplab", setup="conda activate torch",
        python="/opt/py/bin/python3", max_parallel=3, gpus=(0, 2), trials_per_gpu=2,
        allow_busy_gpus=True)
    assert profiles.list() == [expected]
    assert backend.entries == {(SERVICE, "server:gpu-box:password"): "hunter2"}
    assert dialog.selected_name() == "gpu-box"
    # nobody listens on the port: the row says offline, and why, in plain words
    qtbot.waitUntil(lambda: dialog.row_texts("gpu-box")["Status"].startswith("offline: "),
                    timeout=WAIT_MS)
    status = dialog.row_texts("gpu-box")["Status"]
    assert f"cannot connect to 127.0.0.1:{port}" in status and "gpu-box:" not in status
    assert dialog.row_texts("gpu-box")["Running"] == "0 / 3"

    edit = dialog.edit_server()
    assert edit is not None and edit.name.isReadOnly() and edit.name.text() == "gpu-box"
    assert edit.password.text() == "" and "saved" in edit.password.placeholderText()
    assert edit.gpus.text() == "0, 2" and edit.max_parallel.value() == 3
    key = tmp_path / "id_test"
    key.write_text("not really a key")
    edit.auth.setCurrentIndex(edit.auth.findData(AuthKind.KEY))
    edit.key_file.setText(str(key))
    edit.max_parallel.setValue(5)
    edit.gpus.setText("")
    assert ok_enabled(edit)
    edit.accept()
    changed = profiles.get("gpu-box")
    assert (changed.auth, changed.key_file, changed.max_parallel, changed.gpus) == (
        AuthKind.KEY, str(key), 5, None)
    assert backend.entries == {}, "a key login keeps no password"
    qtbot.waitUntil(lambda: dialog.row_texts("gpu-box")["Running"] == "0 / 5", timeout=WAIT_MS)

    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.No)
    assert not dialog.delete_server()
    assert [p.name for p in profiles.list()] == ["gpu-box"]
    backend.entries[(SERVICE, "server:gpu-box:passphrase")] = "open sesame"
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    assert dialog.delete_server()
    assert profiles.list() == [] and backend.entries == {}
    assert dialog.table.rowCount() == 0 and not dialog.empty.isHidden()
    assert warnings == []
    qtbot.waitUntil(lambda: dialog.monitor.watched() == [], timeout=WAIT_MS)


def test_problems_show_beside_their_fields_and_ok_waits(qtbot: QtBot, backend: MemoryKeyring,
                                                         tmp_path: Path) -> None:
    form = ServerForm(SecretKeeper(SecretStore(backend)), taken=["gpu-box"])
    qtbot.addWidget(form)
    form.name.setText("")
    form.host.setText("")
    assert not ok_enabled(form)
    assert "name must be 1-64 letters" in form.errors["name"].text()
    assert form.errors["host"].text() == "host is empty"
    assert not form.errors["name"].isHidden()
    form.name.setText("local")
    assert "is this machine" in form.problems()["name"]
    form.name.setText("gpu-box")
    assert "exists already" in form.problems()["name"]
    form.name.setText("box2")
    form.host.setText("10.0.0.2")
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.KEY))
    form.key_file.setText("")
    assert form.problems() == {"key_file": "auth is 'key' but no key file is given"}
    missing = tmp_path / "missing_key"
    form.key_file.setText(str(missing))
    assert ok_enabled(form), "a key file not on this machine is a note, not a blocker"
    assert form.errors["key_file"].text() == f"there is no file {missing} on this machine"
    encrypted = keygen(tmp_path / "locked", passphrase="open sesame")
    form.key_file.setText(str(encrypted))
    assert form.errors["passphrase"].text() == "this key is encrypted: type its passphrase"
    form.passphrase.setText("open sesame")
    assert form.errors["passphrase"].isHidden()
    form.gpus.setText("0, x")
    assert "'x' is not a GPU index" in form.problems()["gpus"] and not ok_enabled(form)
    form.gpus.setText("1, 1")
    assert form.problems()["gpus"] == "GPU 1 is listed twice"
    form.gpus.setText("none")
    form.workdir.setText(" ")
    assert form.problems() == {"workdir": "workdir is empty"}
    form.workdir.setText("~/runs")
    assert ok_enabled(form) and form.problems() == {}
    profile = form.profile()
    assert (profile.gpus, profile.workdir, profile.key_file) == ((), "~/runs", str(encrypted))
    assert form.typed_secrets() == Secrets(passphrase="open sesame")
    assert form.row_shown("passphrase") and not form.row_shown("password")
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.AGENT))
    assert form.typed_secrets() == Secrets(), "a passphrase is not kept for agent logins"
    assert not form.row_shown("key_file") and not form.row_shown("passphrase")


def test_without_a_keyring_secrets_stay_in_memory_for_the_session(
        qtbot: QtBot, store: Store, profiles: ServerProfiles, tmp_path: Path,
        warnings: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = SecretStore(fail.Keyring())
    assert not keyring.available()
    hosts = KnownHosts(tmp_path / "known_hosts", system_file=None)
    dialog = ServersDialog(Servers(store, SecretKeeper(keyring), known_hosts=hosts),
                           refresh_s=0.5)
    qtbot.addWidget(dialog)
    form = dialog.add_server()
    assert keyring.why_unavailable() in form.secret_notes["password"].text()
    assert "kept for this session only" in form.secret_notes["password"].text()
    form.name.setText("pw-box")
    form.host.setText("127.0.0.1")
    form.port.setValue(closed_port())
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.PASSWORD))
    form.password.setText("hunter2")
    form.accept()
    assert warnings == []
    assert profiles.get("pw-box").auth is AuthKind.PASSWORD
    assert dialog.keeper.get("pw-box") == Secrets(password="hunter2")
    assert keyring.get("pw-box") == Secrets(), "nothing reached any keyring"
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("servers.db*"))
    assert b"hunter2" not in db_bytes
    assert "hunter2" not in repr(dialog.keeper)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    assert dialog.selected_name() == "pw-box" and dialog.delete_server()
    assert dialog.keeper.get("pw-box") == Secrets(), "deleting forgets the session secret"
    assert warnings == []
    closed(dialog)


def test_unknown_host_key_is_shown_then_accepted(qtbot: QtBot,
                                                 open_dialog: Callable[..., ServersDialog],
                                                 profiles: ServerProfiles, ssh_server: Sshd,
                                                 make_profile: Callable[..., ServerProfile],
                                                 tmp_path: Path) -> None:
    hosts = KnownHosts(tmp_path / "fresh" / "known_hosts", system_file=None)
    profiles.add(make_profile(ssh_server, name="lab1"))
    dialog = open_dialog(hosts)
    assert dialog.selected_name() == "lab1" and dialog.tester.isHidden()
    qtbot.waitUntil(lambda: dialog.row_texts("lab1")["Status"] == (
        "offline: its host key is not accepted yet; press Test connection to see its "
        "fingerprint and accept it"), timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.tester.finished, timeout=WAIT_MS) as first:
        assert dialog.test_server()
    report = first.args[0]
    shown = fingerprint(ssh_server.host_key)
    assert report.unknown_host_key is not None and report.unknown_host_key.fingerprint == shown
    assert dialog.tester.lines()[0].startswith("✓ reachable: ")
    assert dialog.tester.lines()[1].startswith("✗ host key: ")
    assert shown in dialog.tester.fingerprint.text()
    assert not dialog.tester.accept_button.isHidden() and dialog.tester.warning.isHidden()
    assert "cannot run there" in dialog.tester.verdict.text()
    assert not hosts.path.exists()

    with qtbot.waitSignal(dialog.tester.finished, timeout=WAIT_MS) as second:
        dialog.tester.accept_button.click()
    assert second.args[0].ok, str(second.args[0])
    lines = dialog.tester.lines()
    assert [line.split(":")[0] for line in lines] == [
        "✓ reachable", "✓ host key", "✓ authentication", "✓ work directory", "✓ python",
        "✓ setup command", "✓ GPUs"]
    assert dialog.tester.accept_button.isHidden()
    assert dialog.tester.verdict.text() == "Trials can run on this server."
    assert ssh_server.host_key.get_base64() in hosts.path.read_text()
    # the accepted key lets the live status connect too
    qtbot.waitUntil(lambda: dialog.row_texts("lab1")["Status"] == "online", timeout=WAIT_MS)


def test_the_form_tests_a_server_before_it_is_saved(qtbot: QtBot, backend: MemoryKeyring,
                                                    store: Store, ssh_server: Sshd,
                                                    known_hosts: KnownHosts, client_key: Path,
                                                    workdir: Path) -> None:
    keeper = SecretKeeper(SecretStore(backend))
    form = ServerForm(keeper, probe=Servers(store, keeper, known_hosts=known_hosts).probe)
    qtbot.addWidget(form)
    assert form.test_button is not None and form.tester is not None
    form.name.setText("lab1")
    form.host.setText("127.0.0.1")
    form.port.setValue(ssh_server.port)
    form.user.setText(getpass.getuser())
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.KEY))
    form.key_file.setText(str(client_key))
    form.workdir.setText(str(workdir))
    form.python.setText(sys.executable)
    assert form.test_button.isEnabled()
    with qtbot.waitSignal(form.tester.finished, timeout=WAIT_MS) as done:
        form.test_button.click()
        assert not form.test_button.isEnabled(), "one test at a time"
    assert done.args[0].ok, str(done.args[0])
    assert form.tester.lines()[3] == f"✓ work directory: {workdir} is writable"
    assert form.test_button.isEnabled()
    form.port.setValue(closed_port())
    with qtbot.waitSignal(form.tester.finished, timeout=WAIT_MS) as refused:
        form.test_button.click()
    assert form.tester.lines() == [f"✗ reachable: {refused.args[0].steps[0].detail}"]
    assert "cannot connect to 127.0.0.1" in form.tester.lines()[0]


def test_a_changed_host_key_is_a_warning_with_nothing_to_accept(
        qtbot: QtBot, open_dialog: Callable[..., ServersDialog], profiles: ServerProfiles,
        ssh_server: Sshd, make_profile: Callable[..., ServerProfile], tmp_path: Path) -> None:
    hosts = KnownHosts(tmp_path / "changed" / "known_hosts", system_file=None)
    import paramiko

    impostor = paramiko.PKey.from_path(keygen(tmp_path / "other_host_key"))
    hosts.accept("127.0.0.1", ssh_server.port, impostor)
    profiles.add(make_profile(ssh_server, name="lab1"))
    dialog = open_dialog(hosts)
    with qtbot.waitSignal(dialog.tester.finished, timeout=WAIT_MS) as done:
        assert dialog.test_server()
    assert not done.args[0].ok
    assert dialog.tester.lines()[1].startswith("✗ host key: ")
    assert "CHANGED" in dialog.tester.lines()[1]
    assert not dialog.tester.warning.isHidden()
    assert "Possible attack" in dialog.tester.warning.text()
    assert dialog.tester.accept_button.isHidden() and dialog.tester.fingerprint.isHidden()
    assert hosts.path.read_text().count("\n") == 1, "the stored key was not replaced"
    qtbot.waitUntil(lambda: "host key has CHANGED" in dialog.row_texts("lab1")["Status"],
                    timeout=WAIT_MS)


def test_screenshots_render_the_window_and_the_connection_test(qtbot: QtBot,
                                                               tmp_path: Path) -> None:
    written = render_screenshots(tmp_path / "shots")
    assert [p.name for p in written] == ["servers.png", "servers-connection-test.png",
                                         "servers-host-key.png"]
    for path in written:
        picture = QImage(str(path))
        assert picture.width() >= 900 and picture.height() >= 300, path


def test_live_status_shows_gpus_then_offline_when_sshd_dies(
        qtbot: QtBot, open_dialog: Callable[..., ServersDialog], profiles: ServerProfiles,
        sshd_factory: Callable[..., Sshd], gpu_bin: Path,
        make_profile: Callable[..., ServerProfile], tmp_path: Path) -> None:
    server = sshd_factory(gpus=gpu_bin)
    hosts = KnownHosts(tmp_path / "live" / "known_hosts", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    profiles.add(make_profile(server, name="lab1"))
    profiles.add(ServerProfile(name="nowhere", host="127.0.0.1", port=closed_port(),
                               user=getpass.getuser()))
    dialog = open_dialog(hosts)
    qtbot.waitUntil(lambda: dialog.row_texts("lab1")["Status"] == "online", timeout=WAIT_MS)
    row = dialog.row_texts("lab1")
    assert row["Running"] == "0 / 4"
    assert "GPU 0 (NVIDIA GeForce RTX 3090): memory 0.0 / 24.0 GiB, utilisation 0 %" in \
        row["GPUs: memory and utilisation"]
    assert "GPU 1 (NVIDIA GeForce RTX 3090): memory 19.5 / 24.0 GiB, utilisation 97 %" in \
        row["GPUs: memory and utilisation"]
    qtbot.waitUntil(lambda: dialog.row_texts("nowhere")["Status"].startswith("offline: "),
                    timeout=WAIT_MS)
    # the GPU numbers move: the next refresh shows them
    (gpu_bin / "gpus.csv").write_text("0, NVIDIA GeForce RTX 3090, 24576, 12288, 50\n")
    qtbot.waitUntil(lambda: "memory 12.0 / 24.0 GiB, utilisation 50 %"
                    in dialog.row_texts("lab1")["GPUs: memory and utilisation"],
                    timeout=WAIT_MS)

    server.kill()
    qtbot.waitUntil(lambda: dialog.row_texts("lab1")["Status"].startswith("offline"),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "cannot connect to 127.0.0.1" in dialog.row_texts("lab1")["Status"],
                    timeout=WAIT_MS)
    assert dialog.row_texts("lab1")["GPUs: memory and utilisation"] == "unknown while offline"


def test_import_from_ssh_config(qtbot: QtBot, open_dialog: Callable[..., ServersDialog],
                                profiles: ServerProfiles, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host box-a\n  HostName 127.0.0.1\n  Port 2202\n  User alice\n"
                      "Host box-b\n  HostName 10.9.9.9\n  User bob\n"
                      "Host *.lab\n  User carol\n")
    profiles.add(ServerProfile(name="box-a", host="elsewhere", user="u"))
    dialog = open_dialog(ssh_config=config)
    chooser = dialog.import_ssh_config()
    assert chooser is not None
    names = [chooser.list.item(row).text().split()[0] for row in range(chooser.list.count())]
    assert names == ["box-a-2", "box-b"], "a taken name gets a suffix"
    assert "*.lab: skipped, a pattern" in chooser.skipped.text()
    from PySide6.QtCore import Qt

    chooser.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    chooser.accept()
    imported = profiles.get("box-a-2")
    assert (imported.host, imported.port, imported.user) == ("127.0.0.1", 2202, "alice")
    assert [p.name for p in profiles.list()] == ["box-a", "box-a-2"]
    assert dialog.selected_name() == "box-a-2"


def test_import_of_a_missing_config_says_so(open_dialog: Callable[..., ServersDialog],
                                            tmp_path: Path, warnings: list[str]) -> None:
    dialog = open_dialog(ssh_config=tmp_path / "nope")
    assert dialog.import_ssh_config() is None
    assert warnings == [f"there is no ssh config at {tmp_path / 'nope'}"]


def test_experiment_dialog_offers_saved_servers_as_hosts(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ExperimentDialog(servers=["gpu-box", "lab2"])
    qtbot.addWidget(dialog)
    dialog.code_dir.setText(str(tmp_path))
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert list(dialog.host_checks) == ["local", "gpu-box", "lab2"]
    assert dialog.document()["hosts"] == ["local"] and ok.isEnabled()
    dialog.host_checks["lab2"].setChecked(True)
    dialog.local_host.setChecked(False)
    assert dialog.document()["hosts"] == ["lab2"] and ok.isEnabled()
    assert dialog.config().hosts == ("lab2",)
    dialog.host_checks["lab2"].setChecked(False)
    assert not ok.isEnabled()
    assert dialog._errors["hosts"].message() == ("check at least one host: this machine or a "
                                              "saved server")
    assert dialog._errors["hosts"].message()
    dialog.host_checks["gpu-box"].setChecked(True)
    assert ok.isEnabled() and not dialog._errors["hosts"].message()

    doc = dialog.document()
    doc["hosts"] = ["local", "retired-box"]
    again = ExperimentDialog(config=experiment_from_dict(doc, tmp_path), servers=["gpu-box"])
    qtbot.addWidget(again)
    assert list(again.host_checks) == ["local", "gpu-box", "retired-box"]
    assert "no saved server" in again.host_checks["retired-box"].text()
    assert again.checked_hosts() == ["local", "retired-box"]


def test_the_form_keeps_its_fields_in_place_and_shows_every_note_whole(
        qtbot: QtBot, store: Store, tmp_path: Path) -> None:
    """Without a keyring the long "Not saved: ..." note shows under the passphrase; a
    problem of one line appearing under a field moves no field, and a connection test's
    report neither clips the note nor squashes the passphrase field."""
    keeper = SecretKeeper(SecretStore(fail.Keyring()))
    hosts = KnownHosts(tmp_path / "known_hosts", system_file=None)
    form = ServerForm(keeper, probe=Servers(store, keeper, known_hosts=hosts).probe)
    qtbot.addWidget(form)
    form.name.setText("box")
    form.host.setText("127.0.0.1")
    form.port.setValue(closed_port())
    form.auth.setCurrentIndex(form.auth.findData(AuthKind.KEY))
    form.key_file.setText("")
    form.key_file.setText(str(tmp_path / "id_none"))  # a note under the key file
    form.show()
    qtbot.waitExposed(form)
    note = form.secret_notes["passphrase"]
    fields = {"name": form.name, "host": form.host, "port": form.port, "user": form.user,
              "passphrase": form.passphrase, "workdir": form.workdir, "gpus": form.gpus}

    def tops() -> dict[str, int]:
        return {key: field.mapTo(form, field.rect().topLeft()).y()
                for key, field in fields.items()}

    def whole(label: QLabel) -> bool:
        """Shown with every line of its wrapped text: as tall as its text needs at its
        width (a wrapped label's size hint is for some other width)."""
        return label.isVisible() and label.height() >= label.heightForWidth(label.width())

    def unsquashed() -> bool:
        return all(field.height() >= field.minimumSizeHint().height()
                   for field in fields.values())

    assert "kept for this session only" in note.text()
    qtbot.waitUntil(lambda: whole(note) and unsquashed())
    before = tops()
    form.host.setText("")
    form.workdir.setText("")
    assert form.problems() == {"host": "host is empty", "workdir": "workdir is empty"}
    qtbot.waitUntil(lambda: form.errors["host"].isVisible())
    QApplication.processEvents()
    assert tops() == before, "a problem line moved the fields below it"
    form.host.setText("127.0.0.1")
    form.workdir.setText("~/sweeplab")
    QApplication.processEvents()
    assert form.errors["host"].isHidden() and tops() == before

    assert form.test_button is not None and form.tester is not None
    with qtbot.waitSignal(form.tester.finished, timeout=WAIT_MS):
        form.test_button.click()
    qtbot.waitUntil(lambda: form.tester.verdict.isVisible())
    QApplication.processEvents()
    assert whole(note), (note.height(), note.heightForWidth(note.width()))
    assert note.height() >= note.sizeHint().height()
    assert unsquashed(), {key: field.height() for key, field in fields.items()}
    for label in (form.tester.steps, form.tester.verdict):
        assert whole(label), (label.text(), label.height(), label.heightForWidth(label.width()))
    assert tops() == before
