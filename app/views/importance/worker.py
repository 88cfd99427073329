"""Parameter importance on a worker thread, delivered to the GUI thread by a polled queue.

The forest takes from a fraction of a second to several seconds, so it never runs
on the GUI thread. The worker thread only computes; it posts its outcome to a
:class:`~app.views.bridge.GuiInbox` (the one way across threads in the views), and
the signals are emitted when the GUI thread drains it: no widget is touched and no
signal is emitted off the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from app.application.analysis.importance import (
    ImportanceError,
    ImportanceResult,
    parameter_importance,
)
from app.engine.records import TrialRecord
from app.views.bridge import GuiInbox, Mailbox, start_worker

log = logging.getLogger(__name__)

POLL_MS = 50
Compute = Callable[[Sequence[TrialRecord], str], ImportanceResult]
"""``(trials, kpi_name) -> result``; raises ImportanceError when it cannot."""


class ImportanceWorker(QObject):
    """Runs one importance computation at a time off the GUI thread. GUI thread only.

    Signals:
        finished(object result): an :class:`~app.application.analysis.importance.ImportanceResult`.
        failed(str message): why there is no result (too few trials, nothing to
            explain, or an internal error).
    """

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None,
                 compute: Compute = parameter_importance) -> None:
        super().__init__(parent)
        self._compute = compute
        self._busy = False
        self._inbox: GuiInbox[tuple[bool, object]] = GuiInbox(self._drain, POLL_MS, self)

    @property
    def busy(self) -> bool:
        """Whether a computation is running."""
        return self._busy

    def start(self, trials: Sequence[TrialRecord], kpi_name: str) -> bool:
        """Compute the importance of ``trials`` (frozen records: safe to share).

        Returns False, and starts nothing, while a computation is running.
        """
        if self._busy:
            return False
        self._busy = True
        start_worker(_compute, self._compute, list(trials), kpi_name, self._inbox.mailbox,
                     name="importance")
        self._inbox.start()
        return True

    def _drain(self, items: list[tuple[bool, object]]) -> None:
        ok, payload = items[-1]  # one computation at a time: one outcome
        self._inbox.stop()
        self._busy = False
        if ok:
            self.finished.emit(payload)
        else:
            self.failed.emit(str(payload))


def _compute(compute: Compute, trials: Sequence[TrialRecord], kpi_name: str,
             mailbox: Mailbox[tuple[bool, object]]) -> None:
    """The worker thread: compute, and post the outcome."""
    try:
        result = compute(trials, kpi_name)
    except ImportanceError as exc:
        mailbox.post((False, str(exc)))
    except Exception as exc:  # a bug: keep the GUI alive and say so
        log.exception("parameter importance failed")
        mailbox.post((False, f"internal error: {type(exc).__name__}: {exc}"))
    else:
        mailbox.post((True, result))
