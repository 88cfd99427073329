"""The PBT tab: lineage, the best trial's schedule and the KPI by segment, read off the
GUI thread and redrawn every few seconds while the tab is visible."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.application.lineage import PbtPicture, write_lineage, write_schedule
from app.views.bridge import GuiInbox, Mailbox, start_worker
from app.views.pbt.charts import LineageChart, ScheduleChart, SegmentCurvesChart

log = logging.getLogger(__name__)

Reader = Callable[[int], PbtPicture]
"""Reads one experiment's picture (any thread; the store behind it)."""
REFRESH_MS = 3000
POLL_MS = 50


class PbtPanel(QWidget):
    """Lineage on top; the schedule and the KPI by segment below; export buttons.

    :meth:`show_experiment` points it at an experiment; it reads that experiment's
    picture with ``reader`` on a worker thread when shown and every
    :data:`REFRESH_MS` while visible, and draws what comes back through a
    :class:`GuiInbox` (a read for an experiment no longer shown is dropped).
    """

    def __init__(self, reader: Reader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reader = reader
        self._experiment: int | None = None
        self._reading = False
        self.picture: PbtPicture | None = None
        self.lineage = LineageChart()
        self.schedule = ScheduleChart()
        self.curves = SegmentCurvesChart()
        self.status = QLabel("")
        self.export_schedule = QPushButton("Export schedule…")
        self.export_lineage = QPushButton("Export lineage…")
        self.export_schedule.clicked.connect(self._export_schedule)
        self.export_lineage.clicked.connect(self._export_lineage)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.export_schedule)
        bar.addWidget(self.export_lineage)
        below = QSplitter(Qt.Orientation.Horizontal)
        below.addWidget(self.schedule)
        below.addWidget(self.curves)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.lineage)
        split.addWidget(below)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self._inbox: GuiInbox[tuple[int, PbtPicture | Exception]] = GuiInbox(
            self._drain, POLL_MS, self)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._update_buttons()

    def show_experiment(self, experiment_id: int | None) -> None:
        """Follow ``experiment_id`` (None: nothing); read it now when visible."""
        if experiment_id != self._experiment:
            self.picture = None
            self._draw(None)
        self._experiment = experiment_id
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Read the shown experiment's picture off the GUI thread (one read at a time)."""
        if self._experiment is None or self._reading:
            return
        self._reading = True
        experiment_id = self._experiment
        self._inbox.start()
        start_worker(_read, self._reader, experiment_id, self._inbox.mailbox,
                     name="pbt-picture")

    def _drain(self, items: list[tuple[int, PbtPicture | Exception]]) -> None:
        self._reading = False
        experiment_id, result = items[-1]
        if experiment_id != self._experiment:
            return
        if isinstance(result, Exception):
            self.status.setText(f"cannot read the population: {result}")
            return
        self.picture = result
        self._draw(result)

    def _draw(self, picture: PbtPicture | None) -> None:
        if picture is None:
            self.status.setText("")
            self._update_buttons()
            return
        found = picture.lineage
        self.lineage.set_lineage(found)
        self.schedule.set_schedule(picture.schedule, picture.why_no_schedule)
        best = None if picture.schedule is None else picture.schedule.trial
        self.curves.set_curves(picture.curves, picture.kpi_name, best)
        copies = len(found.copies)
        self.status.setText(f"{len(found.trials)} trials, {len(found.spans)} segments, "
                            f"{copies} exploit{'s' if copies != 1 else ''}"
                            + ("" if best is None else f"; best: trial {best}"))
        self._update_buttons()

    def _update_buttons(self) -> None:
        picture = self.picture
        self.export_schedule.setEnabled(picture is not None and picture.schedule is not None)
        self.export_lineage.setEnabled(picture is not None and bool(picture.lineage.spans))

    def _export_schedule(self) -> None:
        if self.picture is None or self.picture.schedule is None:
            return
        schedule = self.picture.schedule
        path = self._ask_path("Export the best trial's schedule", "schedule.csv")
        if path is not None:
            self._write(lambda: write_schedule(schedule, path), path)

    def _export_lineage(self) -> None:
        if self.picture is None:
            return
        found = self.picture.lineage
        path = self._ask_path("Export the lineage", "lineage.csv")
        if path is not None:
            self._write(lambda: write_lineage(found, path), path)

    def _ask_path(self, title: str, name: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(self, title, name,
                                                "CSV (*.csv);;JSON (*.json)")
        return Path(chosen) if chosen else None

    def _write(self, write: Callable[[], None], path: Path) -> None:
        try:
            write()
        except OSError as error:
            QMessageBox.warning(self, "Export", f"Cannot write {path}: {error}")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)


def _read(reader: Reader, experiment_id: int,
          mailbox: Mailbox[tuple[int, PbtPicture | Exception]]) -> None:
    """The worker thread: read one experiment's picture, or why it could not."""
    try:
        result: PbtPicture | Exception = reader(experiment_id)
    except Exception as error:  # shown in the status line, never lost in a thread
        log.debug("reading the PBT picture failed", exc_info=True)
        result = error
    mailbox.post((experiment_id, result))
