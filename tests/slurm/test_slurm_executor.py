"""SlurmExecutor on a real single-node Slurm: each trial one sbatch job running the same
detached wrapper, its log streamed, stopped gracefully, followed again after a restart."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.processes import is_alive
from app.engine.records import ProcessEventKind, Snapshot, TrialSpec
from app.remote.gpu import NoFreeSlot
from app.remote.slurm.executor import SlurmExecutor
from devtools.localcluster import LocalSlurm
from tests.helpers import wait_until
from tests.slurm.slurm_support import Events, final_state, make_executor, slurm_state

K = ProcessEventKind


@pytest.fixture
def made(slurm: LocalSlurm) -> Iterator[list[SlurmExecutor]]:
    """Executors a test makes; all are closed at its end."""
    executors: list[SlurmExecutor] = []
    yield executors
    for executor in executors:
        executor.close()


def _spec(trial_id: int, snap: Snapshot, mode: str, **fields: object) -> TrialSpec:
    return TrialSpec(trial_id, 5, "{python} trial.py " + mode,
                     fields.pop("params", {}), snap, **fields)  # type: ignore[arg-type]


def test_a_trial_is_one_job_running_the_wrapper_with_the_trial_protocol(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work")
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap, "env", params={"optimizer": {"lr": 0.5}},
                          env={"MY_VAR": "x y"}, max_epochs=7))
    (end,) = events.ended(1)
    started = events.of(1, K.STARTED)
    assert len(started) == 1 and started[0].pid == end.pid and end.pid is not None
    assert (end.kind, end.exit_code, end.message) == (K.EXITED, 0, "")
    trial_dir = tmp_path / "work" / "5" / "1"
    assert started[0].trial_dir == str(trial_dir) and started[0].host == "hpc"
    assert (trial_dir / "job_id").read_text().strip() == str(end.pid)
    assert stat.S_IMODE(trial_dir.stat().st_mode) == 0o700  # for the user only
    assert final_state(slurm, end.pid) == "COMPLETED|None"
    doc = json.loads(events.lines(1)[0].removeprefix("ENV "))
    assert doc["cwd"] == str(trial_dir / "code") and doc["lr"] == 0.5
    assert doc["env"]["MY_VAR"] == "x y" and doc["env"]["SWEEPLAB_MAX_EPOCHS"] == "7"
    assert doc["env"]["CUDA_VISIBLE_DEVICES"] is None  # Slurm's to set, not ours
    assert doc["sdk"] == str(trial_dir / "sdk" / "sweeplab.py")


def test_stop_sends_sigint_to_the_running_trial_which_ends_cleanly(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work", grace=30.0)
    made.append(executor)
    events = Events(executor)
    for trial_id in (1, 2, 3):
        executor.submit(_spec(trial_id, snap, "catch"))
    # Trials 1 and 2 are stopped the moment they are seen to start. SIGINT during Slurm's
    # launch of the batch step would end the job FAILED (JobLaunchFailure) with no exit
    # code; the executor holds it back until the wrapper has written its pid.
    stopped: set[int] = set()

    def stop(seen: list[object]) -> bool:
        for event in events.seen:
            ready = event.trial_id == 3 and "ready" in event.lines
            start = event.kind is K.STARTED and event.trial_id != 3
            if (start or ready) and event.trial_id not in stopped:
                executor.stop(event.trial_id)
                stopped.add(event.trial_id)
        return len(stopped) == 3

    events.until(stop, 30, "three trials to start")
    ends = events.ended(1, 2, 3)
    for end in ends:
        assert end.kind is K.EXITED and end.exit_code is not None, end
        assert end.pid is not None
        assert "JobLaunchFailure" not in final_state(slurm, end.pid)
    assert ends[2].exit_code == 0
    assert events.lines(3) == ["ready", "caught KeyboardInterrupt"]
    assert ends[2].pid is not None and final_state(slurm, ends[2].pid) == "COMPLETED|None"


def test_a_trial_deaf_to_sigint_is_cancelled_after_the_grace(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work", grace=0.5)
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap, "ignore"))
    events.until(lambda seen: "child ready" in events.lines(1), 30, "the trial to be ready")
    executor.stop(1)
    (end,) = events.ended(1, timeout=30)
    assert (end.kind, end.message) == (K.EXITED, "")
    assert end.exit_code in (None, 137)  # SIGKILLed after Slurm's KillWait
    assert end.pid is not None and final_state(slurm, end.pid).startswith("CANCELLED")
    trial_dir = str(tmp_path / "work" / "5" / "1")

    def leftovers() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if trial_dir.encode() in (proc / "cmdline").read_bytes():
                    state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    found += [] if state in ("Z", "X") else [proc.name]
            except OSError:
                continue
        return found

    wait_until(lambda: not leftovers(), 15, "the trial's processes to be gone")


def test_a_job_pending_in_a_down_partition_says_why_and_stop_cancels_it(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work", partition="down", max_parallel=3)
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap, "env"))
    events.until(lambda seen: len(events.of(1, K.PENDING)) == 2, 30, "the pending reason")
    submitted, pending = events.of(1, K.PENDING)
    assert submitted.message == f"submitted to hpc as job {submitted.pid}"
    assert submitted.pid == pending.pid and submitted.trial_dir == pending.trial_dir
    assert submitted.trial_dir == str(tmp_path / "work" / "5" / "1")
    assert pending.message == (f"pending in Slurm as job {pending.pid}: its partition is "
                               "down (PartitionDown)")
    assert executor.free_slots() == 2 and executor.status().pending == 1
    executor.stop(1)
    (end,) = events.ended(1)
    assert (end.kind, end.exit_code, end.message) == (K.EXITED, None, "")
    assert not events.of(1, K.STARTED) and len(events.of(1, K.PENDING)) == 2
    assert pending.pid is not None and final_state(slurm, pending.pid).startswith("CANCELLED")


def test_max_parallel_caps_jobs_and_sbatch_refusals_are_start_failures(
        tmp_path: Path, snap: Snapshot, made: list[SlurmExecutor]) -> None:
    executor = make_executor(tmp_path / "work", partition="nosuch", max_parallel=2)
    made.append(executor)
    events = Events(executor)
    executor.submit(_spec(1, snap, "env"))
    executor.submit(_spec(2, snap, "env"))
    assert executor.free_slots() == 0
    assert executor.busy_reason() == (f"{executor.name} keeps its maximum of 2 job(s) "
                                      "pending or running")
    with pytest.raises(NoFreeSlot, match="keeps its maximum of 2 job"):
        executor.submit(_spec(3, snap, "env"))
    with pytest.raises(ValueError, match="trial 2 is already here"):
        executor.submit(_spec(2, snap, "env"))
    ends = events.ended(1, 2)
    for end in ends:
        assert end.kind is K.START_FAILED
        assert "could not be submitted to hpc: sbatch failed with status 1" in end.message
        assert "invalid partition" in end.message.lower()
    assert executor.free_slots() == 2


def test_a_new_executor_follows_a_running_job_from_its_offset(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    first = make_executor(tmp_path / "work")
    made.append(first)
    events = Events(first)
    first.submit(_spec(1, snap, "lines"))
    events.until(lambda seen: len(events.lines(1)) >= 300, 30, "the first 300 lines")
    job_id = events.of(1, K.STARTED)[0].pid
    offset = events.of(1, K.OUTPUT)[-1].offset
    trial_dir = tmp_path / "work" / "5" / "1"
    first.close()  # the app goes away; the job runs on
    assert job_id is not None and slurm_state(slurm, job_id) == "RUNNING|None"

    second = make_executor(tmp_path / "work")
    made.append(second)
    again = Events(second)
    second.follow(1, trial_dir, offset, None)  # the job id comes from the job_id file
    (trial_dir / "go").touch()
    (end,) = again.ended(1)
    assert (end.kind, end.exit_code, end.pid) == (K.EXITED, 5, job_id)
    assert again.lines(1) == [f"line {i}" for i in range(300, 600)] + [
        "partial without newline"]
    assert not again.of(1, K.STARTED)  # it had started already
    with pytest.raises(ValueError, match="offset must be >= 0"):
        second.follow(2, trial_dir, -1, job_id)


def test_what_a_trial_leaves_running_ends_with_its_job(
        tmp_path: Path, snap: Snapshot, slurm: LocalSlurm, made: list[SlurmExecutor]) -> None:
    """Item 4 of issue 14 on Slurm: the job script ends what the main command left in
    the job's process group (one process that takes SIGTERM, one that ignores it). One
    that made a group of its own is Slurm's process tracking's to end (cgroups); this
    test cluster's proctrack/linuxproc loses such orphans, so the test ends it."""
    executor = make_executor(tmp_path / "work")
    made.append(executor)
    events = Events(executor)
    executor.submit(TrialSpec(1, 5, (
        "sleep 300 & echo $! >plain; "
        "{python} -c 'import os, time; os.setpgid(0, 0); time.sleep(300)' & "
        "echo $! >grouped; (trap '' TERM; exec sleep 300) & echo $! >stubborn; "
        "echo main-done"), {}, snap))
    (end,) = events.ended(1)
    assert (end.kind, end.exit_code) == (K.EXITED, 0)
    code = tmp_path / "work" / "5" / "1" / "code"
    os.kill(int((code / "grouped").read_text()), signal.SIGKILL)
    pids = [int((code / name).read_text()) for name in ("plain", "stubborn")]
    wait_until(lambda: not any(is_alive(pid) for pid in pids), 15, "the leftovers to end")
