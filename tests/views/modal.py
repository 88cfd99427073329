"""Acting on a modal dialog the code under test opens with ``exec()``, as a person would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog

D = TypeVar("D", bound=QDialog)


class OnModal(Generic[D]):
    """Once a modal dialog of ``kind`` is shown, calls ``act(dialog)``; if ``act`` leaves
    it open (or raises), the dialog is cancelled so the test never hangs. An exception
    from ``act`` is kept in :attr:`error` (re-raise it after the ``exec``)."""

    def __init__(self, kind: type[D], act: Callable[[D], None]) -> None:
        self.kind = kind
        self.act = act
        self.seen: D | None = None
        self.error: BaseException | None = None
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog) and not isinstance(dialog, self.kind):
            self._timer.stop()  # another dialog: closed, so the test fails, not hangs
            self.error = AssertionError(f"a {type(dialog).__name__} was shown, not a "
                                        f"{self.kind.__name__}")
            dialog.reject()
            return
        if not isinstance(dialog, self.kind):
            return
        self._timer.stop()
        self.seen = dialog
        try:
            self.act(dialog)
        except BaseException as exc:  # handed to the test
            self.error = exc
        if dialog.isVisible():
            dialog.reject()

    def check(self) -> D:
        """The dialog that was acted on; raises what ``act`` raised."""
        self._timer.stop()
        if self.error is not None:
            raise self.error
        assert self.seen is not None, f"no {self.kind.__name__} was shown"
        return self.seen
