"""Population-based training with real processes: :class:`Population`, which a
:class:`~app.engine.runner.Runner` owns under ``scheduler: pbt``.

An exploit, step by step (each step stored before the next begins, so a driver killed
at any instant is followed by a resume that finishes it, see :func:`settle_segments`):

1. the :class:`~app.engine.schedulers.pbt.PbtScheduler` answers EXPLOIT for a trial's
   KPI value; the new segment (explored params, donor, the donor's checkpoint step and
   folder) is stored (crash point ``exploit-stored``);
2. the trial is stopped with SIGINT, as pruning does, and its process ends; the
   running segment's end (the last step it reported) is stored;
3. the trial is submitted again as that segment, on the donor's host: the executor
   makes the segment's own folder, copies the donor's published checkpoint into it as
   ``restore/`` (on that host: locally, by the SSH helper on the server, or on a Slurm
   cluster's login node before ``sbatch``), stores the
   folder on the segment (the launch intent, crash point ``segment-intent-stored``),
   then starts the process with ``SWEEPLAB_RESTORE_DIR`` and ``SWEEPLAB_START_STEP``;
4. its start is stored on the trial (its folder, pid; the log read from 0 again).

The trial stays RUNNING throughout: one trial, several segments. The searcher is
told once, when the trial really ends; max trials counts it once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

from app.engine.crashpoint import CrashPoint, crash_point
from app.engine.experiment import ExperimentConfig
from app.engine.journal import Journal
from app.engine.live import LiveTrial, StopReason
from app.engine.params import flatten
from app.engine.pbt import Segment, SegmentRepository
from app.engine.ports import NoRoom, TrialRepository
from app.engine.protocol import published_checkpoint
from app.engine.records import LaunchClaim, ProcessEvent, ProcessEventKind, TrialRecord
from app.engine.schedulers.pbt import PbtScheduler, explore
from app.engine.trial import TrialState

Submit = Callable[[LiveTrial, Segment, str | None, Callable[[str, str], None]], None]
"""Submits a live trial again as a segment (the dispatcher's) on the host of its
donor's checkpoint, with the launch intent callback; raises NoRoom when that host has
no room now."""


class Population:
    """Carries PBT's exploits out for one runner (see the module's text).

    Args:
        repo: where trials are stored.
        segments: where segments are stored.
        config: the experiment (its space, KPI and PBT settings).
        scheduler: the PBT decisions (also the runner's scheduler).
        journal: logs and publishes.
        live: the runner's running trials by id (the runner's own dict).
        stop: stops a live trial for a reason (the runner's rule).
        may_continue: whether a trial may start its next segment now (not while the run
            stops).

    Thread safety: the runner thread, except the launch intent (an executor's thread).
    """

    def __init__(self, repo: TrialRepository, segments: SegmentRepository,
                 config: ExperimentConfig, scheduler: PbtScheduler, journal: Journal,
                 live: dict[int, LiveTrial], stop: Callable[[LiveTrial, StopReason], None],
                 may_continue: Callable[[], bool], experiment_id: int) -> None:
        self._repo = repo
        self._segments = segments
        self._config = config
        self._scheduler = scheduler
        self._journal = journal
        self._live = live
        self._stop = stop
        self._may_continue = may_continue
        self._submit: Submit | None = None
        self._newest: dict[int, Segment] = {}
        for segment in segments.segments(experiment_id):
            self._newest[segment.trial_id] = segment
        self._folders: dict[int, str] = {}
        """Per trial number: the folder its checkpoints are published in (this run)."""
        self._planned: dict[int, Segment] = {}
        """Stored segments whose trial is to be stopped and started again, by trial id."""
        self._waiting: list[tuple[int, Segment]] = []
        """Trials whose next segment found no room, submitted first by :meth:`tick`."""

    def connect(self, submit: Submit) -> None:
        """The dispatcher's submission of a segment (set once, by the runner)."""
        self._submit = submit

    # --- events of a live trial ---------------------------------------------------

    def started(self, live: LiveTrial, event: ProcessEvent) -> bool:
        """A trial's process started. For a continuing segment (the trial is RUNNING
        already) its new folder and pid are stored here and True is returned; for a
        fresh start False (the runner stores it; then :meth:`fresh`)."""
        if live.record.state is not TrialState.RUNNING:
            return False
        segment = self._newest.get(live.record.id)
        if segment is not None and segment.trial_dir is None:
            self._newest[live.record.id] = dataclasses.replace(segment,
                                                               trial_dir=event.trial_dir)
        live.record = self._repo.update_trial(live.record.id, host=event.host,
                                              gpus=tuple(event.gpus), pid=event.pid,
                                              trial_dir=event.trial_dir, log_offset=0,
                                              error=None)
        self._journal.trial(live.record)
        return True

    def fresh(self, live: LiveTrial) -> None:
        """A trial started fresh: its segment 0 is stored (once)."""
        if live.record.id not in self._newest:
            segment = self._segments.add_segment(live.record.id, 0, 0, live.record.params,
                                                 None, None)
            self._newest[live.record.id] = self._segments.update_segment(
                segment.trial_id, 0, trial_dir=live.record.trial_dir)

    def attached(self, live: LiveTrial) -> None:
        """A trial an earlier run left RUNNING is followed again. If its newest segment
        was decided but not launched, it is stopped (if still running) and continues
        as that segment once its process has ended."""
        self._scheduler.decision(live.number)  # values replayed on attach decide nothing
        if live.record.id not in self._newest:
            self.fresh(live)
        segment = self._newest[live.record.id]
        if segment.index > 0 and segment.trial_dir is None:
            self._planned[live.record.id] = segment
            self._stop(live, StopReason.EXPLOIT)

    def checkpointed(self, live: LiveTrial, step: int) -> None:
        """The trial published its checkpoint of ``step``: it may be a donor now."""
        if live.record.trial_dir is None or live.stop_reason is not None:
            return
        self._folders[live.number] = live.record.trial_dir
        self._scheduler.on_checkpoint(live.number, step)

    def exploit(self, live: LiveTrial) -> None:
        """The scheduler said EXPLOIT for ``live``: store its next segment, end the
        running one and stop the trial (it continues once its process has ended)."""
        decision = self._scheduler.decision(live.number)
        if decision is None:
            return
        donor = next((other for other in self._live.values()
                      if other.number == decision.donor), None)
        folder = self._folders.get(decision.donor)
        current = self._newest.get(live.record.id)
        given = None if donor is None else self._newest.get(donor.record.id)
        if donor is None or folder is None or current is None or given is None:
            return  # the donor ended meanwhile: no exploit this time
        # exploit takes the donor's hyperparameters with its weights; explore perturbs them
        params = explore(given.params, self._config.space, self._config.scheduler.pbt,
                         self._scheduler.rng)
        source = published_checkpoint(folder, decision.step)
        segment = self._segments.add_segment(live.record.id, current.index + 1, decision.step,
                                             params, donor.record.id, decision.step, source)
        self._newest[live.record.id] = segment
        self._planned[live.record.id] = segment
        crash_point(CrashPoint.EXPLOIT_STORED)
        self._journal.log(f"trial {live.number}: exploits trial {donor.number}'s checkpoint "
                          f"of step {decision.step} (segment {segment.index}, params "
                          f"{_changed(current.params, params)})", live.record.id)
        self._stop(live, StopReason.EXPLOIT)

    def continues(self, live: LiveTrial) -> bool:
        """The trial's process ended: True when it goes on as its planned segment (it
        is submitted again and stays live); False when it ends for good (stopped for
        another reason meanwhile, or the run stops: it ends STOPPED)."""
        segment = self._planned.get(live.record.id)
        if segment is None or live.stop_reason is not StopReason.EXPLOIT:
            self._planned.pop(live.record.id, None)
            return False
        if not self._may_continue():
            del self._planned[live.record.id]
            live.stop_reason = StopReason.USER
            return False
        del self._planned[live.record.id]
        # the running segment ends at the last step its process reported
        self._segments.update_segment(live.record.id, segment.index - 1, end_step=live.step)
        live.stop_reason = None
        live.step = segment.start_step
        live.total = None
        donor = segment.donor_number if segment.donor_number is not None else 0
        self._scheduler.continued(live.number, donor, segment.start_step)
        self._launch(live, segment)
        return True

    def tick(self) -> None:
        """Submit the segments that found no room before (runner loop)."""
        waiting, self._waiting = self._waiting, []
        for trial_id, segment in waiting:
            live = self._live.get(trial_id)
            if live is not None and live.stop_reason is None:
                self._launch(live, segment)
            elif live is not None:
                self._waiting.append((trial_id, segment))  # ended by ended_waiting()

    def ended_waiting(self) -> list[ProcessEvent]:
        """An EXITED event for each trial stopped while its next segment waited for room
        (no process of it runs, so no executor says it ended); the runner handles them
        as the executors' own."""
        stopped = [(trial_id, segment) for trial_id, segment in self._waiting
                   if (live := self._live.get(trial_id)) is not None
                   and live.stop_reason is not None]
        events = []
        for trial_id, segment in stopped:
            self._waiting.remove((trial_id, segment))
            live = self._live[trial_id]
            events.append(ProcessEvent(trial_id, ProcessEventKind.EXITED,
                                       live.record.host or "", exit_code=None,
                                       message="stopped while its next segment waited"))
        return events

    def ended(self, trial_id: int, step: int | None) -> None:
        """The trial ended for good: its newest segment's end step is stored. A segment
        decided but never started (the trial reached max epochs, or was stopped, before
        it could change) is forgotten: the one before it was the last."""
        self._planned.pop(trial_id, None)
        segment = self._newest.get(trial_id)
        if segment is None:
            return
        if segment.index > 0 and segment.trial_dir is None:
            self._segments.delete_segment(trial_id, segment.index)
            self._newest[trial_id] = self._segments.update_segment(
                trial_id, segment.index - 1, end_step=step)
        elif segment.end_step is None and segment.trial_dir is not None:
            self._newest[trial_id] = self._segments.update_segment(trial_id, segment.index,
                                                                   end_step=step)

    # --- internals --------------------------------------------------------------------

    def _launch(self, live: LiveTrial, segment: Segment) -> None:
        if self._submit is None:
            raise RuntimeError("Population.connect was never called")
        host = self._host_of(segment.donor_trial_id)
        try:
            self._submit(live, segment, host, partial(self._launching, live.record.id,
                                                      segment.index))
        except (NoRoom, OSError) as exc:  # no room, or its checkpoint unreadable there
            self._waiting.append((live.record.id, segment))
            self._journal.log(f"trial {live.number}: segment {segment.index} waits: {exc}",
                              live.record.id)

    def _host_of(self, trial_id: int | None) -> str | None:
        """Where a donor runs or ran: its checkpoint is copied there."""
        if trial_id is None:
            return None
        donor = self._live.get(trial_id)
        record = donor.record if donor is not None else self._repo.get_trial(trial_id)
        return record.host

    def _launching(self, trial_id: int, index: int, host: str, trial_dir: str) -> None:
        """The launch intent of a segment (an executor's thread): its folder, stored
        before its process starts (the runner thread's copy learns it at the start)."""
        self._segments.update_segment(trial_id, index, trial_dir=trial_dir)
        crash_point(CrashPoint.SEGMENT_INTENT_STORED)


def _changed(old: dict[str, object], new: dict[str, object]) -> str:
    """The params that differ, as ``name old -> new``."""
    before, after = flatten(old), flatten(new)
    parts = [f"{k} {before.get(k)!r} -> {v!r}" for k, v in after.items() if before.get(k) != v]
    return ", ".join(parts) or "unchanged"


Claim = Callable[[TrialRecord], LaunchClaim]


def settle_segments(repo: TrialRepository, segments: SegmentRepository, experiment_id: int,
                    claim: Claim) -> None:
    """For a resume under PBT, before the RUNNING trials are followed again: a trial
    whose newest segment's launch intent was stored but not its start may run there.
    The segment's folder is claimed as a launch is (see
    :class:`~app.engine.records.LaunchClaim`): if its wrapper won, the trial is
    followed in that folder from the start of its log; if the claim won, the segment's
    folder is forgotten, and the trial (its earlier segment's process ended) continues
    as that segment once followed (:meth:`Population.attached`)."""
    newest = {segment.trial_id: segment for segment in segments.segments(experiment_id)}
    for trial in repo.list_trials(experiment_id, [TrialState.RUNNING]):
        segment = newest.get(trial.id)
        if (segment is None or segment.index == 0 or segment.trial_dir is None
                or segment.trial_dir == trial.trial_dir):
            continue
        found = claim(dataclasses.replace(trial, trial_dir=segment.trial_dir))
        if found is LaunchClaim.STARTED:
            repo.update_trial(trial.id, trial_dir=segment.trial_dir, log_offset=0, pid=None)
        elif found is LaunchClaim.ABANDONED:
            segments.update_segment(trial.id, segment.index, trial_dir=None)
