"""The sh wrapper on its own: pid file, session, signals, exit codes, group stop."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote_support import PYTHON, group_gone

from app.engine.processes import CLOCK_TICKS, is_alive, signal_group
from app.remote.launcher import (
    TrialProcess,
    launch,
    read_exit_code,
    read_pid_file,
    stop_group,
)
from tests.helpers import wait_until

TRIAL = Path(__file__).parent / "trials" / "trial.py"


@pytest.fixture
def trial_dir(tmp_path: Path) -> Iterator[Path]:
    trial = tmp_path / "trial"
    (trial / "code").mkdir(parents=True)
    shutil.copy(TRIAL, trial / "code" / "trial.py")
    yield trial
    record = read_pid_file(trial)
    if record is not None:  # never leave a trial behind, even when a test failed
        signal_group(record.pid, signal.SIGKILL)


def start(trial_dir: Path, command: str) -> TrialProcess:
    env = {**os.environ, "SWEEPLAB_TRIAL_DIR": str(trial_dir)}
    return launch(trial_dir, trial_dir / "code", command, env)


def log_text(trial_dir: Path) -> str:
    return (trial_dir / "output.log").read_text(errors="replace")


def test_pid_file_session_and_exit_code(trial_dir: Path) -> None:
    proc = start(trial_dir, f"{PYTHON} trial.py wait")
    record = wait_until(lambda: read_pid_file(trial_dir), what="the pid file")
    assert record.pid == proc.pid and record.start_time is not None
    assert os.getsid(proc.pid) == proc.pid and os.getpgid(proc.pid) == proc.pid
    assert is_alive(proc.pid, record.start_time)
    # another process with this pid, started a few seconds earlier or later
    assert not is_alive(proc.pid, record.start_time + 3 * CLOCK_TICKS)
    assert not is_alive(proc.pid, record.start_time - 3 * CLOCK_TICKS)
    wait_until(lambda: "waiting" in log_text(trial_dir), what="the trial to run")
    assert read_exit_code(trial_dir) is None
    (trial_dir / "go").touch()
    assert proc.wait(10) == 0
    assert read_exit_code(trial_dir) == 0
    assert sorted(p.name for p in trial_dir.iterdir()) == [
        "code", "exit_code", "go", "launch.sh", "output.log", "pid"]  # no .tmp files left
    assert not is_alive(proc.pid)


def test_sigint_raises_keyboard_interrupt_and_the_status_is_still_written(
    trial_dir: Path,
) -> None:
    proc = start(trial_dir, f"{PYTHON} trial.py catch; echo the-list-went-on")
    wait_until(lambda: "ready" in log_text(trial_dir), what="ready")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(10) == 0
    assert "caught KeyboardInterrupt" in log_text(trial_dir)
    assert "the-list-went-on" not in log_text(trial_dir)  # a stop ends the whole command
    assert read_exit_code(trial_dir) == 0


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_trial_killed_by_a_signal_records_128_plus_n(
    trial_dir: Path, sig: signal.Signals, status: int
) -> None:
    proc = start(trial_dir, f"{PYTHON} trial.py default")
    wait_until(lambda: "ready" in log_text(trial_dir), what="ready")
    os.killpg(proc.pid, sig)
    assert proc.wait(10) == status
    assert read_exit_code(trial_dir) == status
    if sig is signal.SIGINT:
        assert "KeyboardInterrupt" in log_text(trial_dir)


def test_missing_code_dir_and_missing_command(trial_dir: Path) -> None:
    shutil.rmtree(trial_dir / "code")
    proc = start(trial_dir, "true")
    assert proc.wait(10) == 126 and read_exit_code(trial_dir) == 126
    (trial_dir / "code").mkdir()
    (trial_dir / "pid").unlink()  # a folder is launched once (the pid file is its claim)
    proc = start(trial_dir, "no-such-command-sweeplab")
    assert proc.wait(10) == 127 and read_exit_code(trial_dir) == 127
    assert "not found" in log_text(trial_dir)


def test_stop_group_kills_what_ignores_signals(trial_dir: Path) -> None:
    proc = start(trial_dir, f"{PYTHON} trial.py ignore")
    wait_until(lambda: "child ready" in log_text(trial_dir) and "ready\n" in log_text(trial_dir),
               what="both processes to ignore signals")
    began = time.monotonic()
    assert stop_group(proc.pid, grace=0.2)
    assert time.monotonic() - began >= 0.4  # SIGINT and SIGTERM each got their grace
    assert proc.wait(10) == -signal.SIGKILL
    assert group_gone(proc.pid) and read_exit_code(trial_dir) is None
    assert stop_group(proc.pid, grace=0.2)  # nothing left: returns at once


def test_unreadable_files_read_as_missing(tmp_path: Path) -> None:
    assert read_pid_file(tmp_path) is None and read_exit_code(tmp_path) is None
    (tmp_path / "pid").write_text("not a pid\n")
    (tmp_path / "exit_code").write_text("")
    assert read_pid_file(tmp_path) is None and read_exit_code(tmp_path) is None
    (tmp_path / "pid").write_text("123\n\n")  # no /proc where it was written
    record = read_pid_file(tmp_path)
    assert record is not None and (record.pid, record.start_time) == (123, None)
    assert not is_alive(2**22 + 12345)
