"""The window's side of opening an experiment: the application layer's loader
(:mod:`app.application.loading`) reads on its worker thread; its parts reach the GUI
thread here, as queued signals, and only those of the latest load get through.

Each part is one event of the GUI thread's loop, so the window draws between them
(the grid first, then the curves batch by batch) and stays responsive however big
the experiment.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from app.application.loading import LoadEnded, LoadPart, PointsRead, TrialsRead
from app.application.workspace import Workspace


class ExperimentLoading(QObject):
    """Loads one experiment at a time for the window; a new load cancels the last.

    Signals:
        trialsRead(object TrialsRead): the trials and the log.
        pointsRead(object PointsRead): a batch of points of whole trials.
        loadEnded(object LoadEnded): the load is over (``failure`` says if it failed).
    """

    trialsRead = Signal(object)
    pointsRead = Signal(object)
    loadEnded = Signal(object)
    _arrived = Signal(object)  # emitted on the loader's thread, delivered queued

    def __init__(self, workspace: Workspace, parent: QObject | None = None, *,
                 batch_points: int | None = None) -> None:
        super().__init__(parent)
        options = {} if batch_points is None else {"batch_points": batch_points}
        self._loader = workspace.loader(self._arrived.emit, **options)
        self._arrived.connect(self._hand_over)
        self._loading: int | None = None

    @property
    def loading(self) -> int | None:
        """The experiment being loaded now, or None."""
        return self._loading

    def load(self, experiment_id: int) -> None:
        """Read ``experiment_id`` (cancelling the load in progress)."""
        self._loading = experiment_id
        self._loader.load(experiment_id)

    def cancel(self) -> None:
        """Read no further; nothing more of the load in progress is handed over."""
        self._loading = None
        self._loader.cancel()

    def close(self) -> None:
        """Cancel, and let the worker release the store (the window closes)."""
        self._loading = None
        self._loader.close()

    @Slot(object)
    def _hand_over(self, part: LoadPart) -> None:
        if part.ticket != self._loader.ticket or self._loading is None:
            return  # a cancelled load's last part, already on its way
        if isinstance(part, TrialsRead):
            self.trialsRead.emit(part)
        elif isinstance(part, PointsRead):
            self.pointsRead.emit(part)
        elif isinstance(part, LoadEnded):
            self._loading = None
            self.loadEnded.emit(part)
