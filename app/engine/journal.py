"""What a run writes and tells: :class:`Journal` stores trial and experiment changes
and publishes each as a :class:`~app.engine.events.RunnerEvent`.

The runner decides; the journal records. Every method is one repository transaction
(or none) followed by the events that describe it, on the runner thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.engine.events import RunnerEvent, RunnerEventKind, Subscriber, Subscribers
from app.engine.orders import now
from app.engine.ports import TrialRepository
from app.engine.protocol import ProgressReport
from app.engine.records import MetricPoint, ProcessEvent, Snapshot, TrialRecord
from app.engine.trial import ExperimentState, TrialState


class Journal:
    """Stores and publishes the changes of one experiment's run."""

    def __init__(self, repo: TrialRepository, experiment_id: int, kpi_name: str) -> None:
        self._repo = repo
        self._experiment_id = experiment_id
        self._kpi_name = kpi_name
        self._subscribers = Subscribers()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event; returns a function that unsubscribes."""
        return self._subscribers.add(callback)

    def publish(self, event: RunnerEvent) -> None:
        """Tell every subscriber."""
        self._subscribers.publish(event)

    def set_state(self, state: ExperimentState, message: str, *,
                  before_publish: Callable[[], None] | None = None) -> None:
        """Store the experiment's new state, log why, publish it; ``before_publish``
        runs between the store and the subscribers (the runner lets the experiment go
        there at its end)."""
        self._repo.update_experiment(self._experiment_id, state=state)
        self.log(message)
        if before_publish is not None:
            before_publish()
        self.publish(RunnerEvent(RunnerEventKind.EXPERIMENT, self._experiment_id, state=state,
                                 message=message))

    def log(self, message: str, trial_id: int | None = None, *, persist: bool = True) -> None:
        """One line of the experiment's history (stored unless ``persist`` is False)."""
        if persist:
            self._repo.add_event(self._experiment_id, "log", message, trial_id=trial_id)
        self.publish(RunnerEvent(RunnerEventKind.LOG, self._experiment_id, message=message))

    def trial(self, record: TrialRecord) -> None:
        """Publish a trial as it is now."""
        self.publish(RunnerEvent(RunnerEventKind.TRIAL, self._experiment_id, trial=record))

    def started(self, record: TrialRecord, event: ProcessEvent,
                snapshot: Snapshot) -> TrialRecord:
        """The trial's process runs: where, as which pid, from which code (a batch
        queue's reason for holding it, kept in ``error`` while queued, is cleared)."""
        record = self._repo.update_trial(
            record.id, state=TrialState.RUNNING, host=event.host, gpus=tuple(event.gpus),
            pid=event.pid, trial_dir=event.trial_dir, started_at=now(),
            commit=snapshot.commit, dirty=snapshot.dirty, error=None,
        )
        self.trial(record)
        return record

    def output(self, record: TrialRecord, points: Sequence[MetricPoint], offset: int,
               kpi: float | None) -> TrialRecord:
        """Points read from the log, with the offset after them, in one transaction."""
        record = self._repo.add_output(record.id, points, offset, kpi)
        if points:
            self.publish(RunnerEvent(RunnerEventKind.METRICS, self._experiment_id,
                                     trial=record, metrics=tuple(points)))
        return record

    def progress(self, record: TrialRecord, report: ProgressReport) -> None:
        """Publish how far a running trial has come (not stored: the steps are, in its
        metric points; the total is for the live views)."""
        self.publish(RunnerEvent(RunnerEventKind.PROGRESS, self._experiment_id, trial=record,
                                 progress=report))

    def ended(self, record: TrialRecord, fields: dict[str, Any],
              points: Sequence[MetricPoint] = ()) -> TrialRecord:
        """Store how a trial ended, with the ``points`` of its last output not stored
        yet (their log offset in ``fields``), in one transaction; log it (only unusual
        endings are kept, in that same transaction)."""
        state: TrialState = fields["state"]
        kpi: float | None = fields.get("kpi", record.kpi)
        text = f"trial {record.number} {state.value}"
        if kpi is not None:
            text += f", {self._kpi_name} = {kpi:.6g}"
        message = fields["error"]
        line = text if not message else f"{text}: {message.strip()}"
        # A routine completion is in the trials table already: publish it, store
        # only what a person must be able to read later (failures, stops, prunes).
        # The whole message: a failure's cause may be only in the last lines of its log.
        routine = state is TrialState.COMPLETED and not message
        record = self._repo.end_trial(record.id, fields, points,
                                      log=None if routine else line)
        if points:
            self.publish(RunnerEvent(RunnerEventKind.METRICS, self._experiment_id,
                                     trial=record, metrics=tuple(points)))
        self.log(line, record.id, persist=False)
        self.trial(record)
        return record
