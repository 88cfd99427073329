"""A word-wrapped label that is never clipped: :class:`WrappedLabel`."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget


class WrappedLabel(QLabel):
    """A word-wrapped label whose minimum height is what its text needs at its width.

    Qt lays a wrapped label out by height-for-width, which form layouts honour only in
    part and a dialog not at all: squeezed, a long note loses its last lines. Keeping
    the minimum height at ``heightForWidth(width())`` makes every layout above make
    room for it. ``lines`` reserves that many lines even while the text is empty (a
    problem line under a field: the fields below do not move when one appears).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, lines: int = 0) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._lines = lines
        self._fit()

    def setText(self, text: str) -> None:
        """Show ``text`` and make room for it."""
        super().setText(text)
        self._fit()

    def clear(self) -> None:
        """Show nothing (the reserved lines stay)."""
        super().clear()
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        needed = self.heightForWidth(self.width()) if self.text() else 0
        needed = max(needed, self._lines * self.fontMetrics().lineSpacing())
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)
