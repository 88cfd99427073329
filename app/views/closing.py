"""Closing the window without freezing it: the runs are stopped (or left running) on a
worker thread while the window says what it waits for, and it closes when they are done.

Stopping trials can take the grace period and more per runner (SIGINT, then SIGTERM,
then SIGKILL, on local and remote hosts); the window keeps painting meanwhile and shows
"Stopping N trials…" in its status bar. The outcome comes back through a
:class:`~app.views.bridge.GuiInbox`.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from app.application.workspace import Workspace
from app.views.bridge import GuiInbox, Mailbox, start_worker

POLL_MS = 50


class Closing(QObject):
    """Ends a workspace's runs off the GUI thread, once.

    Signals:
        finished(): every run has stopped, or let go of its trials (delivered on the
            GUI thread).
    """

    finished = Signal()

    def __init__(self, workspace: Workspace, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workspace = workspace
        self._thread: threading.Thread | None = None
        self.done = False
        self._inbox: GuiInbox[bool] = GuiInbox(self._ended, POLL_MS, self)

    @property
    def started(self) -> bool:
        """:meth:`start` was called."""
        return self._thread is not None

    def start(self, *, leave: bool) -> None:
        """Stop every run (``leave``: leave their trials running for the next start) and
        close the workspace, on a thread of its own; :attr:`finished` says when."""
        if self._thread is not None:
            return
        self._inbox.start()
        self._thread = start_worker(_close, self._workspace, leave, self._inbox.mailbox,
                                    name="closing the workspace")

    def _ended(self, _items: list[bool]) -> None:
        self._inbox.stop()
        self.done = True
        self.finished.emit()


def _close(workspace: Workspace, leave: bool, mailbox: Mailbox[bool]) -> None:
    """The worker thread: let go of or stop the runs, close the workspace."""
    try:
        if leave:
            workspace.leave()
        workspace.close()
    finally:
        mailbox.post(True)


def waiting_text(trials: int, leave: bool) -> str:
    """What the window says while it waits, e.g. ``Stopping 3 trials…``."""
    noun = "trial" if trials == 1 else "trials"
    if leave:
        return f"Letting go of {trials} running {noun}, to be taken up at the next start…"
    return f"Stopping {trials} {noun}… the window closes when they have ended."
