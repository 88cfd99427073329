"""Per-GPU memory and utilisation bars for one server: :class:`GpuBars`."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.application.servers import GpuInfo

ROW_HEIGHT = 18
LABEL_WIDTH = 44
GAP = 6
MEMORY_COLOUR = QColor("#1e88e5")
UTIL_COLOUR = QColor("#43a047")
BUSY_COLOUR = QColor("#fb8c00")
TROUGH_COLOUR = QColor("#e0e0e0")
BUSY_PCT = 80


def memory_text(gpu: GpuInfo) -> str:
    """``"10.0 / 24.0 GiB"``, or what is unknown."""
    if gpu.memory_total_mib is None or gpu.memory_used_mib is None:
        return "memory unknown"
    return f"{gpu.memory_used_mib / 1024:.1f} / {gpu.memory_total_mib / 1024:.1f} GiB"


def utilisation_text(gpu: GpuInfo) -> str:
    """``"97 %"``, or ``"? %"`` when nvidia-smi did not say."""
    return "? %" if gpu.utilization_pct is None else f"{gpu.utilization_pct} %"


def gpu_summary(gpu: GpuInfo) -> str:
    """One line for a tooltip or a test: ``GPU 0 (name): memory ..., utilisation ...``."""
    return (f"GPU {gpu.index} ({gpu.name}): memory {memory_text(gpu)}, "
            f"utilisation {utilisation_text(gpu)}")


class GpuBars(QWidget):
    """Two bars per GPU, memory used and utilisation, each with its number on it.

    With no GPUs it shows the note instead (``no GPUs found; trials run on CPU``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._gpus: tuple[GpuInfo, ...] = ()
        self._note = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_gpus(self, gpus: Sequence[GpuInfo], note: str = "") -> None:
        """Show these GPUs (or the note when there are none) and repaint."""
        self._gpus = tuple(gpus)
        self._note = note
        self.setToolTip("\n".join(gpu_summary(gpu) for gpu in self._gpus) or note)
        self.updateGeometry()
        self.update()

    def text(self) -> str:
        """What the bars say, one GPU a line (the note when there are none)."""
        return "\n".join(gpu_summary(gpu) for gpu in self._gpus) or self._note

    def sizeHint(self) -> QSize:
        return QSize(320, max(1, len(self._gpus)) * ROW_HEIGHT + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            text_colour = self.palette().color(QPalette.ColorRole.WindowText)
            if not self._gpus:
                painter.setPen(text_colour)
                painter.drawText(self.rect().adjusted(2, 0, -2, 0),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 self._note)
                return
            width = max(0, self.width() - LABEL_WIDTH - 3 * GAP)
            bar = width // 2
            for row, gpu in enumerate(self._gpus):
                top = 2 + row * ROW_HEIGHT
                painter.setPen(text_colour)
                painter.drawText(QRect(2, top, LABEL_WIDTH, ROW_HEIGHT - 2),
                                 Qt.AlignmentFlag.AlignVCenter, f"GPU {gpu.index}")
                memory = None
                if gpu.memory_total_mib and gpu.memory_used_mib is not None:
                    memory = gpu.memory_used_mib / gpu.memory_total_mib
                used = gpu.utilization_pct
                left = LABEL_WIDTH + GAP
                self._bar(painter, QRect(left, top, bar, ROW_HEIGHT - 3), memory,
                          MEMORY_COLOUR, memory_text(gpu))
                colour = BUSY_COLOUR if used is not None and used >= BUSY_PCT else UTIL_COLOUR
                self._bar(painter, QRect(left + bar + GAP, top, bar, ROW_HEIGHT - 3),
                          None if used is None else used / 100, colour, utilisation_text(gpu))
        finally:
            painter.end()

    @staticmethod
    def _bar(painter: QPainter, rect: QRect, fraction: float | None, colour: QColor,
             label: str) -> None:
        painter.fillRect(rect, TROUGH_COLOUR)
        if fraction is not None:
            filled = QRect(rect)
            filled.setWidth(round(rect.width() * min(1.0, max(0.0, fraction))))
            painter.fillRect(filled, colour)
        painter.setPen(QColor("#212121"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
