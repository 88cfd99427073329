"""What the Slurm executor knows of each job, and the decisions it takes from that.

Pure bookkeeping, no I/O: :class:`Job` holds what the last reads and ``squeue`` calls
said; :func:`ending` decides when and how a job is over, :func:`stop_step` what the
stop escalation does next. All times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from app.engine.records import ProcessEventKind
from app.remote.logtail import LineSplitter
from app.remote.slurm.commands import JobState, end_message

EXIT_WAIT_S = 10.0
"""How long a non-zero exit code waits for Slurm's final state (whose reason — time
limit, out of memory — goes into the message)."""
FILE_WAIT_S = 5.0
"""How long a job Slurm reports finished, whose wrapper ran, may take to show its
``exit_code`` (a shared file system's attribute cache lags)."""
GONE = JobState("GONE")
"""The state of a job neither ``squeue`` nor ``sacct`` knows any more."""


class StopStep(Enum):
    """The next move of a stop escalation."""

    INTERRUPT = "interrupt"
    """``scancel --full --signal=INT``: the trial gets SIGINT, as on any host."""
    CANCEL = "cancel"
    """Plain ``scancel``: Slurm sends SIGTERM, then SIGKILL after its KillWait."""


@dataclass
class Job:
    """One trial's job. Fields change under the executor's lock."""

    trial_id: int
    trial_dir: str
    job_id: int | None = None
    read_at: int = 0
    splitter: LineSplitter = field(default_factory=LineSplitter)
    started: bool = False
    has_pid: bool = False
    more: bool = False
    pending_note: str = ""
    slurm: JobState | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    exit_at: float | None = None
    read_since_finish: bool = False
    """The trial directory was read after Slurm said the job finished (a job may run
    and end between two checks: its files are read once more before it is judged)."""
    stop_grace: float | None = None
    stop_at: float | None = None
    interrupted_at: float | None = None
    cancelled: bool = False
    done: bool = False

    @classmethod
    def followed(cls, trial_id: int, trial_dir: str, offset: int, job_id: int | None,
                 *, started: bool = True) -> Job:
        """A job an earlier run submitted (and saw start), read again from log ``offset``."""
        return cls(trial_id, trial_dir, job_id, read_at=offset,
                   splitter=LineSplitter(offset), started=started)

    @property
    def stopping(self) -> bool:
        """Sweeplab asked this job to stop."""
        return self.stop_grace is not None

    def note_state(self, state: JobState | None, now: float) -> None:
        """Take up what ``squeue`` (or ``sacct``) said; None means it knows no such job."""
        state = state if state is not None else GONE
        self.slurm = state
        if (state.finished or state is GONE) and self.finished_at is None:
            self.finished_at, self.read_since_finish = now, False

    def note_exit(self, exit_code: int | None, now: float) -> None:
        """Take up a read of the trial directory: its ``exit_code`` (None while absent)."""
        self.read_since_finish = self.finished_at is not None
        if exit_code is not None and self.exit_code is None:
            self.exit_code, self.exit_at = exit_code, now


@dataclass(frozen=True)
class Ending:
    """How a job ends: its event kind, exit code and Slurm's reason ("" if none)."""

    kind: ProcessEventKind
    exit_code: int | None
    message: str


def _slurm_note(job: Job) -> str:
    """Slurm's reason for an ending that is not the trial's own doing ("" if none)."""
    state = job.slurm
    if state is None or job.job_id is None or state.state == "COMPLETED":
        return ""
    if state is GONE:
        return (f"Slurm no longer knows job {job.job_id} (its record expired, or the "
                "controller was restarted)")
    if job.stopping and state.state == "CANCELLED":
        return ""  # our own scancel
    if state.state == "FAILED" and state.reason == "NonZeroExitCode":
        return ""  # the trial's own failing exit status says it all
    if not state.finished:
        return ""
    return end_message(job.job_id, state)


def ending(job: Job, now: float) -> Ending | None:
    """The job's end once everything it wrote has been read; None while it goes on.

    A zero exit code ends it at once. A non-zero one waits up to :data:`EXIT_WAIT_S`
    for Slurm's final state, so a time limit or memory kill is named. A job Slurm has
    finished without an exit code waits :data:`FILE_WAIT_S` for one if its wrapper
    ran and Sweeplab did not cancel it. Endings Slurm caused (time limit, memory, node
    failure, preemption, a cancel from outside) carry its reason; the runner's retry
    policy decides what runs again.
    """
    if job.more or job.done:
        return None
    finished = job.finished_at is not None
    if job.exit_code is not None:
        settled = (job.exit_code == 0 or finished or job.stopping
                   or (job.exit_at is not None and now - job.exit_at >= EXIT_WAIT_S))
        if not settled:
            return None
        return Ending(ProcessEventKind.EXITED, job.exit_code, _slurm_note(job))
    if not finished or job.finished_at is None or not job.read_since_finish:
        return None
    if job.has_pid and not job.cancelled and now - job.finished_at < FILE_WAIT_S:
        return None  # (a job we cancelled ends STOPPED whatever its exit code)
    return Ending(ProcessEventKind.EXITED, None, _slurm_note(job))


def stop_step(job: Job, now: float) -> StopStep | None:
    """What the stop escalation of ``job`` does now, if anything.

    A job still in the queue is cancelled at once (nothing to stop gracefully). A
    running one gets SIGINT once its wrapper has written its ``pid`` (a signal during
    the launch would fail the job), and a plain ``scancel`` ``grace`` seconds later;
    one whose wrapper never shows up is cancelled after ``grace``.
    """
    if job.stop_grace is None or job.stop_at is None or job.job_id is None or job.done:
        return None
    if job.cancelled or job.finished_at is not None or job.exit_code is not None:
        return None
    if not job.started and not job.has_pid:
        return StopStep.CANCEL
    if job.has_pid and job.interrupted_at is None:
        return StopStep.INTERRUPT
    since = job.interrupted_at if job.interrupted_at is not None else job.stop_at
    if now - since >= job.stop_grace:
        return StopStep.CANCEL
    return None
