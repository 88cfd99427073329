"""A log with a find box: a trial's ``output.log`` (the tail, growing live) or an
experiment's history.

Long lines wrap at the view's width. A trial's log may hide the ``#sweeplab`` lines the
SDK prints (the protocol, read as metrics elsewhere), leaving the script's own output:
the "Hide #sweeplab lines" toggle, on by default. An experiment's history is a list of
entries, each with its local time; a multi-line message (a failure with the last lines
of the trial's log) is shown whole, its further lines indented under the first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextDocument, QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.protocol import MARKER, unmarked
from app.views.trials.text import format_clock

TAIL_BYTES = 512 * 1024
MAX_LINES = 20_000
MAX_HIGHLIGHTS = 2_000
HIGHLIGHT = "#fff176"
HIDE_PROTOCOL_TEXT = f"Hide {MARKER.strip()} lines"


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


def log_entry(moment: datetime, message: str) -> str:
    """One entry of an experiment's history: ``11:00:03  first line``, every further
    line of the message indented under the first, a newline at the end."""
    clock = format_clock(moment)
    first, *rest = message.rstrip("\n").split("\n")
    indent = " " * (len(clock) + 2)
    return "".join([f"{clock}  {first}\n", *(f"{indent}{line}\n" for line in rest)])


def _without_protocol(lines: Iterable[str]) -> list[str]:
    """The lines as the script printed them, without its ``#sweeplab`` reports (a line
    that was only a report is left out)."""
    kept = []
    for line in lines:
        text = unmarked(line)
        if text == line or text.strip():
            kept.append(text)
    return kept


def _qt_length(text: str) -> int:
    """``text``'s length in Qt's positions (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class LogView(QWidget):
    """Read-only log text (last :data:`MAX_LINES` lines) and a case-insensitive find box.

    Typing in the box highlights every match and jumps to the first; Enter, "Next"
    and "Previous" step through them, wrapping at the ends. With ``protocol_toggle``
    (a trial's log) the :attr:`hide_protocol` check box hides ``#sweeplab`` lines.
    """

    def __init__(self, parent: QWidget | None = None, *, protocol_toggle: bool = False) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
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
        self.hide_protocol = QCheckBox(HIDE_PROTOCOL_TEXT)
        self.hide_protocol.setToolTip(
            f"Leave out the {MARKER.strip()} lines the SDK prints for each report and "
            "progress (they are read as metrics): the script's own output remains")
        self.hide_protocol.setChecked(True)
        self.hide_protocol.setVisible(protocol_toggle)
        self._protocol_toggle = protocol_toggle
        self._lines: deque[str] = deque(maxlen=MAX_LINES)  # complete lines, as written
        self._partial = ""  # what came after the last newline, as written
        self._partial_shown = ""  # how that is shown at the end of the editor
        bar = QHBoxLayout()
        bar.addWidget(self.find_box, 1)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.matches)
        bar.addWidget(self.hide_protocol)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.editor, 1)
        self.find_box.textChanged.connect(self._on_search_text)
        self.find_box.returnPressed.connect(self.find_next)
        self.next_button.clicked.connect(self.find_next)
        self.previous_button.clicked.connect(self.find_previous)
        self.hide_protocol.toggled.connect(self._show_all)

    def set_text(self, text: str) -> None:
        """Replace the log, showing its end."""
        self._lines.clear()
        self._partial = ""
        self._store(text)
        self._show_all()

    def append_log(self, text: str) -> None:
        """Append output as it arrives; the view follows the end if it was there."""
        if not text:
            return
        bar = self.editor.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 2
        shown = self._shown(self._store(text))
        partial = self._partial_view()
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if self._partial_shown:  # the unfinished last line is shown again, finished
            cursor.movePosition(QTextCursor.MoveOperation.Left,
                                QTextCursor.MoveMode.KeepAnchor,
                                _qt_length(self._partial_shown))
        cursor.insertText(shown + partial)
        self._partial_shown = partial
        if following:
            self._scroll_to_end()
        if self.find_box.text():
            self._refresh_matches()

    def set_entries(self, entries: Iterable[tuple[datetime, str]]) -> None:
        """Replace the log with an experiment's history: ``(time, message)`` pairs."""
        self.set_text("".join(log_entry(moment, message) for moment, message in entries))

    def append_entry(self, message: str, moment: datetime | None = None) -> None:
        """Add one entry to the history, stamped ``moment`` (default: now)."""
        self.append_log(log_entry(moment or datetime.now(UTC), message))

    @property
    def hiding_protocol(self) -> bool:
        """Whether ``#sweeplab`` lines are left out now."""
        return self._protocol_toggle and self.hide_protocol.isChecked()

    def _store(self, text: str) -> list[str]:
        """Keep ``text`` as written; returns the lines it completed."""
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        self._lines.extend(pieces)
        return pieces

    def _shown(self, lines: Sequence[str]) -> str:
        kept = _without_protocol(lines) if self.hiding_protocol else lines
        return "".join(line + "\n" for line in kept)

    def _partial_view(self) -> str:
        """The unfinished last line as shown: as written, or without a report started."""
        return unmarked(self._partial) if self.hiding_protocol else self._partial

    def _show_all(self) -> None:
        self._partial_shown = self._partial_view()
        self.editor.setPlainText(self._shown(list(self._lines)) + self._partial_shown)
        self._scroll_to_end()
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
