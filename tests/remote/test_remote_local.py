"""LocalExecutor with real processes: files, environment, GPUs, output, exit, stop, re-attach."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from remote_support import PYTHON, Events, group_gone, spec, write

from app.engine.params import flatten, params_document
from app.engine.processes import signal_group
from app.engine.records import ProcessEventKind, Snapshot
from app.remote.gpu import NoFreeSlot
from app.remote.launcher import read_pid_file
from app.remote.local import ExecutorClosed, LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.helpers import proc_state, wait_until

HERE = Path(__file__).parent
CMD = f"{PYTHON} trial.py"
EXITED = ProcessEventKind.EXITED
OUTPUT = ProcessEventKind.OUTPUT
STARTED = ProcessEventKind.STARTED
START_FAILED = ProcessEventKind.START_FAILED
TWO_GPUS = "0, NVIDIA GeForce RTX 3090, 24576, 10, 0\n1, NVIDIA GeForce RTX 3090, 24576, 10, 0\n"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., LocalExecutor]]:
    """LocalExecutor factory on one work root; kills every trial group left at the end."""
    made: list[LocalExecutor] = []

    def factory(**kwargs: object) -> LocalExecutor:
        options: dict[str, object] = {"gpus": [], "cpu_slots": 8, "grace": 2.0, **kwargs}
        executor = LocalExecutor(tmp_path / "work", **options)  # type: ignore[arg-type]
        made.append(executor)
        return executor

    yield factory
    for executor in made:
        executor.close()
    for pid_file in (tmp_path / "work").glob("*/*/pid"):
        record = read_pid_file(pid_file.parent)
        if record is not None:
            signal_group(record.pid, signal.SIGKILL)


def test_trial_gets_its_files_params_environment_and_sdk(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    params = {"optimizer": {"_name": "adam", "lr": 0.01}, "name": "a b; echo pwned"}
    executor.submit(spec(snap, CMD + " env {name} {params_file} {aup_params}", 3, params=params,
                         env={"MY_VAR": "mine", "PYTHONUNBUFFERED": "0"}, max_epochs=12))
    events = Events(executor)
    events.wait_end(3)
    started, exited = events.last(3, STARTED), events.last(3, EXITED)
    trial_dir = executor.trial_dir(7, 3)
    assert started.trial_dir == exited.trial_dir == str(trial_dir)
    assert started.pid == exited.pid and started.pid is not None
    assert started.gpus == () and started.host == "local" and exited.exit_code == 0
    (line,) = [line for line in events.lines(3) if line.startswith("ENV ")]
    doc = json.loads(line[4:])
    assert doc["argv"] == ["a b; echo pwned", str(trial_dir / "params.json"),
                           str(trial_dir / "auptimizer.json")]
    assert json.loads((trial_dir / "auptimizer.json").read_text()) == flatten(params)
    assert doc["cwd"] == str(trial_dir / "code")
    assert doc["params"] == params_document(params)
    assert doc["lr"] == 0.01 and doc["sdk"] == str(trial_dir / "sdk" / "sweeplab.py")
    env = doc["env"]
    assert env["SWEEPLAB_PARAMS"] == str(trial_dir / "params.json")
    assert (env["SWEEPLAB_TRIAL_ID"], env["SWEEPLAB_TRIAL_DIR"]) == ("3", str(trial_dir))
    assert (env["SWEEPLAB_MAX_EPOCHS"], env["MY_VAR"]) == ("12", "mine")
    assert (env["PYTHONUNBUFFERED"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "")
    assert env["PYTHONPATH"].split(":")[0] == str(trial_dir / "sdk")
    assert sorted(p.name for p in trial_dir.iterdir()) == [
        "auptimizer.json", "code", "exit_code", "launch.sh", "output.log", "params.json",
        "pid", "sdk"]


def test_trials_link_one_copy_of_the_wrapper_and_the_sdk(
    make: Callable[..., LocalExecutor], snap: Snapshot, tmp_path: Path
) -> None:
    """launch.sh and the SDK are written once per executor and hard-linked into each
    trial's folder (docs/PERFORMANCE.md); a changed SDK reaches the next trial, and the
    trials before keep theirs. auptimizer.json only for a command naming {aup_params}."""
    sdk = tmp_path / "sweeplab.py"
    sdk.write_text("VERSION = 1\n")
    executor = make(sdk_path=sdk)
    events = Events(executor)
    for trial_id in (1, 2):
        executor.submit(spec(snap, CMD + " exit 0", trial_id))
    events.wait_end(1, 2)
    one, two = executor.trial_dir(7, 1), executor.trial_dir(7, 2)
    for name in ("launch.sh", "sdk/sweeplab.py"):
        first, second = (one / name).stat(), (two / name).stat()
        assert first.st_ino == second.st_ino and first.st_nlink == 3, name
    assert os.access(one / "launch.sh", os.X_OK)
    assert sorted(p.name for p in one.iterdir()) == [
        "code", "exit_code", "launch.sh", "output.log", "params.json", "pid", "sdk"]
    sdk.write_text("VERSION = 22\n")
    executor.submit(spec(snap, CMD + " exit 0", 3))
    events.wait_end(3)
    assert (executor.trial_dir(7, 3) / "sdk" / "sweeplab.py").read_text() == "VERSION = 22\n"
    assert (one / "sdk" / "sweeplab.py").read_text() == "VERSION = 1\n"
    assert events.last(3, EXITED).exit_code == 0


def test_gpus_from_nvidia_smi_are_shared_out(
    make: Callable[..., LocalExecutor], snap: Snapshot, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path / "bin" / "nvidia-smi", f"#!/bin/sh\nprintf '{TWO_GPUS}'\n", 0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    executor = make(gpus=None, trials_per_gpu=2, cpu_slots=1)
    assert executor.gpus == (0, 1) and executor.free_slots() == 4
    for trial_id in range(1, 5):
        executor.submit(spec(snap, CMD + " wait", trial_id, gpus=1))
    assert executor.free_slots() == 0
    with pytest.raises(NoFreeSlot, match="only 0 GPU"):
        executor.submit(spec(snap, CMD + " wait", 5, gpus=1))
    events = Events(executor)
    events.pump(lambda: all(events.lines(t) for t in range(1, 5)), what="4 trials to run")
    assert [events.last(t, STARTED).gpus for t in range(1, 5)] == [(0,), (1,), (0,), (1,)]
    assert [events.lines(t) for t in range(1, 5)] == [
        ["waiting 0"], ["waiting 1"], ["waiting 0"], ["waiting 1"]]
    executor.submit(spec(snap, CMD + " wait", 6, gpus=0))  # CPU slots are separate
    events.pump(lambda: bool(events.lines(6)), what="the CPU trial to run")
    for trial_id in (1, 2, 3, 4, 6):
        (executor.trial_dir(7, trial_id) / "go").touch()
    events.wait_end(1, 2, 3, 4, 6)
    assert executor.free_slots() == 4
    executor.submit(spec(snap, CMD + " wait", 7, gpus=2))
    events.wait_line(7, "waiting 0,1")
    assert executor.free_slots() == 2
    (executor.trial_dir(7, 7) / "go").touch()
    events.wait_end(7)
    assert events.lines(6) == ["waiting "]  # a CPU trial sees no GPU


def test_trials_do_not_see_each_others_files(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " mark", 1))
    events.wait_end(1)
    executor.submit(spec(snap, CMD + " look", 2))
    events.wait_end(2)
    assert (executor.trial_dir(7, 1) / "code" / "mine.txt").exists()
    own_copy = executor.trial_dir(7, 1) / "code" / "trial.py"
    assert own_copy.read_text().endswith("# changed by one trial\n")
    assert events.lines(2) == ["files trial.py", "pristine"]


def test_output_arrives_in_order_with_offsets_and_refollowing_repeats_nothing(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " lines", 1))
    events.wait_line(1, "line 299")
    (executor.trial_dir(7, 1) / "go").touch()
    events.wait_end(1)
    expected = [f"line {i}" for i in range(600)] + ["partial without newline"]
    assert events.lines(1) == expected
    outputs = [e for e in events.of(1) if e.kind is OUTPUT]
    seen = 0
    for event in outputs:  # each offset is just after that event's lines
        seen += len(event.lines)
        assert event.offset == sum(len(line) + 1 for line in expected[:seen]) - (
            1 if seen == len(expected) else 0)
    log_size = (executor.trial_dir(7, 1) / "output.log").stat().st_size
    exited = events.last(1, EXITED)
    assert exited.exit_code == 5 and exited.offset == log_size
    assert events.of(1)[0].kind is STARTED and events.of(1)[-1] is exited

    again = make()
    again_events = Events(again)
    again.follow(1, executor.trial_dir(7, 1), outputs[0].offset, exited.pid)
    again_events.wait_end(1)
    assert again_events.lines(1) == expected[len(outputs[0].lines):]
    assert again_events.last(1, EXITED).exit_code == 5


def test_undecodable_bytes_and_a_partial_last_line(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " bytes", 1))
    events.wait_end(1)
    assert events.lines(1) == ["ok \ufffd\ufffd bad", "café", "\ufffd"]


def test_a_100_mb_line_is_cut_and_the_next_line_survives(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " huge", 1))
    events.wait_end(1, timeout=30)
    lines = events.lines(1)
    size = 100 * (1 << 20)
    assert len(lines) == 2 and lines[1] == "after"
    assert lines[0] == "x" * 65536 + f" [... {size - 65536} bytes cut by sweeplab]"
    assert events.last(1, EXITED).offset == size + len("\nafter\n")


def test_50_mb_of_output_in_batches(make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    executor = make()
    events = Events(executor)
    began = time.monotonic()
    executor.submit(spec(snap, CMD + " big", 1))
    events.wait_end(1, timeout=30)
    elapsed = time.monotonic() - began
    lines = events.lines(1)
    assert len(lines) == 500_000
    assert all(line[:7] == f"{i:07d}" for i, line in enumerate(lines))
    batches = [e for e in events.of(1) if e.kind is OUTPUT]
    assert len(batches) < 200 and events.last(1, EXITED).offset == 50_000_000
    print(f"50 MB of output followed in {elapsed:.2f} s, {len(batches)} events")


def test_exit_codes(make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    executor = make()
    events = Events(executor)
    commands = {1: CMD + " exit 0", 2: CMD + " exit 3", 3: CMD + " killself",
                4: "no-such-command-sweeplab --flag"}
    for trial_id, command in commands.items():
        executor.submit(spec(snap, command, trial_id))
    events.wait_end(*commands)
    codes = {t: events.last(t, EXITED).exit_code for t in commands}
    assert codes == {1: 0, 2: 3, 3: 128 + signal.SIGKILL, 4: 127}
    assert any("not found" in line for line in events.lines(4))


def test_stop_gives_keyboard_interrupt_and_a_clean_exit(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " catch", 1))
    executor.submit(spec(snap, CMD + " default", 2))
    events.wait_line(1, "ready")
    events.wait_line(2, "ready")
    executor.stop(1)
    executor.stop(2, grace=5.0)
    executor.stop(2)  # repeated: ignored
    events.wait_end(1, 2, timeout=4)  # well before SIGTERM would come
    assert "caught KeyboardInterrupt" in events.lines(1)
    assert events.last(1, EXITED).exit_code == 0
    assert (executor.trial_dir(7, 1) / "exit_code").read_text() == "0\n"
    assert events.lines(2)[-1] == "KeyboardInterrupt"
    assert events.last(2, EXITED).exit_code == 130
    for trial_id in (1, 2):
        pid = events.last(trial_id, STARTED).pid
        assert pid is not None
        assert group_gone(pid) and proc_state(pid) is None  # gone and reaped
    executor.stop(1)  # finished: ignored


def test_stop_escalates_to_sigkill_and_leaves_no_process(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    executor = make()
    events = Events(executor)
    executor.submit(spec(snap, CMD + " ignore", 1))
    events.wait_line(1, "ready")
    events.wait_line(1, "child ready")
    pid = events.last(1, STARTED).pid
    assert pid is not None
    began = time.monotonic()
    executor.stop(1, grace=0.3)
    events.wait_end(1)
    assert time.monotonic() - began >= 0.6
    assert events.last(1, EXITED).exit_code is None  # the wrapper was SIGKILLed too
    wait_until(lambda: group_gone(pid), 5, "the group to be empty")
    wait_until(lambda: proc_state(pid) is None, 5, "the wrapper to be reaped")


def test_reattach_from_a_new_instance_while_the_trial_runs(
    make: Callable[..., LocalExecutor], snap: Snapshot
) -> None:
    first = make()
    first_events = Events(first)
    first.submit(spec(snap, CMD + " lines", 1))
    first_events.wait_line(1, "line 299")
    offset = [e for e in first_events.of(1) if e.kind is OUTPUT][-1].offset
    pid = first_events.last(1, STARTED).pid
    first.close()
    with pytest.raises(ExecutorClosed):
        first.submit(spec(snap, CMD + " lines", 2))

    second = make(cpu_slots=2)
    second.follow(1, first.trial_dir(7, 1), offset, pid)
    assert second.free_slots() == 1  # the re-attached trial holds its slot
    with pytest.raises(ValueError, match="already followed"):
        second.follow(1, first.trial_dir(7, 1), offset, pid)
    events = Events(second)
    (first.trial_dir(7, 1) / "go").touch()
    events.wait_end(1)
    assert events.lines(1) == [f"line {i}" for i in range(300, 600)] + [
        "partial without newline"]
    assert events.last(1, EXITED).exit_code == 5 and second.free_slots() == 2
    assert pid is not None
    wait_until(lambda: proc_state(pid) is None, 5, "the first instance to reap its child")


def test_stop_a_reattached_trial(make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    first = make()
    first_events = Events(first)
    first.submit(spec(snap, CMD + " catch", 1))
    first_events.wait_line(1, "ready")
    first.close()
    second = make()
    second.follow(1, first.trial_dir(7, 1), 0, None)  # pid from the pid file
    second.stop(1)
    events = Events(second)
    events.wait_end(1)
    assert events.lines(1) == ["ready", "caught KeyboardInterrupt"]
    assert events.last(1, EXITED).exit_code == 0


def test_follow_never_mistakes_a_reused_pid(
    make: Callable[..., LocalExecutor], tmp_path: Path
) -> None:
    trial_dir = tmp_path / "old-trial"
    write(trial_dir / "output.log", "before the crash\nhalf a li")
    pid = os.getpid()
    write(trial_dir / "pid", f"{pid}\n1\n")  # our pid, but not our start time
    executor = make()
    executor.stop(9)  # unknown: ignored
    executor.follow(9, trial_dir, 0, pid)
    executor.stop(9)  # the pid is not the trial's: nothing is signalled
    events = Events(executor)
    events.wait_end(9)
    assert events.lines(9) == ["before the crash", "half a li"]
    assert events.last(9, EXITED).exit_code is None
    executor.follow(10, tmp_path / "never-started", 0, None)  # no files at all
    events.wait_end(10)
    assert events.last(10, EXITED).exit_code is None


def test_start_failures_are_events_and_free_their_slot(
    make: Callable[..., LocalExecutor], snap: Snapshot, tmp_path: Path
) -> None:
    executor = make(cpu_slots=1)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " {nope}", 1, params={"lr": 0.1}))
    events.wait_end(1)
    assert executor.free_slots() == 1
    gone = Snapshot(tmp_path / "missing.tar.gz", "0" * 64, None, False)
    executor.submit(spec(gone, CMD, 2))
    events.wait_end(2)
    assert [e.kind for e in events.all] == [START_FAILED, START_FAILED]
    assert "trial 1 could not start" in events.all[0].message
    assert "unknown placeholder {nope}" in events.all[0].message
    assert "missing.tar.gz does not exist" in events.all[1].message
    assert executor.free_slots() == 1


def test_a_trial_stopped_while_being_prepared_is_never_launched(
    make: Callable[..., LocalExecutor], tmp_path: Path
) -> None:
    write(tmp_path / "big" / "weights.bin", os.urandom(20 << 20))  # unpacking takes a while
    write(tmp_path / "big" / "trial.py", (HERE / "trials" / "trial.py").read_text())
    big = take_snapshot(tmp_path / "big", tmp_path / "snaps")
    executor = make(cpu_slots=1)
    executor.submit(spec(big, CMD + " catch", 1))
    executor.stop(1)
    events = Events(executor)
    events.wait_end(1)
    assert [e.kind for e in events.all] == [START_FAILED]
    assert events.all[0].message == "trial 1 was not started: it was stopped"
    assert executor.free_slots() == 1 and not (executor.trial_dir(7, 1) / "pid").exists()


def test_bad_arguments_are_refused_with_a_clear_message(
    make: Callable[..., LocalExecutor], snap: Snapshot, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="grace must be >= 0"):
        make(grace=-1)
    with pytest.raises(ValueError, match=r"SDK file .*nope\.py does not exist"):
        make(sdk_path=tmp_path / "nope.py")
    with pytest.raises(ValueError, match="trials_per_gpu must be at least 1"):
        make(gpus=[0], trials_per_gpu=0)
    with pytest.raises(ValueError, match="distinct"):
        make(gpus=[1, 1])
    executor = make(cpu_slots=1)
    with pytest.raises(ValueError, match="trial 1 asks for 1 GPU"):
        executor.submit(spec(snap, CMD + " wait", 1, gpus=1))
    executor.submit(spec(snap, CMD + " wait", 1))
    with pytest.raises(ValueError, match="trial 1 is already running"):
        executor.submit(spec(snap, CMD + " wait", 1))
    with pytest.raises(NoFreeSlot, match="all 1 CPU slots of local are busy"):
        executor.submit(spec(snap, CMD + " wait", 2))
    with pytest.raises(ValueError, match="poll timeout must be >= 0"):
        executor.poll(-1)
    with pytest.raises(ValueError, match="offset must be >= 0"):
        executor.follow(5, tmp_path, -1, None)
    with pytest.raises(ValueError, match="grace must be >= 0"):
        executor.stop(1, grace=-1)
    events = Events(executor)
    events.wait_line(1, "waiting ")
    (executor.trial_dir(7, 1) / "go").touch()
    events.wait_end(1)


def test_a_parent_that_ignores_sigint_still_stops_its_trial_by_sigint(
    tmp_path: Path, snap: Snapshot
) -> None:
    """Item 1 of issue 14: a trial starts with default signal dispositions and no
    blocked signals, however Sweeplab was started; the stop is a prompt KeyboardInterrupt
    and exit 0, not SIGTERM (143) after the whole 30 s grace."""
    driver = HERE / "trials" / "ignoring_parent.py"
    result = subprocess.run(
        [sys.executable, str(driver), str(tmp_path / "work"), str(snap.archive),
         snap.content_hash, f"{CMD} catch"],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=90,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert "caught KeyboardInterrupt" in report["lines"], report
    assert report["exit_code"] == 0 and report["took"] < 10, report
