"""Closing the window without freezing it: the runs are stopped (or left running) on a
worker thread while the window says what it waits for, and it closes when they are done.

Stopping trials can take the grace period and more per runner (SIGINT, then SIGTERM,
then SIGKILL, on local and remote hosts); the window keeps painting meanwhile and shows
"Stopping N trials…" in its status bar. The outcome comes back as a queued signal.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from app.application.workspace import Workspace


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
        self.finished.connect(self._mark_done)

    @property
    def started(self) -> bool:
        """:meth:`start` was called."""
        return self._thread is not None

    def start(self, *, leave: bool) -> None:
        """Stop every run (``leave``: leave their trials running for the next start) and
        close the workspace, on a thread of its own; :attr:`finished` says when."""
        if self._thread is not None:
            return

        def work() -> None:
            try:
                if leave:
                    self._workspace.leave()
                self._workspace.close()
            finally:
                self.finished.emit()

        self._thread = threading.Thread(target=work, name="closing the workspace",
                                        daemon=True)
        self._thread.start()

    def _mark_done(self) -> None:
        self.done = True


def waiting_text(trials: int, leave: bool) -> str:
    """What the window says while it waits, e.g. ``Stopping 3 trials…``."""
    noun = "trial" if trials == 1 else "trials"
    if leave:
        return f"Letting go of {trials} running {noun}, to be taken up at the next start…"
    return f"Stopping {trials} {noun}… the window closes when they have ended."
