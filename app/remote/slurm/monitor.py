"""Following every job of a Slurm executor: :class:`JobTable` and :class:`Monitor`.

Each :meth:`Monitor.check` reads all trial directories at once (``pid`` says the
wrapper runs, the log streams, ``exit_code`` ends it) and, every ``squeue_interval``,
asks ``squeue`` about all jobs at once (pending reasons, endings Slurm caused); then it
ends what has ended (:func:`~app.remote.slurm.tracking.ending`) and moves stop
escalations on (:func:`~app.remote.slurm.tracking.stop_step`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from app.engine.records import ProcessEvent, ProcessEventKind
from app.remote.events import EventQueue
from app.remote.slurm.access import AccessError, ClusterAccess
from app.remote.slurm.commands import (
    JobState,
    ReadRequest,
    ReadResult,
    parse_sacct,
    parse_squeue,
    pending_message,
    sacct_script,
    scancel_script,
    squeue_script,
)
from app.remote.slurm.tracking import Job, StopStep, ending, stop_step

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 30.0
READ_LIMIT = 1 << 20
"""Most log bytes read from one job per check."""


class JobTable:
    """The jobs of one executor (by trial id) and the queue their events go to.

    Thread safety: ``lock`` guards ``jobs`` and every :class:`Job`'s fields.
    """

    def __init__(self, name: str, events: EventQueue) -> None:
        self.name = name
        self.events = events
        self.lock = threading.Lock()
        self.jobs: dict[int, Job] = {}

    def emit(self, job: Job, kind: ProcessEventKind, **fields: Any) -> None:
        """Queue one event about ``job`` (pid: its Slurm job id)."""
        self.events.put(ProcessEvent(trial_id=job.trial_id, kind=kind, host=self.name,
                                     pid=job.job_id, trial_dir=job.trial_dir or None,
                                     **fields))

    def started(self, job: Job) -> None:
        """Mark the job started and say so."""
        with self.lock:
            job.started = True
        self.emit(job, ProcessEventKind.STARTED)

    def finish(self, job: Job, kind: ProcessEventKind, **fields: Any) -> None:
        """Release the job's slot, then queue its last lines and its last event (once)."""
        with self.lock:
            if job.done:
                return
            job.done = True
            if self.jobs.get(job.trial_id) is job:
                del self.jobs[job.trial_id]
        tail = job.splitter.finish()
        if tail:
            self.emit(job, ProcessEventKind.OUTPUT, lines=tuple(tail), offset=job.splitter.offset)
        self.emit(job, kind, **fields)


