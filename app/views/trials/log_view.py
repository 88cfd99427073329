"""A trial's log: the tail of ``output.log``, growing live, with a find box."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

TAIL_BYTES = 512 * 1024
MAX_LINES = 20_000
MAX_HIGHLIGHTS = 2_000
HIGHLIGHT = "#fff176"


def read_log_tail(path: Path, max_bytes: int = TAIL_BYTES) -> str:
    """The last ``max_bytes`` of a log file from a line start, as text ("" if no file yet).

    Raises:
        ValueError: when max_bytes is not positive.
        OSError: when the file exists but cannot be read.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            start = max(0, size - max_bytes)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return ""
    if start > 0:  # drop the partial first line
        newline = data.find(b"\n")
        data = data[newline + 1:] if newline >= 0 else b""
    return data.decode("utf-8", errors="replace")


class LogView(QWidget):
    """Read-only log text (last :data:`MAX_LINES` lines) and a case-insensitive find box.

    Typing in the box highlights every match and jumps to the first; Enter, "Next"
    and "Previous" step through them, wrapping at the ends.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setMaximumBlockCount(MAX_LINES)
        font = self.editor.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.editor.setFont(font)
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText("Find in log…")
        self.find_box.setClearButtonEnabled(True)
        self.previous_button = QPushButton("Previous")
        self.next_button = QPushButton("Next")
        self.matches = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(self.find_box, 1)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.matches)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.editor, 1)
        self.find_box.textChanged.connect(self._on_search_text)
        self.find_box.returnPressed.connect(self.find_next)
        self.next_button.clicked.connect(self.find_next)
        self.previous_button.clicked.connect(self.find_previous)

    def set_text(self, text: str) -> None:
        """Replace the log, showing its end."""
        self.editor.setPlainText(text)
        self._scroll_to_end()
        self._refresh_matches()

    def append_log(self, text: str) -> None:
        """Append output as it arrives; the view follows the end if it was there."""
        if not text:
            return
        bar = self.editor.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if following:
            self._scroll_to_end()
        if self.find_box.text():
            self._refresh_matches()

    def text(self) -> str:
        """The log as shown."""
        return self.editor.toPlainText()

    def match_count(self, needle: str | None = None) -> int:
        """How many times ``needle`` (default: the find box's text) occurs, any case."""
        needle = self.find_box.text() if needle is None else needle
        return self.text().lower().count(needle.lower()) if needle else 0

    def find_text(self, needle: str, backward: bool = False) -> bool:
        """Select the next (or previous) match after the cursor, wrapping; False if none."""
        if not needle:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        document = self.editor.document()
        found = document.find(needle, self.editor.textCursor(), flags)
        if found.isNull():
            start = QTextCursor(document)
            start.movePosition(QTextCursor.MoveOperation.End if backward
                               else QTextCursor.MoveOperation.Start)
            found = document.find(needle, start, flags)
        if found.isNull():
            return False
        self.editor.setTextCursor(found)
        self.editor.centerCursor()
        self._show_position()
        return True

    def find_next(self) -> bool:
        """The next match of the find box's text."""
        return self.find_text(self.find_box.text())

    def find_previous(self) -> bool:
        """The previous match of the find box's text."""
        return self.find_text(self.find_box.text(), backward=True)

    def selected_text(self) -> str:
        """The current match (or selection)."""
        return self.editor.textCursor().selectedText()

    def _on_search_text(self, needle: str) -> None:
        cursor = self.editor.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        self.editor.setTextCursor(cursor)
        self._refresh_matches()
        self.find_text(needle)

    def _refresh_matches(self) -> None:
        needle = self.find_box.text()
        selections: list[QTextEdit.ExtraSelection] = []
        if needle:
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(HIGHLIGHT))
            document = self.editor.document()
            cursor = document.find(needle, 0)
            while not cursor.isNull() and len(selections) < MAX_HIGHLIGHTS:
                selection = QTextEdit.ExtraSelection()
                selection.cursor = cursor
                selection.format = fmt
                selections.append(selection)
                cursor = document.find(needle, cursor)
        self.editor.setExtraSelections(selections)
        self._show_position()

    def _show_position(self) -> None:
        needle = self.find_box.text()
        total = self.match_count()
        if not needle:
            self.matches.setText("")
            return
        if total == 0:
            self.matches.setText("no match")
            return
        cursor = self.editor.textCursor()
        if cursor.hasSelection() and cursor.selectedText().lower() == needle.lower():
            before = self.text()[:cursor.selectionStart()].lower().count(needle.lower())
            self.matches.setText(f"{before + 1} of {total}")
        else:
            self.matches.setText(f"{total} matches")

    def _scroll_to_end(self) -> None:
        bar = self.editor.verticalScrollBar()
        bar.setValue(bar.maximum())
