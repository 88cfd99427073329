"""Slurm clusters in the Servers window, with their queues: :class:`ClusterPanel`.

One worker thread asks each saved cluster for its queue (a
:class:`~app.application.clusters.QueueSource`: ``squeue`` on the login node, this
machine or over SSH with the login server's profile and secrets) every few
seconds and hands the counts to the GUI thread through a queued signal; the GUI thread
never waits on the network. Workers never touch a widget.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.application.clusters import ClusterProfile, Clusters, QueueSource
from app.engine.ports import StoreError
from app.views.bridge import GuiInbox, Mailbox, start_worker

if TYPE_CHECKING:
    from app.application.clusters import QueueCounts

log = logging.getLogger(__name__)

COLUMNS = ("Cluster", "Login", "Partition", "Status", "Queue", "Sweeplab jobs")
NAME, LOGIN, PARTITION, STATUS, QUEUE, OURS = range(len(COLUMNS))
POLL_MS = 100
"""How often the GUI thread takes the queues the worker read."""
REFRESH_S = 10.0
"""Seconds between two rounds of ``squeue`` (one per cluster): a modest rate."""


class ClusterPanel(QWidget):
    """The saved clusters and their queues, refreshed in the background.

    Args:
        clusters: the saved clusters.
        source: where queues come from (default: ``clusters.queue_source()``).
        interval: seconds between two refresh rounds.
        parent: the owning widget.

    Signals:
        countsChanged(object QueueCounts): a cluster's new queue, on the GUI thread.
    """

    countsChanged = Signal(object)

    def __init__(self, clusters: Clusters, source: QueueSource | None = None, *,
                 interval: float = REFRESH_S, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if interval <= 0:
            raise ValueError(f"queue refresh interval must be > 0 seconds, got {interval}")
        self._clusters = clusters
        self._source = source if source is not None else clusters.queue_source()
        self._interval = interval
        self._counts: dict[str, QueueCounts] = {}
        self._watch = _QueueWatch()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel("No Slurm clusters: add one with `sweeplab clusters add`.")
        self.empty.setStyleSheet("color: #616161;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Slurm clusters</b>"))
        layout.addWidget(self.table)
        layout.addWidget(self.empty)
        self.countsChanged.connect(self.show_counts)
        self._inbox: GuiInbox[QueueCounts] = GuiInbox(self._deliver, POLL_MS, self)
        self._inbox.start()  # the worker's counts reach the GUI thread through it
        self.reload()
        self._thread = start_worker(_keep_counting, self._watch, self._source, self._interval,
                                    self._inbox.mailbox, name="sweeplab-cluster-queues")

    def reload(self) -> None:
        """Read the saved clusters again and refresh their queues soon."""
        try:
            saved = self._clusters.list()
        except StoreError as exc:
            log.warning("cannot read the saved clusters: %s", exc)
            saved = []
        with self._watch.lock:
            self._watch.saved = saved
        self.table.setRowCount(len(saved))
        for row, profile in enumerate(saved):
            texts = (profile.name, profile.login or "this machine",
                     profile.partition or "default", "checking…", "", "")
            for column, text in enumerate(texts):
                self.table.setItem(row, column, QTableWidgetItem(text))
            if profile.name in self._counts:
                self._show_row(row, self._counts[profile.name])
        self.empty.setVisible(not saved)
        self.table.setVisible(bool(saved))
        self._watch.wake.set()

    @Slot(object)
    def show_counts(self, counts: QueueCounts) -> None:
        """Show a cluster's queue in its row (counts of removed clusters are dropped)."""
        row = self._row_of(counts.name)
        if row is None:
            return
        self._counts[counts.name] = counts
        self._show_row(row, counts)

    def _show_row(self, row: int, counts: QueueCounts) -> None:
        status, queue, ours = (self.table.item(row, column) for column in (STATUS, QUEUE, OURS))
        if status is None or queue is None or ours is None:
            return
        status.setText("online" if counts.online else f"offline: {counts.error}")
        status.setToolTip(status.text())
        status.setForeground(QBrush(QColor("#2e7d32" if counts.online else "#c62828")))
        queue.setText(f"{counts.pending} pending, {counts.running} running"
                      if counts.online else "—")
        queue.setToolTip("every user's jobs waiting and running in its partition")
        ours.setText(f"{counts.ours_pending} pending, {counts.ours_running} running"
                     if counts.online else "—")
        ours.setToolTip("Sweeplab's jobs of the login user")

    def _row_of(self, name: str) -> int | None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, NAME)
            if item is not None and item.text() == name:
                return row
        return None

    def row_texts(self, name: str) -> dict[str, str]:
        """What the row of cluster ``name`` shows, by column title (for tests and logs)."""
        row = self._row_of(name)
        if row is None:
            raise KeyError(f"no row for cluster {name!r}")
        return {title: (item.text() if (item := self.table.item(row, column)) else "")
                for column, title in enumerate(COLUMNS)}

    def refresh_now(self) -> None:
        """Ask every cluster again without waiting for the interval."""
        self._watch.wake.set()

    def close_queues(self) -> threading.Thread:
        """Stop the worker and close the source in the background (never blocks)."""
        self._watch.ended.set()
        self._watch.wake.set()
        return start_worker(self._source.close, name="sweeplab-cluster-queues-close")

    def _deliver(self, counts: list[QueueCounts]) -> None:
        for one in counts:
            self.countsChanged.emit(one)


class _QueueWatch:
    """What the panel and its worker thread share (no Qt object: see bridge.py)."""

    def __init__(self) -> None:
        self.saved: list[ClusterProfile] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.ended = threading.Event()


def _keep_counting(watch: _QueueWatch, source: QueueSource, interval: float,
                   mailbox: Mailbox[QueueCounts]) -> None:
    """The worker thread: every cluster's queue, every ``interval`` s, until ended."""
    while not watch.ended.is_set():
        watch.wake.clear()
        with watch.lock:
            saved = list(watch.saved)
        for profile in saved:
            if watch.ended.is_set():
                return
            mailbox.post(source.refresh(profile))
        watch.wake.wait(interval)
