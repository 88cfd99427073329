"""The runner's handling of process events: :class:`TrialEvents`, an object the
:class:`~app.engine.runner.Runner` owns and gives its collaborators.

Each event of a live trial is stored and published: its start, its output (metric
points, the KPI asked of the early-stopping scheduler, max epochs), a batch queue's
pending reason, a host giving it back, and its end. An ending is decided and told to
the searcher and the scheduler at once (:meth:`TrialEvents.handle`); the runner then
starts the next trials and has the endings stored after (:meth:`TrialEvents.store`),
off the path from one trial to the next.

Output is read at once (the scheduler asked, max epochs checked) and stored once it
has waited :data:`OUTPUT_HOLD_S` (by the first :meth:`TrialEvents.handle` after that,
so within that and one poll interval of the runner's loop), all of a trial's output
of that time in one transaction; when the trial's end comes first, its output is
stored with the end, in one transaction (:meth:`~app.engine.journal.Journal.ended`): a
trial that prints its result and exits costs one write, not two, and one that prints
fast one write per 0.1 s, not one per batch of lines. A crash before that transaction
leaves the trial RUNNING with the log offset before that output, and the resume that
follows it again reads that output and the exit code from its folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.engine.crashpoint import CrashPoint, crash_point
from app.engine.dispatch import Dispatcher
from app.engine.experiment import ExperimentConfig
from app.engine.journal import Journal
from app.engine.live import LiveTrial, StopReason, searcher_value
from app.engine.orders import now
from app.engine.population import Population
from app.engine.ports import TrialRepository
from app.engine.protocol import LineParser
from app.engine.records import (
    MetricPoint,
    ProcessEvent,
    ProcessEventKind,
    Snapshot,
    TrialRecord,
)
from app.engine.reruns import Rerun, RerunQueue
from app.engine.schedulers import Decision, Scheduler
from app.engine.search.base import Searcher
from app.engine.trial import EarlyStopping, TrialState


@dataclass(frozen=True)
class Ending:
    """How one trial ended: decided and told to the searcher, not stored yet.

    ``fields`` are the trial's stored fields to write: state, ended_at, exit_code,
    kpi, error, and the log offset after ``points`` when there are any; ``points``:
    the metric points of its last output, read but not stored yet.
    """

    live: LiveTrial
    fields: dict[str, Any]
    points: tuple[MetricPoint, ...] = ()
    aside: str = ""
    """The host's word on the ending where the message cannot carry it (a stopped
    trial's message is the stop's reason, which :func:`app.engine.best.budget_cut`
    reads): it goes to the trial's history instead."""

    @property
    def state(self) -> TrialState:
        """The state the trial ends in."""
        state: TrialState = self.fields["state"]
        return state

    @property
    def error(self) -> str | None:
        """Why it ended as it did, for a person; None when it completed."""
        error: str | None = self.fields["error"]
        return error


OUTPUT_HOLD_S = 0.1
"""How long output read waits for more (or for its trial's end) before it is stored."""


@dataclass
class _Unstored:
    """A trial's output read but not stored yet: its points, the log offset after them,
    when the first of it was read (``time.monotonic``)."""

    points: list[MetricPoint]
    offset: int
    read_at: float


