"""The runner's handling of process events: :class:`TrialEvents`, mixed into
:class:`~app.engine.runner.Runner`.

Each event of a live trial is stored and published: its start, its output (metric
points, the KPI asked of the early-stopping scheduler, max epochs), a batch queue's
pending reason, a host giving it back, and its end (the searcher told at once, the
store written after the next trials have started).
"""

from __future__ import annotations

import time
from typing import Any

from app.engine.crashpoint import CrashPoint, crash_point
from app.engine.dispatch import Dispatcher
from app.engine.experiment import ExperimentConfig
from app.engine.failing import FailingStart
from app.engine.journal import Journal
from app.engine.live import LiveTrial, StopReason, searcher_value
from app.engine.orders import now
from app.engine.ports import TrialRepository
from app.engine.protocol import LineParser
from app.engine.records import ProcessEvent, ProcessEventKind, Snapshot, TrialRecord
from app.engine.reruns import RerunQueue
from app.engine.schedulers import Decision, Scheduler
from app.engine.search.base import Searcher
from app.engine.trial import ExperimentState, TrialState


class TrialEvents:
    """Process events to stored trials; the runner sets these attributes."""

    _repo: TrialRepository
    _config: ExperimentConfig
    _searcher: Searcher
    _scheduler: Scheduler
    _snapshot: Snapshot
    _grace: float
    _parser: LineParser
    _journal: Journal
    _live: dict[int, LiveTrial]
    _state: ExperimentState
    _stopping: bool
    _budget_spent: bool
    _failing: FailingStart
    _failure: str | None
    _reruns: RerunQueue
    _dispatch: Dispatcher

    def _handle_events(self, events: list[ProcessEvent]) -> None:
        endings: list[tuple[LiveTrial, dict[str, Any]]] = []
        for event in events:
            live = self._live.get(event.trial_id)
            if live is None:
                continue
            if event.kind is ProcessEventKind.STARTED:
                self._started_trial(live, event)
            elif event.kind is ProcessEventKind.OUTPUT:
                self._output(live, event)
            elif event.kind is ProcessEventKind.EXITED:
                crash_point(CrashPoint.EXIT_SEEN)
                endings.append(self._conclude(live, event.exit_code, None,
                                              note=event.message))
            elif event.kind is ProcessEventKind.START_FAILED:
                endings.append(self._conclude(live, None, f"could not start: {event.message}"))
            elif event.kind is ProcessEventKind.LOST:
                endings.append(self._conclude(live, None, event.message, lost=True))
                self._reruns.add(live.record.params, live.record.rerun_of or live.number,
                                 (event.host,))  # elsewhere first: that host is away
            elif event.kind is ProcessEventKind.PENDING:
                self._pending(live, event)
            elif event.kind is ProcessEventKind.RETURNED:
                if live.stop_reason is not None:  # stopped as it was given back
                    endings.append(self._conclude(live, None, event.message))
                else:
                    del self._live[live.record.id]
                    self._dispatch.take_back(self._given_back(live), event.host, event.message)
        for live, fields in endings:  # before any next trial starts
            reason = self._failing.observe(fields["state"], fields["error"],
                                           rerun=live.record.rerun_of is not None)
            if reason is not None and not self._stopping:
                self._fail_run(reason)
        if endings and self._state is ExperimentState.RUNNING and not self._stopping:
            # The searcher knows the results already: start the next trials first and
            # write the finished ones after, off the path from one trial to the next.
            self._fill_slots()
        for live, fields in endings:
            live.record = self._journal.ended(live.record, fields)
            crash_point(CrashPoint.ENDED_STORED)
            if fields["state"] is TrialState.FAILED and not self._stopping:
                decision = self._reruns.after_failure(live.record, live.record.host)
                if decision is not None:
                    self._log(decision, live.record.id)

    def _pending(self, live: LiveTrial, event: ProcessEvent) -> None:
        """A QUEUED trial waits (in Slurm's queue, for a server's GPU): its reason goes on
        the record, where the grid's tooltip shows it, and to the Log tab (not stored
        there)."""
        if live.record.state is TrialState.QUEUED:
            crash_point(CrashPoint.PENDING_SEEN)
            # the job id and folder too: a run resumed after a crash follows the job
            # still in the queue instead of submitting its trial again
            live.record = self._repo.update_trial(live.record.id, host=event.host,
                                                  error=event.message, pid=event.pid,
                                                  trial_dir=event.trial_dir)
            self._journal.trial(live.record)
            self._journal.log(f"trial {live.number}: {event.message}", live.record.id,
                              persist=False)

    def _given_back(self, live: LiveTrial) -> TrialRecord:
        """A host gave the QUEUED trial back: it is nowhere now (its waiting note, host
        and folder there are cleared, for the grid and for a resume)."""
        record = self._repo.update_trial(live.record.id, host=None, error=None, pid=None,
                                         trial_dir=None)
        self._journal.trial(record)
        return record

    def _started_trial(self, live: LiveTrial, event: ProcessEvent) -> None:
        live.started = time.monotonic()
        crash_point(CrashPoint.STARTED_SEEN)
        live.record = self._journal.started(live.record, event, self._snapshot)
        if live.stop_reason is not None:  # stopped while it was starting
            live.executor.stop(live.record.id, self._grace)

    def _output(self, live: LiveTrial, event: ProcessEvent) -> None:
        reading = live.read(event.lines, self._parser, time.time())
        for message in reading.warnings:
            self._log(message, live.record.id)
        for step, value in reading.kpi:
            self._ask_scheduler(live, step, value)
        live.record = self._journal.output(live.record, reading.points, event.offset,
                                           live.kpi_value())
        if reading.progress is not None:
            self._journal.progress(live.record, reading.progress)
        crash_point(CrashPoint.OUTPUT_STORED)
        if self._reached_max_epochs(live):
            self._stop_trial(live, StopReason.MAX_EPOCHS)

    def _ask_scheduler(self, live: LiveTrial, step: int, value: float) -> None:
        """Early stopping: each KPI value, at its step, goes to the scheduler."""
        if live.stop_reason is not None:
            return  # already stopping: its later values decide nothing
        decision = self._scheduler.on_result(live.number, step, value)
        if decision is Decision.STOP and not self._reached_max_epochs(live):
            self._stop_trial(live, StopReason.PRUNED)  # one that ran its budget is not pruned

    def _reached_max_epochs(self, live: LiveTrial) -> bool:
        max_epochs = self._config.limits.max_epochs
        return max_epochs is not None and live.step is not None and live.step >= max_epochs

    def _conclude(self, live: LiveTrial, exit_code: int | None, error: str | None, *,
                  lost: bool = False, note: str = "") -> tuple[LiveTrial, dict[str, Any]]:
        """Decide how a trial ended and tell the searcher; the store is written later.

        A lost trial's host vanished: it ends LOST and is queued again (by the caller).
        ``note`` is the host's word on an ending it caused (Slurm's time limit, say): it
        leads the message of a trial that failed.
        """
        state, message = live.final(exit_code, error, lost=lost)
        if state is TrialState.PRUNED and exit_code == 0 and self._reached_max_epochs(live):
            # the pruning SIGINT came too late: the trial had run its whole budget
            state, message = TrialState.COMPLETED, None
        if note and state is TrialState.FAILED:
            message = f"{note}; {message}" if message else note
        kpi = live.kpi_value()
        del self._live[live.record.id]
        self._scheduler.on_complete(live.number, kpi)
        # a pruned trial is told with its last value, so TPE learns from partial trials
        if live.number not in self._dispatch.untold:
            self._searcher.on_trial_complete(live.number, searcher_value(state, kpi), state)
        return live, {"state": state, "ended_at": now(), "exit_code": exit_code, "kpi": kpi,
                      "error": message}

    def _fail_run(self, reason: str) -> None:
        """End the run FAILED with ``reason``: the trials still running are stopped."""
        self._failure = reason
        self._log(reason)
        self._stopping = True
        for live in list(self._live.values()):
            self._stop_trial(live, StopReason.FAILING_START)

    def _stop_trial(self, live: LiveTrial, reason: StopReason) -> None:
        if live.stop_reason is not None:
            return
        live.stop_reason = reason
        live.executor.stop(live.record.id, self._grace)
        self._log(f"trial {live.number}: {reason.value}, stopping it", live.record.id)

    def _fill_slots(self) -> None:
        if not self._budget_spent:
            self._dispatch.fill(self._live)

    def _log(self, message: str, trial_id: int | None = None) -> None:
        self._journal.log(message, trial_id)
