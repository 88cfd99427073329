"""Journey 4: add a lab server, test it, accept its host key, run a trial there.

The server is a real OpenSSH ``sshd`` on 127.0.0.1 (tests/ssh fixtures), logged into
as the current user with a key made for the tests. The user opens File → Servers…,
adds the server through the form, presses Test connection, checks the fingerprint
shown against the one OpenSSH's ``ssh-keygen`` reads from the server's key, accepts
it, sees every check pass, then ticks the server as the experiment's host in
Settings and starts: the trial runs there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.remote.ssh.profile import AuthKind
from app.views.experiment_dialog import ExperimentDialog
from app.views.servers import ServerForm, ServersDialog
from tests.journeys.steps import (
    WAIT_MS,
    OnDialog,
    choose,
    click,
    hover_tile,
    lab_window,
    plain,
    show_tab,
    tick,
    tiles,
    toolbar_click,
    type_into,
    wait_status,
)
from tests.servers.conftest import MemoryKeyring
from tests.ssh.conftest import client_key, ssh_server, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "ssh_server", "sshd_factory", "workdir"]

SCRIPT = """
import socket, sweeplab
print("ran on", socket.gethostname(), flush=True)
sweeplab.report("loss", float(sweeplab.param("x")), step=1)
"""


def openssh_fingerprint(server: Sshd) -> str:
    """The host key's fingerprint as ``ssh-keygen -l`` prints it (``SHA256:...``): what
    the server's administrator reads to the user."""
    out = subprocess.run(["ssh-keygen", "-l", "-f", f"{server.host_key_file}.pub"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return out.split()[1]


def test_add_a_server_test_it_accept_its_key_and_run_a_trial_there(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ssh_server: Sshd,
        client_key: Path, workdir: Path) -> None:
    # this machine has no OS keyring; a memory one stands in (nothing is saved in it:
    # a key without passphrase needs no secret)
    monkeypatch.setattr("app.remote.ssh.secrets.keyring.get_keyring", MemoryKeyring)
    with lab_window(qtbot, tmp_path, monkeypatch, SCRIPT,
                    limits={"max_trials": 1, "max_parallel": 1}) as window:
        choose(window, "File", "Servers…")
        servers = next(d for d in window.findChildren(ServersDialog) if d.isVisible())
        assert not servers.empty.isHidden()

        # the form: typed as a person would
        click(servers.add_button)
        form = next(f for f in servers.findChildren(ServerForm) if f.isVisible())
        type_into(qtbot, form.name, "lab1")
        type_into(qtbot, form.host, "127.0.0.1")
        type_into(qtbot, form.port, str(ssh_server.port))
        form.auth.setCurrentIndex(form.auth.findData(AuthKind.KEY.value))
        type_into(qtbot, form.key_file, str(client_key))
        type_into(qtbot, form.workdir, str(workdir))
        type_into(qtbot, form.python, sys.executable)
        ok = form.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert all(label.isHidden() for label in form.errors.values())
        click(ok)
        qtbot.waitUntil(lambda: not form.isVisible())
        assert servers.selected_name() == "lab1" and servers.empty.isHidden()
        qtbot.waitUntil(lambda: "host key is not accepted yet" in
                        servers.row_texts("lab1")["Status"], timeout=WAIT_MS)

        # Test connection: the new host key is shown by its fingerprint
        click(servers.test_button)
        tester = servers.tester
        qtbot.waitUntil(lambda: tester.accept_button.isVisible(), timeout=WAIT_MS)
        assert openssh_fingerprint(ssh_server) in plain(tester.fingerprint)
        assert "✗ host key" in plain(tester.steps)
        assert "cannot run there" in tester.verdict.text()

        # it matches what the administrator read: accept it; every check passes
        click(tester.accept_button)
        qtbot.waitUntil(lambda: tester.verdict.text() == "Trials can run on this server.",
                        timeout=WAIT_MS)
        checks = [line for line in plain(tester.steps).splitlines() if line.strip()]
        assert [line.split(":")[0] for line in checks] == [
            "✓ reachable", "✓ host key", "✓ authentication", "✓ work directory", "✓ python",
            "✓ setup command", "✓ GPUs"], checks
        assert not tester.accept_button.isVisible()
        qtbot.waitUntil(lambda: servers.row_texts("lab1")["Status"] == "online",
                        timeout=WAIT_MS)
        click(servers.buttons.button(QDialogButtonBox.StandardButton.Close))
        qtbot.waitUntil(lambda: not any(t.name.startswith("sweeplab-status")
                                        for t in threading.enumerate()), timeout=WAIT_MS)

        # the experiment's Settings: run on lab1 instead of this machine
        def use_lab1(dialog: ExperimentDialog) -> None:
            assert list(dialog.host_checks) == ["local", "lab1"]
            tick(dialog.host_checks["lab1"], True)
            tick(dialog.host_checks["local"], False)
            click(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))

        settings = OnDialog(ExperimentDialog, use_lab1)
        choose(window, "Experiment", "Settings…")
        assert settings.seen is not None, "Settings… opened no dialog"

        show_tab(window, "Trials")
        toolbar_click(window, "Start")
        wait_status(qtbot, window, "completed 1", timeout=60_000)
        (trial,) = tiles(window)
        tip = hover_tile(window, trial)
        assert tip.startswith("Trial 1 — completed") and "host: lab1" in tip, tip