class Monitor:
    """One check of every job at a time (called from one thread).

    Args:
        table: the executor's jobs.
        access: the login node.
        squeue_interval: seconds between two ``squeue`` calls.
        offline_timeout: seconds the login node may stay unreachable before every
            followed trial is LOST.
    """

    def __init__(self, table: JobTable, access: ClusterAccess, *, squeue_interval: float,
                 offline_timeout: float) -> None:
        self.table = table
        self.access = access
        self.squeue_interval = squeue_interval
        self.offline_timeout = offline_timeout
        self._next_squeue = 0.0
        self._offline_since: float | None = None

    def squeue_soon(self) -> None:
        """Ask squeue at the next check (a job was re-attached)."""
        self._next_squeue = 0.0

    def check(self) -> None:
        """Read, ask Slurm when due, end what has ended, escalate stops."""
        now = time.monotonic()
        with self.table.lock:
            jobs = [job for job in self.table.jobs.values() if job.job_id is not None
                    or (job.trial_dir and job.started)]
            requests = [ReadRequest(job.trial_id, job.trial_dir, job.read_at, READ_LIMIT)
                        for job in jobs]
        if not jobs:
            return
        try:
            results = self.access.read(requests)
            states = None
            if now >= self._next_squeue:
                self._next_squeue = now + self.squeue_interval
                states = self._slurm_states([job.job_id for job in jobs
                                             if job.job_id is not None])
        except AccessError as exc:
            self._unreachable(jobs, now, str(exc))
            return
        self._offline_since = None
        read = {result.key: result for result in results}
        for job in jobs:
            try:
                if job.trial_id in read:
                    self._take_read(job, read[job.trial_id], now)
                if states is not None and job.job_id is not None:
                    self._take_state(job, states.get(job.job_id), now)
                end = ending(job, now)
            except Exception as exc:  # a bug with one job ends that job, not the others
                log.exception("%s: following trial %s failed", self.table.name, job.trial_id)
                self.give_up([job], exc)
                continue
            if end is not None:
                self.table.finish(job, end.kind, exit_code=end.exit_code, message=end.message)
        self._escalate(jobs, now)

    def give_up(self, jobs: list[Job] | None, exc: Exception) -> None:
        """End ``jobs`` (None: every job followed now) after an error nobody foresaw in
        following them: each ends EXITED with the reason (FAILED), its slot free."""
        if jobs is None:
            with self.table.lock:
                jobs = [job for job in self.table.jobs.values() if job.job_id is not None
                        or (job.trial_dir and job.started)]
        for job in jobs:
            job_words = f"Slurm job {job.job_id}" if job.job_id is not None else "its job"
            self.table.finish(job, ProcessEventKind.EXITED, exit_code=None, message=(
                f"following trial {job.trial_id} on {self.table.name} failed "
                f"({type(exc).__name__}: {exc}); {job_words} may still run"))

    def _slurm_states(self, job_ids: list[int]) -> dict[int, JobState] | None:
        """One squeue for every job (sacct for those it forgot); None if squeue failed."""
        if not job_ids:
            return {}
        result = self.access.run(squeue_script(job_ids), timeout=COMMAND_TIMEOUT_S)
        try:
            states = parse_squeue(result.stdout, result.stderr, result.exit_code)
        except ValueError as exc:
            log.warning("%s: %s", self.table.name, exc)
            return None
        missing = [job_id for job_id in job_ids if job_id not in states]
        if missing:
            found = self.access.run(sacct_script(missing), timeout=COMMAND_TIMEOUT_S)
            if found.exit_code == 0:
                states.update(parse_sacct(found.stdout))
        return states

    def _take_read(self, job: Job, result: ReadResult, now: float) -> None:
        if result.missing:
            if job.started:
                self.table.finish(job, ProcessEventKind.EXITED, exit_code=None,
                                  message=f"the trial directory {job.trial_dir} is gone")
            return
        with self.table.lock:
            if job.job_id is None and result.job_id is not None:
                job.job_id = result.job_id
            job.has_pid = job.has_pid or result.has_pid
        if (result.has_pid or result.data or result.exit_code is not None) and not job.started:
            self.table.started(job)
        if result.data:
            job.read_at += len(result.data)
            lines = job.splitter.feed(result.data)
            if lines:
                self.table.emit(job, ProcessEventKind.OUTPUT, lines=tuple(lines),
                                offset=job.splitter.offset)
        job.more = len(result.data) >= READ_LIMIT
        job.note_exit(result.exit_code, now)

    def _take_state(self, job: Job, state: JobState | None, now: float) -> None:
        if state is not None and state.waiting:
            if job.started or job.stopping or not state.reason:
                return
            note = pending_message(job.job_id or 0, state)
            if note != job.pending_note:
                job.pending_note = note
                self.table.emit(job, ProcessEventKind.PENDING, message=note)
            return
        if state is not None and not state.finished and not job.started:
            self.table.started(job)
        job.note_state(state, now)

    def _escalate(self, jobs: list[Job], now: float) -> None:
        steps: dict[StopStep, list[int]] = {StopStep.INTERRUPT: [], StopStep.CANCEL: []}
        with self.table.lock:
            for job in jobs:
                step = stop_step(job, now)
                if step is None or job.job_id is None:
                    continue
                steps[step].append(job.job_id)
                if step is StopStep.INTERRUPT:
                    job.interrupted_at = now
                else:
                    job.cancelled = True
        for step, ids in steps.items():
            if ids:
                result = self.access.run(scancel_script(ids, interrupt=step is StopStep.INTERRUPT),
                                         timeout=COMMAND_TIMEOUT_S)
                if result.exit_code != 0:
                    log.info("%s: scancel %s: %s", self.table.name, ids, result.stderr.strip())

    def _unreachable(self, jobs: list[Job], now: float, why: str) -> None:
        if self._offline_since is None:
            self._offline_since = now
            log.warning("%s: the login node does not answer: %s", self.table.name, why)
        if now - self._offline_since < self.offline_timeout:
            return
        for job in jobs:
            self.table.finish(job, ProcessEventKind.LOST, message=(
                f"{self.table.name}: the login node has not answered for "
                f"{self.offline_timeout:g} s; trial {job.trial_id} is lost (Slurm job "
                f"{job.job_id} may still run)"))
