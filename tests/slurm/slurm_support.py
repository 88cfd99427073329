"""Helpers for the Slurm tests: an executor on the session's cluster, event collection."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from app.engine.records import ProcessEvent, ProcessEventKind
from app.remote.slurm.access import LocalAccess
from app.remote.slurm.executor import SlurmExecutor
from app.remote.slurm.profile import ClusterProfile
from devtools.localcluster import LocalSlurm
from tests.helpers import wait_until
from tests.slurm.conftest import PYTHON

END = (ProcessEventKind.EXITED, ProcessEventKind.START_FAILED, ProcessEventKind.LOST)


def make_executor(workdir: Path, **fields: object) -> SlurmExecutor:
    """An executor submitting with ``sbatch`` on this machine (the test cluster)."""
    options: dict[str, object] = {"workdir": str(workdir), "python": PYTHON, **fields}
    grace = float(options.pop("grace", 1.0))  # type: ignore[arg-type]
    profile = ClusterProfile("hpc", **options)  # type: ignore[arg-type]
    return SlurmExecutor(profile, LocalAccess("hpc", profile.workdir, profile.setup),
                         grace=grace, tick=0.1, squeue_interval=0.5)


class Events:
    """Every event an executor produced, gathered by polling."""

    def __init__(self, executor: SlurmExecutor) -> None:
        self.executor = executor
        self.seen: list[ProcessEvent] = []

    def until(self, done: Callable[[list[ProcessEvent]], bool], timeout: float = 30.0,
              what: str = "events") -> list[ProcessEvent]:
        """Poll until ``done(events so far)``; fail with what was seen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            if time.monotonic() > deadline:
                shown = [(e.trial_id, e.kind.value, e.exit_code, e.message, e.lines[:2])
                         for e in self.seen]
                raise AssertionError(f"timed out waiting for {what}; saw {shown}")
            self.seen.extend(self.executor.poll(0.1))
        return self.seen

    def of(self, trial_id: int, kind: ProcessEventKind | None = None) -> list[ProcessEvent]:
        """The events of one trial (of one kind)."""
        return [e for e in self.seen if e.trial_id == trial_id and kind in (None, e.kind)]

    def ended(self, *trial_ids: int, timeout: float = 30.0) -> list[ProcessEvent]:
        """Wait for the last event of each trial; return those, in ``trial_ids`` order."""
        self.until(lambda seen: all(any(e.trial_id == t and e.kind in END for e in seen)
                                    for t in trial_ids), timeout, f"trials {trial_ids} to end")
        return [next(e for e in self.seen if e.trial_id == t and e.kind in END)
                for t in trial_ids]

    def lines(self, trial_id: int) -> list[str]:
        """Every log line of one trial, in order."""
        return [line for e in self.of(trial_id, ProcessEventKind.OUTPUT) for line in e.lines]


def slurm_state(slurm: LocalSlurm, job_id: int) -> str:
    """``STATE|REASON`` of a job as squeue says it now."""
    done = slurm.command("squeue", "--noheader", "--states=all", f"--jobs={job_id}",
                         "--format=%T|%r", check=False)
    return done.stdout.strip()


UNSETTLED = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED")


def final_state(slurm: LocalSlurm, job_id: int, timeout: float = 30.0) -> str:
    """``STATE|REASON`` of a job once Slurm has settled it (its accounting can lag a
    moment behind the end a trial's wrapper reports)."""
    state = ""

    def settled() -> bool:
        nonlocal state
        state = slurm_state(slurm, job_id)
        return bool(state) and not state.startswith(UNSETTLED)

    wait_until(settled, timeout, f"Slurm to settle job {job_id}")
    return state
