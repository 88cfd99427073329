"""The Qt face of :class:`~app.application.live.LiveExperiment`: :class:`LiveView`.

The main window holds one :class:`LiveView`; the shown experiment's
:class:`LiveExperiment` sits in it, fed by the engine bridge's batches of events
(on the GUI thread) and by the user's stop requests. Every panel that shows the run
reads the model and redraws on :attr:`LiveView.changed`. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import QObject, Signal, Slot

from app.application.live import HistoryEnd, LiveChange, LiveExperiment, TrialsSummary
from app.engine.events import RunnerEvent
from app.engine.records import ExperimentRecord, MetricPoint, TrialRecord


class LiveView(QObject):
    """Holds the shown experiment's live model and says when it changed.

    Signals:
        changed(object LiveChange): the model changed; once per load, per batch of
            events and per stop request. ``reset`` means another experiment (or its
            records loaded again): read everything anew.
    """

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model: LiveExperiment | None = None

    def show(self, model: LiveExperiment | None) -> None:
        """Show ``model`` (None: nothing), loaded or to be loaded with :meth:`load`."""
        self.model = model
        self.changed.emit(LiveChange(reset=True, summary=True))

    def load(self, trials: Sequence[TrialRecord], points: Iterable[MetricPoint] = (), *,
             summary: TrialsSummary | None = None) -> None:
        """Load the shown experiment's stored trials and points (a reset): the one entry
        point for records read elsewhere (any thread may read them, and work out their
        ``summary``; call this on the GUI thread)."""
        if self.model is not None:
            self.changed.emit(self.model.load(trials, points, summary=summary))

    def see_history(self, ends: Mapping[int, HistoryEnd]) -> None:
        """Where stored points read while the shown experiment is opened end (its
        trials' progress)."""
        if self.model is not None:
            change = self.model.see_history(ends)
            if change:
                self.changed.emit(change)

    def set_record(self, record: ExperimentRecord) -> None:
        """The shown experiment as stored now (its state, name or driver changed)."""
        if self.model is not None and record.id == self.model.experiment_id:
            change = self.model.set_record(record)
            if change:
                self.changed.emit(change)

    @Slot(object)
    def take(self, events: list[RunnerEvent]) -> None:
        """A batch of engine events (the bridge's :attr:`~EngineBridge.events`)."""
        model = self.model
        if model is None:
            return
        change = LiveChange()
        for event in events:
            change = change.merged(model.apply(event))
        if change:
            self.changed.emit(change)

    def request_stop(self, trial_id: int | None = None) -> None:
        """The user asked one trial (or, None, the run) to stop."""
        if self.model is not None:
            change = self.model.request_stop(trial_id)
            if change:
                self.changed.emit(change)
