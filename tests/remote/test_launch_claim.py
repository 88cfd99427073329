"""The launch claim: the wrapper and a resume both create a trial's ``pid`` file
exclusively, and whoever does so first decides whether the trial runs."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from remote_support import PYTHON, Events, spec

from app.engine.ports import StoreError
from app.engine.processes import signal_group
from app.engine.records import LaunchClaim, ProcessEventKind, Snapshot
from app.remote.launcher import (
    ABANDONED,
    PID_FILE,
    claim_launch,
    launch,
    read_exit_code,
    read_pid_file,
)
from app.remote.local import LocalExecutor
from app.remote.ssh.scripts import claim_command
from app.remote.trial_dir import prepare_trial_dir
from tests.helpers import wait_until

RUN = f"{PYTHON} -c \"open('ran', 'w').write('yes'); import time; time.sleep(30)\""


@pytest.fixture
def trial_dir(tmp_path: Path) -> Iterator[Path]:
    trial = tmp_path / "trial"
    (trial / "code").mkdir(parents=True)
    yield trial
    record = read_pid_file(trial)
    if record is not None:  # never leave a trial behind, even when a test failed
        signal_group(record.pid, signal.SIGKILL)


def _start(trial_dir: Path) -> subprocess.Popen[bytes]:
    return launch(trial_dir, trial_dir / "code", RUN, dict(os.environ))


def test_a_wrapper_that_starts_after_the_claim_runs_nothing(trial_dir: Path) -> None:
    assert claim_launch(trial_dir) is LaunchClaim.ABANDONED
    wrapper = _start(trial_dir)
    assert wrapper.wait(10) == 0
    assert (trial_dir / PID_FILE).read_text().strip() == ABANDONED
    assert not (trial_dir / "code" / "ran").exists(), "the command must not run"
    assert read_exit_code(trial_dir) is None
    assert (trial_dir / "output.log").read_text() == ""
    assert claim_launch(trial_dir) is LaunchClaim.ABANDONED, "a second resume agrees"


def test_a_claim_after_the_wrapper_started_finds_it_started(trial_dir: Path) -> None:
    wrapper = _start(trial_dir)
    wait_until(lambda: (trial_dir / "code" / "ran").exists(), what="the command to run")
    assert claim_launch(trial_dir) is LaunchClaim.STARTED
    record = read_pid_file(trial_dir)
    assert record is not None and record.pid == wrapper.pid, "the pid file is untouched"


def test_a_claim_of_a_folder_that_is_gone_makes_it_and_wins(tmp_path: Path) -> None:
    assert claim_launch(tmp_path / "gone") is LaunchClaim.ABANDONED
    assert (tmp_path / "gone" / PID_FILE).read_text().strip() == ABANDONED


@pytest.mark.parametrize("started", [False, True], ids=["abandoned", "started"])
def test_the_servers_claim_script_decides_the_same(trial_dir: Path, started: bool) -> None:
    if started:
        _start(trial_dir)
        wait_until(lambda: (trial_dir / "code" / "ran").exists(), what="the command to run")
    answers = [subprocess.run(claim_command(str(trial_dir)), shell=True, capture_output=True,
                              text=True, check=True).stdout.strip() for _ in range(2)]
    assert answers == ["@started"] * 2 if started else ["@abandoned"] * 2
    if not started:
        assert _start(trial_dir).wait(10) == 0
        assert not (trial_dir / "code" / "ran").exists()


def test_preparing_never_removes_the_folder_of_a_running_trial(tmp_path: Path,
                                                               snap: Snapshot) -> None:
    trial = tmp_path / "1" / "7"
    sdk = tmp_path / "sweeplab.py"
    sdk.write_text("")
    trial_spec = spec(snap, RUN, 7)
    prepare_trial_dir(trial, trial_spec, PYTHON, sdk, ())
    wrapper = launch(trial, trial / "code", RUN, dict(os.environ))
    try:
        wait_until(lambda: read_pid_file(trial), what="the pid file")
        with pytest.raises(OSError, match="runs"):
            prepare_trial_dir(trial, trial_spec, PYTHON, sdk, ())
        assert read_pid_file(trial) is not None
    finally:
        signal_group(wrapper.pid, signal.SIGKILL)
        wrapper.wait(10)
    prepare_trial_dir(trial, trial_spec, PYTHON, sdk, ())  # ended: a stale folder
    assert not (trial / PID_FILE).exists()


@pytest.mark.parametrize("fails", [False, True], ids=["stored", "store-fails"])
def test_the_local_executor_stores_the_intent_before_the_process_starts(
        tmp_path: Path, snap: Snapshot, fails: bool) -> None:
    seen: list[tuple[str, str, bool]] = []

    def intent(host: str, folder: str) -> None:
        seen.append((host, folder, (Path(folder) / PID_FILE).exists()))
        if fails:
            raise StoreError("the database is locked")

    executor = LocalExecutor(tmp_path / "work", gpus=[], cpu_slots=1)
    events = Events(executor)
    try:
        executor.submit(replace(spec(snap, RUN, 3), on_launch=intent))
        events.pump(lambda: any(e.kind in (ProcessEventKind.STARTED,
                                           ProcessEventKind.START_FAILED)
                                for e in events.of(3)), what="the start")
        folder = executor.trial_dir(7, 3)
        assert seen == [("local", str(folder), False)], "stored before the wrapper ran"
        if fails:
            failed = events.last(3, ProcessEventKind.START_FAILED)
            assert "storing its folder failed" in failed.message
            assert not (folder / PID_FILE).exists(), "nothing was started"
            assert executor.free_slots() == 1
        else:
            executor.stop(3, 0.1)
            events.wait_end(3)
    finally:
        executor.close()
