"""Long actions off the GUI thread, with a progress dialog: :class:`TaskRunner`.

Packing the code (Start, Restart, Re-run) and exporting may take seconds on a large
code directory or experiment. A task runs on a plain worker thread; its progress and
its end come back the one way across threads in the views, a
:class:`~app.views.bridge.GuiInbox` drained on the GUI thread every :data:`POLL_MS`
(a cross-thread Qt signal emitted from a plain Python thread was lost now and then
under PySide6 6.11; the queue loses nothing), and a window-modal progress dialog
appears only when the task lasts longer than :data:`SHOW_AFTER_MS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.application.workspace import ActionRefused
from app.engine.ports import StoreError
from app.views.bridge import GuiInbox, Mailbox, start_worker
from app.views.prompts import tell

log = logging.getLogger(__name__)

SHOW_AFTER_MS = 400
POLL_MS = 30
Work = Callable[[Callable[[int, int], None]], Any]
"""A task: called with a progress function taking (done, total)."""
EXPECTED = (ActionRefused, StoreError, ValueError, OSError)
"""Failures said to the user as they are; anything else is a bug, logged in full."""


class TaskRunner(QObject):
    """Runs one task at a time for ``parent``; the caller checks :attr:`busy` first.

    Signals:
        finished(str name, bool ok): after a task's ``on_done`` ran, or its failure
            was shown.
    """

    finished = Signal(str, bool)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._name: str | None = None
        self._dialog: QProgressDialog | None = None
        self._on_done: Callable[[Any], None] | None = None
        self._inbox: GuiInbox[tuple[int, str, Any]] = GuiInbox(self._drain, POLL_MS, self)
        self._run = 0

    @property
    def busy(self) -> str | None:
        """The name of the running task, or None."""
        return self._name

    def run(self, name: str, label: str, work: Work,
            on_done: Callable[[Any], None] | None = None) -> bool:
        """Start ``work`` on a worker thread; False (and nothing done) while busy."""
        if self._name is not None:
            return False
        self._name = name
        dialog = QProgressDialog(label, "", 0, 0, self._parent)
        dialog.setWindowTitle("Sweeplab")
        dialog.setCancelButton(None)  # packing and exporting cannot be cut short safely
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(SHOW_AFTER_MS)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        self._dialog = dialog
        self._on_done = on_done
        self._run += 1
        start_worker(_perform, name, work, self._run, self._inbox.mailbox, name=f"task-{name}")
        self._inbox.start()
        return True

    def _drain(self, items: list[tuple[int, str, Any]]) -> None:
        for run, kind, payload in items:
            if run != self._run or self._name is None:
                continue  # an earlier task's late word (none is expected)
            if kind == "progress":
                if self._dialog is not None:
                    self._dialog.setMaximum(1000)
                    self._dialog.setValue(payload)
            else:
                self._end(kind == "succeeded", payload)

    def _end(self, ok: bool, payload: Any) -> None:
        name, on_done, dialog = self._name or "", self._on_done, self._dialog
        self._inbox.stop()
        self._dialog = None
        self._name = None
        self._on_done = None
        if dialog is not None:
            dialog.reset()
            dialog.deleteLater()
        if ok and on_done is not None:
            on_done(payload)
        elif not ok:
            tell(self._parent, "Sweeplab", str(payload))
        self.finished.emit(name, ok)


def _perform(name: str, work: Work, run: int, mailbox: Mailbox[tuple[int, str, Any]]) -> None:
    """The worker thread: do the work, post its progress and its end."""

    def report(done: int, total: int) -> None:
        mailbox.post((run, "progress", min(done, total) * 1000 // max(total, 1)))

    try:
        result = work(report)
    except EXPECTED as exc:
        mailbox.post((run, "failed", str(exc)))
    except Exception as exc:  # a bug: keep the GUI alive and say so
        log.exception("task %s failed", name)
        mailbox.post((run, "failed", f"internal error: {type(exc).__name__}: {exc}"))
    else:
        mailbox.post((run, "succeeded", result))
