"""Cutting a growing log into complete lines, with byte offsets, in bounded memory.

:class:`LineSplitter` is fed raw bytes as they arrive (from a local file or an SSH
``tail`` stream) and hands back complete lines, decoded as UTF-8 with replacement.
Its :attr:`~LineSplitter.offset` is the byte position just after the last line it
returned, so a follower restarted there neither loses nor repeats a line. A line
longer than ``max_line`` bytes keeps its first ``max_line`` bytes plus a marker; the
rest is counted and dropped as it arrives, so a 100 MB line costs ``max_line`` bytes.
"""

from __future__ import annotations

MAX_LINE_BYTES = 64 * 1024
TRUNCATED_MARKER = " [... {dropped} bytes cut by sweeplab]"


class LineSplitter:
    """Stateful splitter of a byte stream into lines (not thread-safe: one reader).

    Args:
        offset: the byte offset of the first byte that will be fed.
        max_line: longest line kept whole, in bytes (without its newline).

    Raises:
        ValueError: ``offset`` is negative or ``max_line`` is not positive.
    """

    def __init__(self, offset: int = 0, max_line: int = MAX_LINE_BYTES) -> None:
        if offset < 0:
            raise ValueError(f"LineSplitter: offset must be >= 0, got {offset}")
        if max_line <= 0:
            raise ValueError(f"LineSplitter: max_line must be > 0, got {max_line}")
        self._offset = offset
        self._max = max_line
        self._partial = bytearray()
        self._dropped = 0

    @property
    def offset(self) -> int:
        """Byte offset just after the last line returned."""
        return self._offset

    @property
    def pending_bytes(self) -> int:
        """Bytes fed since :attr:`offset` (the unfinished line, dropped part included)."""
        return len(self._partial) + self._dropped

    def feed(self, data: bytes) -> list[str]:
        """Take the next bytes of the stream; return the lines they complete, in order."""
        if not data:
            return []
        pieces = data.split(b"\n")
        lines: list[str] = []
        if len(pieces) > 1:
            first = pieces[0]
            self._keep(first)
            lines.append(self._take_partial())
            for piece in pieces[1:-1]:
                lines.append(self._decode(piece, max(0, len(piece) - self._max)))
                self._offset += len(piece) + 1
        self._keep(pieces[-1])
        return lines

    def finish(self) -> list[str]:
        """The unfinished last line, if any, as a line (the stream has ended)."""
        if not self.pending_bytes:
            return []
        line = self._take_partial(newline=False)
        return [line]

    def _keep(self, piece: bytes) -> None:
        room = self._max - len(self._partial)
        if room >= len(piece):
            self._partial += piece
        else:
            self._partial += piece[: max(room, 0)]
            self._dropped += len(piece) - max(room, 0)

    def _take_partial(self, newline: bool = True) -> str:
        line = self._decode(bytes(self._partial), self._dropped)
        self._offset += len(self._partial) + self._dropped + (1 if newline else 0)
        self._partial.clear()
        self._dropped = 0
        return line

    def _decode(self, raw: bytes, dropped: int) -> str:
        if dropped:
            raw = raw[: self._max]
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        if dropped:
            text += TRUNCATED_MARKER.format(dropped=dropped)
        return text
