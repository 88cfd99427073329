"""Desktop notifications: an optimisation finished, a lab server went offline.

:class:`NotificationWatcher` decides *what* deserves a notification from the events
the window already receives; a :class:`Notifier` decides *how* it is shown.
:class:`DesktopNotifier` uses the system tray's balloon where a tray exists and
otherwise a status-bar message plus :meth:`QApplication.alert` (a flashing taskbar
entry). Tests pass their own notifier and read what was sent.

A server counts as gone offline when either

* an open Servers window's status monitor reports it offline after it was seen
  online (:meth:`NotificationWatcher.follow`), or
* a running experiment loses a trial on it: the SSH executor marks a trial LOST only
  after the server stayed unreachable past its offline timeout, so no background
  polling is needed for the servers that matter, the ones running trials.

One notification per server until it is seen again (online, or running a trial).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle, QSystemTrayIcon

from app.application.servers import without_server_prefix
from app.engine.experiment import LOCAL_HOST
from app.engine.records import TrialRecord
from app.engine.trial import ExperimentState, TrialState

if TYPE_CHECKING:  # the SSH stack and the Servers window load when it opens
    from app.application.servers import HostStatus
    from app.views.servers.monitor import StatusMonitor

SHOW_MS = 10_000
"""How long a notification stays (tray balloon or status-bar message)."""
FINAL_STATES = (ExperimentState.COMPLETED, ExperimentState.FAILED, ExperimentState.STOPPED)


class NotificationKind(str, Enum):
    """What a notification is about."""

    FINISHED = "finished"  # an optimisation completed, failed or was stopped
    SERVER_OFFLINE = "server-offline"


@dataclass(frozen=True)
class Notification:
    """One thing to tell the user. ``warning`` marks bad news (failed, offline)."""

    kind: NotificationKind
    title: str
    message: str
    warning: bool = False


class Notifier(Protocol):
    """Shows notifications. Called on the GUI thread only; must not block."""

    def notify(self, notification: Notification) -> None:
        """Show ``notification`` to the user."""
        ...


class DesktopNotifier:
    """The tray's balloon when a system tray is available, else the window's status bar
    and a taskbar alert.

    Args:
        window: the main window (its icon, its status bar, the alert's target).
    """

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        self._tray: QSystemTrayIcon | None = None

    @property
    def uses_tray(self) -> bool:
        """Whether notifications go to the system tray (false on offscreen or bare X)."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def notify(self, notification: Notification) -> None:
        """Show ``notification`` as a tray balloon, or in the status bar with an alert."""
        if self.uses_tray:
            tray = self._tray_icon()
            icon = (QSystemTrayIcon.MessageIcon.Warning if notification.warning
                    else QSystemTrayIcon.MessageIcon.Information)
            tray.showMessage(notification.title, notification.message, icon, SHOW_MS)
            return
        self._window.statusBar().showMessage(
            f"{notification.title}: {notification.message}", SHOW_MS)
        QApplication.alert(self._window)

    def _tray_icon(self) -> QSystemTrayIcon:
        if self._tray is None:
            icon = self._window.windowIcon()
            if icon.isNull():
                icon = self._window.style().standardIcon(
                    QStyle.StandardPixmap.SP_ComputerIcon)
            self._tray = QSystemTrayIcon(icon, self._window)
            self._tray.setToolTip("Sweeplab")
            self._tray.activated.connect(lambda _reason: self._raise_window())
            self._tray.show()
        return self._tray

    def _raise_window(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()


class NotificationWatcher(QObject):
    """Turns the window's events into notifications for ``notifier``.

    Connect :meth:`on_experiment` to the bridge's ``experimentChanged`` and
    :meth:`on_trial` to its ``trialChanged``; call :meth:`follow` with the status
    monitor of each Servers window opened. Runs on the GUI thread only.

    Args:
        notifier: shows what this decides to show.
        name_of: an experiment's name by id (may raise; the id is shown instead).
        parent: the owning Qt object.
    """

    def __init__(self, notifier: Notifier, name_of: Callable[[int], str],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notifier = notifier
        self._name_of = name_of
        self._online: dict[str, bool] = {}
        self._told_offline: set[str] = set()

    @Slot(int, object, str)
    def on_experiment(self, experiment_id: int, state: object, message: str) -> None:
        """An experiment's state changed: notify when its run ended."""
        if not isinstance(state, ExperimentState) or state not in FINAL_STATES:
            return
        try:
            name = self._name_of(experiment_id)
        except Exception:  # deleted meanwhile, or the store is closing: the id will do
            name = f"experiment {experiment_id}"
        words = {ExperimentState.COMPLETED: "finished", ExperimentState.FAILED: "failed",
                 ExperimentState.STOPPED: "stopped"}[state]
        self.notifier.notify(Notification(
            NotificationKind.FINISHED, f"Optimisation {words}: {name}",
            message or state.value, warning=state is ExperimentState.FAILED))

    @Slot(object)
    def on_trial(self, record: TrialRecord) -> None:
        """A trial changed: a LOST trial on a server means the server stopped answering."""
        host = record.host
        if host is None or host == LOCAL_HOST:
            return
        if record.state is TrialState.RUNNING:
            self._seen(host, online=True)
        elif record.state is TrialState.LOST:
            first_line = (record.error or "").splitlines()[:1]
            self._offline(host, first_line[0] if first_line else
                          f"trial {record.number} was lost")

    @Slot(object)
    def on_server_status(self, status: HostStatus) -> None:
        """A Servers window refreshed a status: notify on online → offline."""
        was_online = self._online.get(status.name)
        if status.online:
            self._seen(status.name, online=True)
            return
        self._online[status.name] = False
        if was_online:
            self._offline(status.name, without_server_prefix(status.name, status.error)
                          if status.error else "it stopped answering")

    def follow(self, monitor: StatusMonitor) -> None:
        """Hear every status ``monitor`` fetches (a Servers window's)."""
        monitor.statusChanged.connect(self.on_server_status)

    def _seen(self, server: str, *, online: bool) -> None:
        self._online[server] = online
        if online:
            self._told_offline.discard(server)

    def _offline(self, server: str, why: str) -> None:
        self._online[server] = False
        if server in self._told_offline:
            return
        self._told_offline.add(server)
        self.notifier.notify(Notification(
            NotificationKind.SERVER_OFFLINE, f"Server {server} is offline", why,
            warning=True))
