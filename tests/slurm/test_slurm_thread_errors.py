"""Nothing hangs on a Slurm cluster either: an error nobody foresaw in following a job
ends that trial FAILED (EXITED with the reason) and frees its place; the others go on.
A NUL byte that slipped past the experiment file check is never submitted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind, Snapshot, TrialSpec
from app.remote.slurm.commands import ReadRequest, ReadResult
from app.remote.slurm.executor import MONITOR_FAILURES, SlurmExecutor
from app.remote.slurm.monitor import Monitor
from app.remote.slurm.tracking import Job
from devtools.localcluster import LocalSlurm
from tests.slurm.slurm_support import Events, make_executor

K = ProcessEventKind


@pytest.fixture
def made(slurm: LocalSlurm) -> Iterator[list[SlurmExecutor]]:
    executors: list[SlurmExecutor] = []
    yield executors
    for executor in executors:
        executor.close()


def _spec(trial_id: int, snap: Snapshot, command: str = "{python} trial.py look",
          **fields: object) -> TrialSpec:
    return TrialSpec(trial_id, 5, command, fields.pop("params", {}),  # type: ignore[arg-type]
                     snap, **fields)  # type: ignore[arg-type]


def test_an_error_following_one_job_ends_that_trial_only(
        tmp_path: Path, snap: Snapshot, made: list[SlurmExecutor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    take_read = Monitor._take_read

    def broken_for_trial_1(self: Monitor, job: Job, result: ReadResult, now: float) -> None:
        if job.trial_id == 1:
            raise RuntimeError("injected fault")
        take_read(self, job, result, now)

    monkeypatch.setattr(Monitor, "_take_read", broken_for_trial_1)
    executor = make_executor(tmp_path / "work", max_parallel=2)
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap))
    executor.submit(_spec(2, snap))
    first, second = events.ended(1, 2)
    assert (first.kind, first.exit_code) == (K.EXITED, None)
    assert first.message.startswith("following trial 1 on hpc failed (RuntimeError: injected "
                                    f"fault); Slurm job {first.pid} may still run")
    assert (second.kind, second.exit_code, second.message) == (K.EXITED, 0, "")
    assert executor.free_slots() == 2


def test_checks_that_keep_failing_end_every_followed_trial(
        tmp_path: Path, snap: Snapshot, made: list[SlurmExecutor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    executor = make_executor(tmp_path / "work", max_parallel=2)
    made.append(executor)
    calls: list[int] = []

    def broken_read(requests: list[ReadRequest]) -> list[ReadResult]:
        calls.append(len(requests))
        raise RuntimeError("injected fault")

    monkeypatch.setattr(executor.access, "read", broken_read)
    events = Events(executor)
    executor.submit(_spec(1, snap))
    (end,) = events.ended(1)
    assert (end.kind, end.exit_code) == (K.EXITED, None)
    assert "following trial 1 on hpc failed (RuntimeError: injected fault)" in end.message
    assert len(calls) >= MONITOR_FAILURES
    assert executor.free_slots() == 2


def test_a_nul_byte_that_slipped_past_the_checks_is_never_submitted(
        tmp_path: Path, snap: Snapshot, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work")
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap, env={"FOO": "a\0b"}))
    (end,) = events.ended(1)
    assert end.kind is K.START_FAILED
    assert "could not be submitted to hpc: env.FOO holds a NUL byte" in end.message
    assert executor.free_slots() == executor.profile.max_parallel
