"""Refreshes each saved server's status every few seconds: :class:`StatusMonitor`.

One plain worker thread per watched server calls the :class:`StatusSource` (which
may block for the length of a connect timeout) and hands the result to the GUI
thread through a :class:`~app.views.bridge.GuiInbox` (the one way across threads in
the views); a server that hangs delays only its own row. Workers never touch a widget
and never emit a signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal

from app.application.servers import HostStatus, Secrets, ServerProfile, StatusSource
from app.views.bridge import GuiInbox, Mailbox, start_worker

log = logging.getLogger(__name__)

POLL_MS = 50
"""How often the GUI thread takes the statuses the workers found."""
REFRESH_S = 4.0
"""Seconds between two status refreshes of one server."""

SecretsFor = Callable[[str], Secrets]
"""The secrets of a server by name (called on worker threads; may raise)."""


class _Watch:
    """One server's worker: what to refresh and how to wake or end it."""

    def __init__(self, profile: ServerProfile) -> None:
        self.profile = profile
        self.wake = threading.Event()
        self.ended = threading.Event()
        self.thread: threading.Thread | None = None


class StatusMonitor(QObject):
    """Keeps the status of every watched server fresh.

    Args:
        source: where statuses come from (blocking calls, made on worker threads).
        secrets_for: the secrets of a server by name.
        interval: seconds between refreshes of one server.
        parent: the owning Qt object.

    Signals:
        statusChanged(object HostStatus): a server's new status, on the GUI thread.
    """

    statusChanged = Signal(object)

    def __init__(self, source: StatusSource, secrets_for: SecretsFor, *,
                 interval: float = REFRESH_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if interval <= 0:
            raise ValueError(f"status refresh interval must be > 0 seconds, got {interval}")
        self._source = source
        self._secrets_for = secrets_for
        self._interval = interval
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}
        self._closed = False
        self._inbox: GuiInbox[HostStatus] = GuiInbox(self._deliver, POLL_MS, self)
        self._inbox.start()

    def watch(self, profiles: Iterable[ServerProfile]) -> None:
        """Watch exactly these servers: new ones start, gone ones stop, edited ones
        are refreshed at once with their new settings."""
        wanted = {profile.name: profile for profile in profiles}
        with self._lock:
            if self._closed:
                return
            gone = [name for name in self._watches if name not in wanted]
            ended = [self._watches.pop(name) for name in gone]
            for name, profile in wanted.items():
                current = self._watches.get(name)
                if current is None:
                    self._start(profile)
                elif current.profile != profile:
                    current.profile = profile
                    current.wake.set()
        for watch in ended:
            watch.ended.set()
            watch.wake.set()
        for name in gone:
            self._forget_later(name)

    def refresh_now(self, name: str) -> None:
        """Refresh server ``name`` without waiting for the interval (after a key was
        accepted, say); unknown names are ignored."""
        with self._lock:
            watch = self._watches.get(name)
        if watch is not None:
            watch.wake.set()

    def watched(self) -> list[str]:
        """The names being watched."""
        with self._lock:
            return sorted(self._watches)

    def close(self) -> threading.Thread:
        """Stop every worker and close the source in the background (never blocks).

        Returns:
            The thread closing the source, for a caller that wants to wait for it.
        """
        with self._lock:
            self._closed = True
            watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            watch.ended.set()
            watch.wake.set()
        return start_worker(self._source.close, name="sweeplab-status-close")

    def _start(self, profile: ServerProfile) -> None:
        watch = _Watch(profile)
        watch.thread = start_worker(_keep_fresh, watch, self._source, self._secrets_for,
                                    self._interval, self._inbox.mailbox,
                                    name=f"sweeplab-status-{profile.name}")
        self._watches[profile.name] = watch

    def _forget_later(self, name: str) -> None:
        start_worker(self._source.forget, name, name=f"sweeplab-status-forget-{name}")

    def _deliver(self, statuses: list[HostStatus]) -> None:
        for status in statuses:
            self.statusChanged.emit(status)


def _keep_fresh(watch: _Watch, source: StatusSource, secrets_for: SecretsFor,
                interval: float, mailbox: Mailbox[HostStatus]) -> None:
    """One server's worker thread: fetch its status every ``interval`` s until ended."""
    while not watch.ended.is_set():
        watch.wake.clear()
        status = _fetch(source, secrets_for, watch.profile)
        if watch.ended.is_set():
            return
        mailbox.post(status)
        watch.wake.wait(interval)


def _fetch(source: StatusSource, secrets_for: SecretsFor, profile: ServerProfile) -> HostStatus:
    try:
        secrets = secrets_for(profile.name)
    except Exception as exc:  # keyring trouble: the status says so
        return HostStatus(profile.name, False, 0,
                          error=f"cannot read its saved secrets: {exc}")
    try:
        return source.refresh(profile, secrets)
    except Exception as exc:  # a bug in a source: keep the worker and say so
        log.exception("status of %s failed", profile.name)
        return HostStatus(profile.name, False, 0,
                          error=f"internal error: {type(exc).__name__}: {exc}")
