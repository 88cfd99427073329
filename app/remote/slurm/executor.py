"""Trials as Slurm batch jobs: :class:`SlurmExecutor`.

It behaves like the local and SSH executors, event for event: the same trial
directory (``<workdir>/<experiment_id>/<trial_id>/``; ``<trial_id>.<segment>/`` for a
later PBT segment, its job named so too, the donor's checkpoint in its ``restore/``)
and wrapper, plus the files of
:mod:`app.remote.slurm.commands`. Submitter threads prepare each trial and call
``sbatch`` (:data:`SUBMITTERS` at once); a monitor thread
(:class:`~app.remote.slurm.monitor.Monitor`) reads every job's directory each ``tick``
(the ``pid`` file says the wrapper runs, the log streams, ``exit_code`` ends it) and
asks ``squeue`` about all of them at once every ``squeue_interval`` (pending reasons,
Slurm's own endings). ``ProcessEvent.pid`` carries the Slurm job id, so a restarted
app re-attaches with :meth:`SlurmExecutor.follow`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine.ports import StoreError
from app.engine.records import LaunchClaim, ProcessEvent, ProcessEventKind, TrialSpec
from app.remote.events import EventQueue, drain
from app.remote.gpu import NoFreeSlot
from app.remote.launcher import segment_folder
from app.remote.local import DEFAULT_SDK, ExecutorClosed
from app.remote.slurm.access import AccessError, ClusterAccess, SubmitFailed
from app.remote.slurm.commands import folder_job_name, q, scancel_script
from app.remote.slurm.jobfiles import job_files
from app.remote.slurm.monitor import COMMAND_TIMEOUT_S, JobTable, Monitor
from app.remote.slurm.profile import ClusterProfile, time_limit_minutes
from app.remote.slurm.tracking import Job
from app.remote.ssh.scripts import claim_answer, claim_script, pack_command

__all__ = ["ClusterStatus", "SlurmExecutor"]

log = logging.getLogger(__name__)

_JOIN_S = 10.0
SUBMITTERS = 4
"""Trials prepared and ``sbatch``-ed at once: sbatch mostly waits on the controller, and
a busy controller answers in tenths of a second."""
PACK_TIMEOUT_S = 600.0
"""The longest reading a checkpoint folder off the cluster may take (PBT)."""
MONITOR_FAILURES = 3
"""Checks of the jobs in a row that may fail with an error nobody foresaw (a bug, not
an unreachable login node) before every followed trial is ended FAILED with it."""


@dataclass(frozen=True)
class ClusterStatus:
    """What one executor holds in its cluster (the Servers window's queue counts come
    from :func:`app.remote.slurm.status.query_queue` instead).

    Attributes:
        name: the cluster's name.
        online: its login node answers.
        pending: this executor's jobs waiting in Slurm's queue.
        running: its jobs whose trial runs.
        error: why the login node does not answer ("" when fine).
    """

    name: str
    online: bool
    pending: int
    running: int
    error: str = ""


class SlurmExecutor:
    """Runs trials as ``sbatch`` jobs on one Slurm cluster (the ``Executor`` protocol).

    Args:
        profile: the cluster; ``max_parallel`` caps pending plus running jobs.
        access: its login node (this machine, or SSH); closed with the executor.
        grace: default seconds between ``scancel --signal=INT`` and plain ``scancel``.
        max_trial_seconds: the experiment's max time per trial, which sets Slurm's
            time limit (:func:`~app.remote.slurm.profile.time_limit_minutes`).
        sdk_path: the SDK file put into each trial (default ``app/sdk/sweeplab.py``).
        events: the queue events go to (a pool's shared one); default a private one.
        tick: seconds between two reads of the trial directories.
        squeue_interval: seconds between two ``squeue`` calls (one for all jobs).
        offline_timeout: seconds the login node may stay unreachable before its
            trials are LOST (their jobs may still run).

    Raises:
        ValueError: an invalid profile, negative times, a missing sdk_path.

    Events:
        PENDING (pid = job id, trial_dir) as soon as the job is submitted, then
        (message: Slurm's reason) while it waits, each time the reason changes;
        STARTED (pid = job id, trial_dir) once its wrapper runs, or
        START_FAILED (message) when it could not be submitted; OUTPUT with complete
        lines and the log offset after them; EXITED (exit status, None when the wrapper
        left none; message: Slurm's reason when Slurm ended the job: time limit, out of
        memory, node failure, preemption, a cancel from outside) last; or LOST when the
        login node stayed unreachable past ``offline_timeout``.

    Thread safety: as ``LocalExecutor``; :meth:`status` from any thread. A job's slot
    is released before its last event is queued.
    """

    def __init__(self, profile: ClusterProfile, access: ClusterAccess, *, grace: float = 5.0,
                 max_trial_seconds: float | None = None, sdk_path: Path | None = None,
                 events: EventQueue | None = None, tick: float = 0.25,
                 squeue_interval: float = 2.0, offline_timeout: float = 60.0) -> None:
        problems = profile.problems()
        if problems:
            raise ValueError("; ".join(problems))
        for label, value in (("grace", grace), ("offline_timeout", offline_timeout)):
            if value < 0:
                raise ValueError(f"{profile.name}: {label} must be >= 0 seconds, got {value}")
        for label, value in (("tick", tick), ("squeue_interval", squeue_interval)):
            if value <= 0:
                raise ValueError(f"{profile.name}: {label} must be > 0 seconds, got {value}")
        if sdk_path is not None and not Path(sdk_path).is_file():
            raise ValueError(f"{profile.name}: SDK file {sdk_path} does not exist")
        self.name = profile.name
        self.profile = profile
        self.access = access
        self.grace = grace
        self.offline_timeout = offline_timeout
        self._time_limit = time_limit_minutes(max_trial_seconds, grace)
        sdk = Path(sdk_path) if sdk_path is not None else DEFAULT_SDK
        self._sdk_name = sdk.name
        self._sdk = sdk.read_bytes() if sdk.is_file() else None
        self._events = events if events is not None else EventQueue()
        self._tick = tick
        self._table = JobTable(self.name, self._events)
        self._lock = self._table.lock
        self._jobs = self._table.jobs
        self._monitor = Monitor(self._table, access, squeue_interval=squeue_interval,
                                offline_timeout=offline_timeout)
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._submissions: queue.Queue[tuple[Job, TrialSpec] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    # --- the Executor protocol ---------------------------------------------------------

    def free_slots(self) -> int:
        """How many more jobs :meth:`submit` accepts now (0 while the login node is away)."""
        if self._closing.is_set() or not self.access.online:
            return 0
        with self._lock:
            return max(0, self.profile.max_parallel - len(self._jobs))

    def busy_reason(self) -> str:
        """Why :meth:`free_slots` is 0: the login node is away, or ``max_parallel`` jobs
        wait or run."""
        if not self.access.online:
            return f"the login node of {self.name} does not answer"
        return (f"{self.name} keeps its maximum of {self.profile.max_parallel} job(s) "
                "pending or running")

    def capacity(self) -> int:
        """``max_parallel``: the jobs Sweeplab keeps pending plus running here."""
        return self.profile.max_parallel

    def submit(self, spec: TrialSpec) -> None:
        """Queue the trial for ``sbatch`` (in the background); returns at once.

        Raises:
            ValueError: the trial is already followed here.
            NoFreeSlot: ``max_parallel`` jobs are pending or running already.
            ExecutorClosed: after :meth:`close`.
        """
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot submit trial {spec.trial_id}, "
                                     "executor is closed")
            if spec.trial_id in self._jobs:
                raise ValueError(f"{self.name}: trial {spec.trial_id} is already here")
            if len(self._jobs) >= self.profile.max_parallel:
                raise NoFreeSlot(f"trial {spec.trial_id}: {self.name} keeps its maximum of "
                                 f"{self.profile.max_parallel} job(s) in Slurm already")
            job = Job(spec.trial_id, "")
            self._jobs[spec.trial_id] = job
            self._start_threads()
        self._submissions.put((job, spec))

    def follow(self, trial_id: int, trial_dir: Path | str, offset: int, pid: int | None,
               *, gpus: Sequence[int] = (), queued: bool = False) -> None:
        """Re-attach to a trial an earlier run submitted; ``pid`` is its Slurm job id
        (None: read from the trial directory's ``job_id`` file). A ``queued`` job still
        waits in Slurm's queue: its STARTED event comes when it runs.

        Raises:
            ValueError: already followed, or a negative ``offset``.
            ExecutorClosed: after :meth:`close`.
        """
        if offset < 0:
            raise ValueError(f"{self.name}: trial {trial_id}: offset must be >= 0, got {offset}")
        with self._lock:
            if self._closing.is_set():
                raise ExecutorClosed(f"{self.name}: cannot follow trial {trial_id}, closed")
            if trial_id in self._jobs:
                raise ValueError(f"{self.name}: trial {trial_id} is already followed")
            self._jobs[trial_id] = Job.followed(trial_id, str(trial_dir), offset, pid,
                                                started=not queued)
            self._monitor.squeue_soon()
            self._start_threads()
        self._wake.set()

    def pack_folder(self, path: str) -> bytes:
        """A folder on the cluster as a ``.tar.gz`` (PBT: a donor's checkpoint carried to
        another host), read through the login node.

        Raises:
            OSError: it cannot be read there, or the login node does not answer.
        """
        try:
            result = self.access.run(pack_command(path), timeout=PACK_TIMEOUT_S)
        except AccessError as exc:
            raise OSError(f"{self.name}: cannot read {path}: {exc}") from exc
        if result.exit_code != 0:
            raise OSError(f"{self.name}: cannot read {path}: {result.stderr.strip()[:300]}")
        return result.stdout

    def claim(self, trial_dir: str) -> LaunchClaim:
        """For a resume: whether the trial stored as launching in ``trial_dir`` started
        (see :func:`~app.remote.ssh.scripts.claim_script`). When the claim wins, a job
        of the trial that ``sbatch`` took before the crash is cancelled (found by its
        name); should it start anyway, its wrapper runs nothing. UNKNOWN if the login
        node does not answer."""
        script = claim_script(trial_dir)
        name = folder_job_name(trial_dir)
        if name is not None:
            script = (f"out=$({script})\necho \"$out\"\n"
                      f'[ "$out" != @abandoned ] || scancel --name={q(name)} 2>/dev/null\n'
                      "exit 0\n")
        try:
            result = self.access.run(script, timeout=COMMAND_TIMEOUT_S)
        except AccessError as exc:
            log.warning("%s: cannot claim %s: %s", self.name, trial_dir, exc)
            return LaunchClaim.UNKNOWN
        answer = result.stdout.decode("utf-8", "replace").strip()
        claim = claim_answer(answer)
        if claim is not None:
            return claim
        log.warning("%s: claiming %s gave %r", self.name, trial_dir, answer)
        return LaunchClaim.UNKNOWN

    def poll(self, timeout: float) -> list[ProcessEvent]:
        """Events since the last call, waiting at most ``timeout`` s for the first."""
        return drain(self._events, timeout, self.name)

    def stop(self, trial_id: int, grace: float | None = None) -> None:
        """``scancel --full --signal=INT`` once the trial runs, plain ``scancel`` after
        ``grace`` s; a job still in the queue is cancelled at once. Returns at once;
        unknown or finished trials and repeated calls are ignored."""
        grace = self.grace if grace is None else grace
        if grace < 0:
            raise ValueError(f"{self.name}: grace must be >= 0 seconds, got {grace}")
        with self._lock:
            job = self._jobs.get(trial_id)
            if job is None or job.stopping:
                return
            job.stop_grace, job.stop_at = grace, time.monotonic()
        self._wake.set()

    def close(self) -> None:
        """Stop following. Running jobs keep running (re-attach follows them); jobs
        still waiting in Slurm's queue are cancelled, as their trials run again."""
        with self._lock:
            self._closing.set()
            threads = list(self._threads)
        self._events.release()  # a follower waiting to queue output must not hold us up
        self._wake.set()
        for _ in range(SUBMITTERS):
            self._submissions.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(_JOIN_S)
        with self._lock:  # after the submitters: a job being submitted now has its id
            waiting = [job.job_id for job in self._jobs.values()
                       if job.job_id is not None and not job.started and not job.done]
        if waiting:
            try:
                self.access.run(scancel_script(waiting, interrupt=False),
                                timeout=COMMAND_TIMEOUT_S)
            except AccessError as exc:
                log.warning("%s: could not cancel waiting jobs %s: %s", self.name, waiting, exc)
        self.access.close()

    def status(self) -> ClusterStatus:
        """This executor's waiting and running jobs (no I/O)."""
        with self._lock:
            running = sum(1 for job in self._jobs.values() if job.started)
            waiting = len(self._jobs) - running
        error = getattr(self.access, "last_error", "")
        return ClusterStatus(self.name, self.access.online, waiting, running,
                             error if isinstance(error, str) else "")

    # --- threads -------------------------------------------------------------------------

    def _start_threads(self) -> None:
        """Start the submitters and the monitor on first use (lock held)."""
        if self._threads:
            return
        roles = [(self._submit_loop, f"submit{i}") for i in range(SUBMITTERS)]
        for target, role in [*roles, (self._monitor_loop, "monitor")]:
            thread = threading.Thread(target=target, name=f"sweeplab-{self.name}-{role}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def _submit_loop(self) -> None:
        while True:
            item = self._submissions.get()
            if item is None:
                return
            job, spec = item
            try:
                self._submit_one(job, spec)
            except Exception as exc:  # a bug must still end the trial
                log.exception("%s: submitting trial %s failed", self.name, spec.trial_id)
                self._table.finish(job, ProcessEventKind.START_FAILED,
                                   message=f"trial {spec.trial_id} could not be submitted: {exc}")

    def _submit_one(self, job: Job, spec: TrialSpec) -> None:
        what = f"trial {spec.trial_id}"
        deadline = time.monotonic() + self.offline_timeout
        while True:
            with self._lock:
                stopped = job.stopping
            if stopped:  # EXITED, not START_FAILED: it ends STOPPED
                self._table.finish(job, ProcessEventKind.EXITED, exit_code=None,
                                   message=f"{what} was not submitted: it was stopped")
                return
            if self._closing.is_set():
                self._table.finish(job, ProcessEventKind.START_FAILED,
                                   message=f"{what} was not submitted: the executor closed")
                return
            try:
                folder = segment_folder(spec.trial_id, spec.segment)
                trial_dir = f"{self.access.workdir()}/{spec.experiment_id}/{folder}"
                with self._lock:
                    job.trial_dir = trial_dir
                files, options = job_files(
                    self.profile, spec, trial_dir, python=self.access.expand(self.profile.python),
                    sdk_name=self._sdk_name, sdk=self._sdk, time_limit=self._time_limit)
                if spec.on_launch is not None:  # stored before the job can start
                    spec.on_launch(self.name, trial_dir)
                job_id = self.access.submit(trial_dir, spec.snapshot, files, options,
                                            restore_from=spec.restore_from)
                break
            except (SubmitFailed, ValueError, TypeError, StoreError) as exc:
                self._table.finish(job, ProcessEventKind.START_FAILED,
                                   message=f"{what} could not be submitted to {self.name}: {exc}")
                return
            except AccessError as exc:
                if time.monotonic() >= deadline:
                    self._table.finish(job, ProcessEventKind.START_FAILED, message=(
                        f"{what} was not submitted: {self.name} stayed unreachable for "
                        f"{self.offline_timeout:g} s ({exc})"))
                    return
                self._closing.wait(0.5)
        with self._lock:
            job.job_id = job_id
        log.debug("%s: %s is job %s", self.name, what, job_id)
        # at once, with the job id: a run that crashes from here on follows this job on
        # resume instead of submitting the trial again (Slurm's reason comes later)
        self._table.emit(job, ProcessEventKind.PENDING,
                         message=f"submitted to {self.name} as job {job_id}")
        self._wake.set()

    def _monitor_loop(self) -> None:
        failures = 0
        while not self._closing.is_set():
            self._wake.clear()
            try:
                self._monitor.check()
                failures = 0
            except Exception as exc:  # keep following: one bad answer must not end it
                failures += 1
                if failures == 1:
                    log.exception("%s: checking the jobs failed", self.name)
                else:
                    log.warning("%s: checking the jobs failed again (%d times in a row): %s",
                                self.name, failures, exc)
                if failures >= MONITOR_FAILURES:  # it will not get better: end the trials
                    self._monitor.give_up(None, exc)
                    failures = 0
            self._wake.wait(self._tick)


if TYPE_CHECKING:
    from app.engine.ports import Executor

    def _is_an_executor(executor: SlurmExecutor) -> Executor:
        return executor  # mypy checks SlurmExecutor against the protocol here
