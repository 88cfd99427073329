"""Pictures of the Servers window and its connection test (called by scripts/screenshots.py).

Three made-up servers in a throwaway SQLite file: one online with two busy GPUs, one
that does not answer, and a new one whose host key is not accepted yet. Statuses and
test reports are set directly, so the pictures need no network and no sshd.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
from keyring.backends import fail
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication, QWidget

from app.application.servers import SecretKeeper, Servers
from app.remote.gpu import GpuInfo
from app.remote.ssh.errors import UnknownHostKey
from app.remote.ssh.executor import HostStatus
from app.remote.ssh.hostkeys import KnownHosts, fingerprint
from app.remote.ssh.probe import ProbeReport, ProbeStep
from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile
from app.remote.ssh.secrets import SecretStore
from app.store.places import sqlite_url
from app.store.servers import ServerProfiles
from app.store.store import Store
from app.views.servers.dialog import ServersDialog

DIALOG_SIZE = (1000, 360)
TEST_SIZE = (1000, 560)
ONLINE = ServerProfile(name="gpu-box-1", host="gpu-box-1.lab.example.org", user="alice",
                       auth=AuthKind.KEY, key_file="~/.ssh/id_ed25519",
                       workdir="/scratch/alice/sweeplab", setup="conda activate torch",
                       max_parallel=4, trials_per_gpu=2)
OFFLINE = ServerProfile(name="gpu-box-2", host="10.1.2.4", user="alice", max_parallel=2)
NEW = ServerProfile(name="new-box", host="10.1.2.9", user="alice", max_parallel=8)
NEW_KEY = paramiko.ECDSAKey.generate()
UNKNOWN = UnknownHostKey(NEW.name, NEW.host, NEW.port, NEW_KEY, fingerprint(NEW_KEY))
STATUSES = {
    ONLINE.name: HostStatus(ONLINE.name, True, 3, (
        GpuInfo(0, "NVIDIA GeForce RTX 3090", 24576, 18620, 92),
        GpuInfo(1, "NVIDIA GeForce RTX 3090", 24576, 6144, 35),
    )),
    OFFLINE.name: HostStatus(OFFLINE.name, False, 0, error=(
        "gpu-box-2: cannot connect to 10.1.2.4:22 (No route to host); is the server on "
        "and its SSH port 22?")),
    NEW.name: HostStatus(NEW.name, False, 0, error=(
        "new-box: its host key is not accepted yet; press Test connection to see its "
        "fingerprint and accept it")),
}


class _FixedStatus:
    """A status source that answers with :data:`STATUSES` (no network)."""

    def refresh(self, profile: ServerProfile, secrets: Secrets) -> HostStatus:
        return STATUSES[profile.name]

    def forget(self, name: str) -> None:
        """Nothing is held."""

    def close(self) -> None:
        """Nothing is held."""


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render the Servers window, a passed connection test and an unknown host key.

    Needs a QApplication (offscreen or Xvfb). Returns the PNGs written:
    ``servers.png``, ``servers-connection-test.png``, ``servers-host-key.png``.
    """
    if QApplication.instance() is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sweeplab-servers-") as tmp, \
            Store(sqlite_url(Path(tmp) / "servers.db")) as store:
        profiles = ServerProfiles(store)
        profiles.add(ONLINE)
        profiles.add(OFFLINE)
        profiles.add(NEW)
        hosts = KnownHosts(Path(tmp) / "known_hosts", system_file=None)
        no_keyring = SecretStore(fail.Keyring())  # type: ignore[no-untyped-call]
        dialog = ServersDialog(Servers(store, SecretKeeper(no_keyring), known_hosts=hosts),
                               status_source=_FixedStatus())
        try:
            return _pictures(dialog, out_dir)
        finally:
            dialog.monitor.close().join(10)
            dialog.close()


def _pictures(dialog: ServersDialog, out_dir: Path) -> list[Path]:
    dialog.resize(*DIALOG_SIZE)
    dialog.show()
    _wait_for(lambda: all(dialog.status_of(name) is not None for name in STATUSES))
    dialog.table.selectRow(0)
    written = [_save(dialog, out_dir / "servers.png")]
    dialog.resize(*TEST_SIZE)
    dialog.tester.show()
    dialog.tester.title.setText(f"Connection test of {ONLINE.name} "
                                f"({ONLINE.user}@{ONLINE.host}:{ONLINE.port})")
    dialog.tester.show_report(_passed_report())
    written.append(_save(dialog, out_dir / "servers-connection-test.png"))
    dialog.table.selectRow(2)
    dialog.tester.title.setText(f"Connection test of {NEW.name} "
                                f"({NEW.user}@{NEW.host}:{NEW.port})")
    dialog.tester.show_report(_unknown_key_report())
    written.append(_save(dialog, out_dir / "servers-host-key.png"))
    return written


def _passed_report() -> ProbeReport:
    where = f"{ONLINE.host}:{ONLINE.port}"
    return ProbeReport(ONLINE.name, (
        ProbeStep("reachable", True, f"{where} answers SSH"),
        ProbeStep("host key", True, "known and unchanged (ssh-ed25519)"),
        ProbeStep("authentication", True, f"logged in as {ONLINE.user}@{where} (key)"),
        ProbeStep("work directory", True, f"{ONLINE.workdir} is writable"),
        ProbeStep("python", True, "python3 is Python 3.11.9 after the setup command"),
        ProbeStep("setup command", True, f"{ONLINE.setup!r} works"),
        ProbeStep("GPUs", True, "found 0: NVIDIA GeForce RTX 3090, 1: NVIDIA GeForce RTX "
                  "3090; trials use [0, 1]"),
    ), STATUSES[ONLINE.name].gpus)


def _unknown_key_report() -> ProbeReport:
    detail = str(UNKNOWN).removeprefix(f"{NEW.name}: ")
    return ProbeReport(NEW.name, (
        ProbeStep("reachable", True, f"{NEW.host}:{NEW.port} answers SSH"),
        ProbeStep("host key", False, detail),
    ), unknown_host_key=UNKNOWN)


def _save(widget: QWidget, path: Path) -> Path:
    _wait_for(lambda: True)
    widget.grab().save(str(path))
    return path


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Process events until ``predicate()`` holds (and once more), or fail."""
    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while True:
        if app is not None:
            for _ in range(3):
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if predicate():
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the Servers window did not show every status in time")
        if app is not None:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