class TrialEvents:
    """Process events to stored trials, for one runner.

    Args:
        repo: where trials are stored.
        config: the experiment's definition (its KPI, metrics and max epochs).
        journal: stores and publishes each change.
        searcher: told each ending at once.
        scheduler: asked about each KPI value, told each ending.
        snapshot: the code the trials run, stored with each start.
        live: the runner's trials running now, by id: events of any other trial are
            ignored; an ended or given-back trial is removed from it.
        reruns: where a lost trial is queued again and a failed one may be retried.
        dispatch: takes back a trial a host gave back; knows the re-runs whose results
            the searcher is not told.
        stop: stops a live trial for a reason (the runner's own rule, shared with it).
        grace: seconds between the stop signals, for a trial stopped while starting.

    Thread safety: the runner thread only, like the runner's loop.
    """

    def __init__(self, repo: TrialRepository, config: ExperimentConfig, journal: Journal,
                 searcher: Searcher, scheduler: Scheduler, snapshot: Snapshot,
                 live: dict[int, LiveTrial], reruns: RerunQueue, dispatch: Dispatcher,
                 stop: Callable[[LiveTrial, StopReason], None], grace: float) -> None:
        self._repo = repo
        self._config = config
        self._journal = journal
        self._searcher = searcher
        self._scheduler = scheduler
        self._snapshot = snapshot
        self._live = live
        self._reruns = reruns
        self._dispatch = dispatch
        self._stop_trial = stop
        self._grace = grace
        self._parser = LineParser(config.kpi.name, config.metrics)
        self.population: Population | None = None
        """Under ``scheduler: pbt``: carries exploits out (set by the runner)."""
        self._unstored: dict[int, _Unstored] = {}
        """Output read and not stored yet, of live trials, by trial id."""

    def handle(self, events: list[ProcessEvent]) -> list[Ending]:
        """Store and publish each event; return the trials that ended, told to the
        searcher but not stored yet (see :meth:`store`). Output that has waited
        :data:`OUTPUT_HOLD_S` is stored first, but that of a trial that exits in this
        batch, stored with its end."""
        exiting = {event.trial_id for event in events
                   if event.kind is ProcessEventKind.EXITED}
        due = time.monotonic() - OUTPUT_HOLD_S
        self._store_outputs([trial_id for trial_id, unstored in self._unstored.items()
                             if unstored.read_at <= due and trial_id not in exiting])
        endings: list[Ending] = []
        for event in events:
            self._handle(event, endings)
        return endings

    def flush(self) -> None:
        """Store every output read and not stored yet (the runner stops driving)."""
        self._store_outputs(list(self._unstored))

    def _store_outputs(self, trial_ids: list[int]) -> None:
        for trial_id in trial_ids:
            live = self._live.get(trial_id)
            if live is None:  # gone without an ending (cannot happen): nothing to store on
                del self._unstored[trial_id]
            else:
                self._store_output(live)

    def _handle(self, event: ProcessEvent, endings: list[Ending]) -> None:
        """One event of :meth:`handle`: an ending goes to ``endings``."""
        live = self._live.get(event.trial_id)
        if live is None:
            return
        if event.kind is ProcessEventKind.STARTED:
            self._started_trial(live, event)
        elif event.kind is ProcessEventKind.OUTPUT:
            self._output(live, event)
        elif event.kind is ProcessEventKind.EXITED:
            crash_point(CrashPoint.EXIT_SEEN)
            if self.population is not None:
                self._store_output(live)  # before its next segment's offset (0)
                if self.population.continues(live):
                    return  # PBT: the trial goes on as its next segment
            endings.append(self._conclude(live, event.exit_code, None, note=event.message))
        elif event.kind is ProcessEventKind.START_FAILED:
            endings.append(self._conclude(live, None, f"could not start: {event.message}"))
        elif event.kind is ProcessEventKind.LOST:
            endings.append(self._conclude(live, None, event.message, lost=True))
            # elsewhere first: that host is away
            self._reruns.add(Rerun.of_trial(live.record, (event.host,)))
        elif event.kind is ProcessEventKind.PENDING:
            self._pending(live, event)
        elif event.kind is ProcessEventKind.RETURNED:
            if live.stop_reason is not None:  # stopped as it was given back
                endings.append(self._conclude(live, None, event.message))
            else:
                self._store_output(live)  # none: it never started; keeps _unstored live
                del self._live[live.record.id]
                self._dispatch.take_back(self._given_back(live), event.host, event.message)

    def store(self, endings: list[Ending], *, retry: bool) -> None:
        """Write the endings; ``retry``: a failed trial may be queued again (the run is
        not stopping)."""
        for ending in endings:
            live = ending.live
            live.record = self._journal.ended(live.record, ending.fields, ending.points)
            crash_point(CrashPoint.ENDED_STORED)
            if ending.aside:
                self._journal.log(ending.aside, live.record.id)
            if ending.state is TrialState.FAILED and retry:
                decision = self._reruns.after_failure(live.record, live.record.host)
                if decision is not None:
                    self._journal.log(decision, live.record.id)

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
        live.started = live.started or time.monotonic()
        crash_point(CrashPoint.STARTED_SEEN)
        if self.population is not None and self.population.started(live, event):
            return  # PBT: a segment of a running trial
        live.record = self._journal.started(live.record, event, self._snapshot)
        if self.population is not None:
            self.population.fresh(live)
        if live.stop_reason is not None:  # stopped while it was starting
            live.executor.stop(live.record.id, self._grace)

    def _output(self, live: LiveTrial, event: ProcessEvent) -> None:
        """New lines of a trial's log: read at once; stored once they have waited
        :data:`OUTPUT_HOLD_S`, or with the trial's end when that comes first."""
        reading = live.read(event.lines, self._parser, time.time())
        for message in reading.warnings:
            self._journal.log(message, live.record.id)
        for step, value in reading.kpi:
            self._ask_scheduler(live, step, value)
        if self.population is not None:
            for step in reading.checkpoints:
                self.population.checkpointed(live, step)
        unstored = self._unstored.setdefault(live.record.id,
                                             _Unstored([], event.offset, time.monotonic()))
        unstored.points.extend(reading.points)
        unstored.offset = event.offset
        if reading.progress is not None:
            self._journal.progress(live.record, reading.progress)
        if self._reached_max_epochs(live):
            self._stop_trial(live, StopReason.MAX_EPOCHS)

    def _store_output(self, live: LiveTrial) -> None:
        """Store the trial's output read and not stored yet, if any, with its offset."""
        unstored = self._unstored.pop(live.record.id, None)
        if unstored is None:
            return
        live.record = self._journal.output(live.record, unstored.points, unstored.offset,
                                           live.kpi_value())
        crash_point(CrashPoint.OUTPUT_STORED)

    def _ask_scheduler(self, live: LiveTrial, step: int, value: float) -> None:
        """Early stopping: each KPI value, at its step, goes to the scheduler (never
        those of a trial exempt from it: a re-run the user wants to see to its end)."""
        if live.stop_reason is not None:
            return  # already stopping: its later values decide nothing
        if live.record.early_stopping is EarlyStopping.EXEMPT:
            return
        decision = self._scheduler.on_result(live.number, step, value)
        if decision is Decision.STOP and not self._reached_max_epochs(live):
            self._stop_trial(live, StopReason.PRUNED)  # one that ran its budget is not pruned
        elif (decision is Decision.EXPLOIT and self.population is not None
              and not self._reached_max_epochs(live)):
            self.population.exploit(live)

    def _reached_max_epochs(self, live: LiveTrial) -> bool:
        max_epochs = self._config.limits.max_epochs
        return max_epochs is not None and live.step is not None and live.step >= max_epochs

    def _conclude(self, live: LiveTrial, exit_code: int | None, error: str | None, *,
                  lost: bool = False, note: str = "") -> Ending:
        """Decide how a trial ended and tell the searcher; the store is written later.

        A lost trial's host vanished: it ends LOST and is queued again (by the caller).
        ``note`` is the host's word on the ending (Slurm's time limit, a log it could not
        follow to the end): it leads the message of a trial that failed, and goes to the
        history of any other.
        """
        state, message = live.final(exit_code, error, lost=lost)
        if state is TrialState.PRUNED and exit_code == 0 and self._reached_max_epochs(live):
            # the pruning SIGINT came too late: the trial had run its whole budget
            state, message = TrialState.COMPLETED, None
        aside = ""
        if note and state is TrialState.FAILED:
            message = f"{note}; {message}" if message else note
        elif note:
            aside = f"trial {live.number}: {note}"
        kpi = live.kpi_value()
        del self._live[live.record.id]
        if self.population is not None:
            self.population.ended(live.record.id, live.step)
        self._scheduler.on_complete(live.number, kpi)
        # a pruned trial is told with its last value, so TPE learns from partial trials
        if live.number not in self._dispatch.untold:
            self._searcher.on_trial_complete(live.number, searcher_value(state, kpi), state)
        fields = {"state": state, "ended_at": now(), "exit_code": exit_code, "kpi": kpi,
                  "error": message}
        unstored = self._unstored.pop(live.record.id, None)
        if unstored is None:
            return Ending(live, fields, aside=aside)
        return Ending(live, fields | {"log_offset": unstored.offset}, tuple(unstored.points),
                      aside)
