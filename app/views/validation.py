"""The line under a field that says what is wrong with it, in a space kept for it.

A :class:`ValidationLine` is always laid out, one text line high, empty while the field
is fine: a message appearing or going never moves the fields below it, so a click
aimed at a field lands in that field, and a dialog's buttons stay where they are. A
message wider than the line ends in "…" and is shown whole in the tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ERROR_STYLE = "color: #c62828;"
WARNING_STYLE = "color: #8a6d00;"


class ValidationLine(QLabel):
    """A one-line message under a field (see the module docstring).

    :meth:`message` is the whole message; ``text()`` is what fits.
    """

    def __init__(self, parent: QWidget | None = None, *, warning: bool = False) -> None:
        super().__init__(parent)
        self._message = ""
        self.setStyleSheet(WARNING_STYLE if warning else ERROR_STYLE)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().lineSpacing() + 2)

    def message(self) -> str:
        """The whole message ('' when the field is fine)."""
        return self._message

    def set_message(self, message: str) -> None:
        """Show ``message`` ('' clears it); the space it takes stays the same."""
        self._message = message
        self.setToolTip(message)
        self._fit()

    def add_message(self, message: str) -> None:
        """Append ``message`` to the one shown, after a ``;``."""
        self.set_message(f"{self._message}; {message}" if self._message else message)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Fit the message to the new width."""
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = max(self.contentsRect().width(), 1)
        self.setText(self.fontMetrics().elidedText(self._message, Qt.TextElideMode.ElideRight,
                                                    width))
