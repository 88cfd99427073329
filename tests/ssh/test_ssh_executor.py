"""SshExecutor against a real sshd: the same events as LocalExecutor, files, quoting,
snapshots, stop, re-attach, GPUs, and more trials than a connection's MaxSessions."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.params import flatten, params_document
from app.engine.protocol import LineParser, MetricReport, ProgressReport
from app.engine.records import ProcessEventKind, Snapshot
from app.remote.events import EventQueue
from app.remote.gpu import NoFreeSlot
from app.remote.snapshot import take_snapshot
from app.remote.ssh.executor import ExecutorClosed, SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.stream import HelperStream
from tests.helpers import wait_until
from tests.remote.remote_support import Events, group_gone, spec
from tests.ssh.sshd import Sshd, gone

CMD = "{python} trial.py"
LR = {"optimizer": {"_name": "sgd", "lr": 0.5}}  # the trial script's env mode reads lr
EXITED = ProcessEventKind.EXITED
OUTPUT = ProcessEventKind.OUTPUT
STARTED = ProcessEventKind.STARTED
START_FAILED = ProcessEventKind.START_FAILED
LOST = ProcessEventKind.LOST


@pytest.fixture
def make(known_hosts: KnownHosts) -> Iterator[Callable[..., SshExecutor]]:
    """SshExecutor factory (connected); every executor is closed at the end."""
    made: list[SshExecutor] = []

    def factory(profile: ServerProfile, **kwargs: object) -> SshExecutor:
        options: dict[str, object] = {"grace": 2.0, **kwargs}
        executor = SshExecutor(profile, Secrets(), known_hosts, **options)  # type: ignore[arg-type]
        made.append(executor)
        executor.connect()
        return executor

    yield factory
    for executor in made:
        executor.close()


def trial_dir(profile: ServerProfile, trial_id: int, experiment_id: int = 7) -> Path:
    return Path(profile.workdir) / str(experiment_id) / str(trial_id)


def test_trial_gets_its_files_params_environment_and_sdk(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    params = {"optimizer": {"_name": "adam", "lr": 0.01}, "name": "a b; echo pwned"}
    executor.submit(spec(snap, CMD + " env {name} {params_file} {aup_params}", 3, params=params,
                         env={"MY_VAR": "mine", "PYTHONUNBUFFERED": "0"}, max_epochs=12))
    events = Events(executor)
    events.wait_end(3)
    started, exited = events.last(3, STARTED), events.last(3, EXITED)
    where = trial_dir(profile, 3)
    assert started.trial_dir == exited.trial_dir == str(where)
    assert started.pid == exited.pid and started.pid is not None
    assert (started.gpus, started.host, exited.exit_code) == ((), "lab1", 0)
    (line,) = [line for line in events.lines(3) if line.startswith("ENV ")]
    doc = json.loads(line[4:])
    assert doc["argv"] == ["a b; echo pwned", str(where / "params.json"),
                           str(where / "auptimizer.json")]
    assert json.loads((where / "auptimizer.json").read_text()) == flatten(params)
    assert doc["cwd"] == str(where / "code") and doc["params"] == params_document(params)
    assert doc["lr"] == 0.01 and doc["sdk"] == str(where / "sdk" / "sweeplab.py")
    env = doc["env"]
    assert env["SWEEPLAB_PARAMS"] == str(where / "params.json")
    assert (env["SWEEPLAB_TRIAL_ID"], env["SWEEPLAB_TRIAL_DIR"]) == ("3", str(where))
    assert (env["SWEEPLAB_MAX_EPOCHS"], env["MY_VAR"]) == ("12", "mine")
    assert (env["PYTHONUNBUFFERED"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "")
    assert env["PYTHONPATH"].split(":")[0] == str(where / "sdk")
    assert sorted(p.name for p in where.iterdir()) == [
        "auptimizer.json", "code", "exit_code", "launch.sh", "output.log", "params.json",
        "pid", "sdk"]


def test_hostile_parameter_values_reach_the_script_literally(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    evil = f"$(touch {tmp_path}/pwned); rm -rf {victim}"
    others = [f"`touch {tmp_path}/pwned2`", "it's \"quoted\" \\ and\nnew line", "-rf", "*"]
    executor = make(profile)
    params = {"evil": evil, "a": others[0], "b": others[1], "c": others[2], "d": others[3],
              **LR}
    executor.submit(spec(snap, CMD + " env {evil} {a} {b} {c} {d}", 1, params=params,
                         env={"MY_VAR": evil}))
    events = Events(executor)
    events.wait_end(1)
    (line,) = [line for line in events.lines(1) if line.startswith("ENV ")]
    doc = json.loads(line[4:])
    assert doc["argv"] == [evil, *others]
    assert doc["env"]["MY_VAR"] == evil and doc["params"]["nested"]["evil"] == evil
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert victim.is_dir()


def test_metrics_lines_arrive_with_offsets_and_the_exit_code(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot,
    tmp_path: Path,
) -> None:
    code = tmp_path / "metrics-code"
    code.mkdir()
    (code / "train.py").write_text(
        "import sweeplab\n"
        "for step in range(1, 4):\n"
        "    sweeplab.report('loss', 1.0 / step, step=step)\n"
        "    sweeplab.progress(step, 3)\n"
        "print('done', flush=True)\n"
        "raise SystemExit(4)\n")
    metrics_snap = take_snapshot(code, tmp_path / "snaps")
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(metrics_snap, "{python} train.py", 1))
    events.wait_end(1)
    lines = events.lines(1)
    reports = [r for line in lines for r in LineParser("loss").parse(line)]
    assert [r for r in reports if isinstance(r, MetricReport)] == [
        MetricReport("loss", 1.0 / s, s) for s in (1, 2, 3)]
    assert [r for r in reports if isinstance(r, ProgressReport)] == [
        ProgressReport(s, 3) for s in (1, 2, 3)]
    assert lines[-1] == "done" and events.last(1, EXITED).exit_code == 4
    log = (trial_dir(profile, 1) / "output.log").read_bytes()
    seen = 0
    for event in [e for e in events.of(1) if e.kind is OUTPUT]:
        seen += len(event.lines)
        assert event.offset == len(b"".join(line + b"\n" for line in log.split(b"\n")[:seen]))
    assert events.last(1, EXITED).offset == len(log)


def test_output_offsets_partial_line_and_refollow_repeat_nothing(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " lines", 1))
    events.wait_line(1, "line 299")
    (trial_dir(profile, 1) / "go").touch()
    events.wait_end(1)
    expected = [f"line {i}" for i in range(600)] + ["partial without newline"]
    assert events.lines(1) == expected
    outputs = [e for e in events.of(1) if e.kind is OUTPUT]
    seen = 0
    for event in outputs:
        seen += len(event.lines)
        assert event.offset == sum(len(line) + 1 for line in expected[:seen]) - (
            1 if seen == len(expected) else 0)
    exited = events.last(1, EXITED)
    assert exited.exit_code == 5
    assert exited.offset == (trial_dir(profile, 1) / "output.log").stat().st_size
    assert events.of(1)[0].kind is STARTED and events.of(1)[-1] is exited


def test_exit_codes_and_bytes(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    events = Events(executor)
    commands = {1: CMD + " exit 0", 2: CMD + " exit 3", 3: CMD + " killself",
                4: "no-such-command-sweeplab --flag"}
    for trial_id, command in commands.items():
        executor.submit(spec(snap, command, trial_id))
    events.wait_end(*commands)
    assert {t: events.last(t, EXITED).exit_code for t in commands} == {
        1: 0, 2: 3, 3: 128 + signal.SIGKILL, 4: 127}
    assert any("not found" in line for line in events.lines(4))
    executor.submit(spec(snap, CMD + " bytes", 5))
    events.wait_end(5)
    assert events.lines(5) == ["ok \ufffd\ufffd bad", "café", "\ufffd"]


def test_snapshot_is_uploaded_once_per_content_hash(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " exit 0", 1))
    executor.submit(spec(snap, CMD + " exit 0", 2))
    events.wait_end(1, 2)
    archive = Path(profile.workdir) / "snapshots" / f"{snap.content_hash}.tar.gz"
    assert archive.read_bytes() == snap.archive.read_bytes()
    assert executor.snapshot_uploads == 1
    first = archive.stat()
    later = make(profile)  # a new instance finds it there, with the right size
    later_events = Events(later)
    later.submit(spec(snap, CMD + " exit 0", 3))
    later_events.wait_end(3)
    assert later.snapshot_uploads == 0 and archive.stat().st_ino == first.st_ino
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]  # no leftovers


def test_stop_gives_keyboard_interrupt_and_escalates_to_sigkill(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " catch", 1))
    executor.submit(spec(snap, CMD + " ignore", 2))
    events.wait_line(1, "ready")
    events.wait_line(2, "child ready")
    executor.stop(1, grace=5.0)
    executor.stop(1)  # repeated: ignored
    began = time.monotonic()
    executor.stop(2, grace=0.3)
    events.wait_end(1, 2, timeout=10)
    assert "caught KeyboardInterrupt" in events.lines(1)
    assert events.last(1, EXITED).exit_code == 0
    assert time.monotonic() - began >= 0.6
    assert events.last(2, EXITED).exit_code is None  # the wrapper was SIGKILLed too
    for trial_id in (1, 2):
        pid = events.last(trial_id, STARTED).pid
        assert pid is not None
        wait_until(lambda p=pid: group_gone(p) and gone(p), 5, "the trial to be gone")
    executor.stop(1)  # finished: ignored
    executor.stop(99)  # unknown: ignored


def test_reattach_after_closing_loses_and_repeats_nothing(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    first = make(profile)
    first_events = Events(first)
    first.submit(spec(snap, CMD + " lines", 1))
    first_events.wait_line(1, "line 299")
    offset = [e for e in first_events.of(1) if e.kind is OUTPUT][-1].offset
    pid = first_events.last(1, STARTED).pid
    first.close()
    with pytest.raises(ExecutorClosed):
        first.submit(spec(snap, CMD + " lines", 2))
    second = make(profile)
    second.follow(1, trial_dir(profile, 1), offset, pid)
    assert second.free_slots() == 3  # the re-attached trial holds its slot
    with pytest.raises(ValueError, match="already followed"):
        second.follow(1, trial_dir(profile, 1), offset, pid)
    events = Events(second)
    (trial_dir(profile, 1) / "go").touch()
    events.wait_end(1)
    seen = [line for line in first_events.lines(1)]
    assert seen + events.lines(1) == [f"line {i}" for i in range(600)] + [
        "partial without newline"]
    assert events.last(1, EXITED).exit_code == 5 and second.free_slots() == 4
    second.follow(2, trial_dir(profile, 2), 0, None)  # never started: ends at once
    events.wait_end(2)
    assert events.last(2, EXITED).exit_code is None


def test_start_failures_are_events_and_free_their_slot(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot, tmp_path: Path
) -> None:
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " {nope}", 1, params={"lr": 0.1}))
    gone_snap = Snapshot(tmp_path / "missing.tar.gz", "0" * 64, None, False)
    executor.submit(spec(gone_snap, CMD, 2))
    events.wait_end(1, 2)
    assert [e.kind for e in events.all] == [START_FAILED, START_FAILED]
    messages = {e.trial_id: e.message for e in events.all}
    assert "unknown placeholder {nope}" in messages[1]
    assert "missing.tar.gz does not exist" in messages[2]
    assert executor.free_slots() == 4
    executor.submit(spec(snap, CMD + " exit 0", 3))
    events.wait_end(3)
    archive = Path(profile.workdir) / "snapshots" / f"{snap.content_hash}.tar.gz"
    archive.unlink()  # someone cleaned the server up
    executor.submit(spec(snap, CMD + " exit 0", 4))
    events.wait_end(4)
    failed = events.last(4, START_FAILED).message
    assert failed.startswith("trial 4 could not start on lab1: cannot unpack the code "
                             f"snapshot {archive}") and "tar" in failed
    executor.submit(spec(snap, CMD + " exit 0", 5))  # sent again, and it runs
    events.wait_end(5)
    assert events.last(5, EXITED).exit_code == 0 and executor.snapshot_uploads == 2


def test_an_unexpected_error_in_following_a_trial_ends_it_failed_and_frees_its_slot(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in following a trial must not leave it RUNNING for ever; nor may it end
    LOST, which would run the same params again into the same bug."""
    def broken_close(self: HelperStream) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(HelperStream, "close", broken_close)
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " exit 0", 1))
    events.wait_end(1)
    assert [e.kind for e in events.of(1) if e.kind is not OUTPUT] == [STARTED, EXITED]
    message = events.last(1, EXITED).message
    assert "following trial 1 on lab1 failed (RuntimeError: injected fault)" in message
    assert executor.free_slots() == 4


def test_an_unexpected_error_before_a_trial_started_ends_it_and_frees_its_slot(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_launch(*args: object) -> None:
        raise RuntimeError("injected fault")

    executor = make(profile)
    monkeypatch.setattr(executor._host, "launch", broken_launch)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " exit 0", 1))
    events.wait_end(1)
    assert [e.kind for e in events.of(1)] == [START_FAILED]
    assert events.last(1, START_FAILED).message == (
        "trial 1 could not start on lab1: RuntimeError: injected fault")
    assert executor.free_slots() == 4


def test_a_nul_byte_that_slipped_past_the_checks_is_never_sent(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    """A shell would drop the NUL or cut the text there, and run something else."""
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " exit 0", 1, env={"FOO": "a\0b"}))
    executor.submit(spec(snap, CMD + " exit 0 {tag}", 2, params={"tag": "x\0y"}))
    events.wait_end(1, 2)
    assert [e.kind for e in events.all] == [START_FAILED, START_FAILED]
    first, second = events.last(1, START_FAILED), events.last(2, START_FAILED)
    assert "trial 1 could not start: env.FOO holds a NUL byte" in first.message
    assert "trial 2 could not start: the command holds a NUL byte" in second.message
    assert executor.free_slots() == 4


def test_bad_arguments_are_refused_with_a_clear_message(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot,
    known_hosts: KnownHosts, tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="grace must be >= 0"):
        SshExecutor(profile, Secrets(), known_hosts, grace=-1)
    with pytest.raises(ValueError, match=r"SDK file .*nope\.py does not exist"):
        SshExecutor(profile, Secrets(), known_hosts, sdk_path=tmp_path / "nope.py")
    with pytest.raises(ValueError, match="max parallel must be >= 1"):
        SshExecutor(ServerProfile("x", "h", "u", max_parallel=0), Secrets(), known_hosts)
    executor = make(profile)
    with pytest.raises(ValueError, match="trial 1 asks for 1 GPU"):
        executor.submit(spec(snap, CMD + " wait", 1, gpus=1))
    with pytest.raises(ValueError, match="poll timeout must be >= 0"):
        executor.poll(-1)
    with pytest.raises(ValueError, match="offset must be >= 0"):
        executor.follow(5, "/x", -1, None)


def test_gpus_from_nvidia_smi_over_ssh(
    sshd_factory: Callable[..., Sshd], gpu_bin: Path, make_profile: Callable[..., ServerProfile],
    tmp_path: Path, snap: Snapshot,
) -> None:
    server = sshd_factory(gpus=gpu_bin)
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    (gpu_bin / "apps").write_text("GPU-bbbb, 999999999\n")  # someone else's process on GPU 1
    profile = make_profile(server, max_parallel=3)
    shared = EventQueue()
    executor = SshExecutor(profile, Secrets(), hosts, events=shared)
    try:
        executor.connect()
        assert executor.gpus == (0,) and executor.free_slots() == 1
        status = executor.status()
        assert status.online and [g.memory_used_mib for g in status.gpus] == [10, 20000]
        executor.submit(spec(snap, CMD + " wait", 1, gpus=1))
        with pytest.raises(NoFreeSlot):
            executor.submit(spec(snap, CMD + " wait", 2, gpus=1))
        events = Events(executor)
        events.wait_line(1, "waiting 0")
        assert events.last(1, STARTED).gpus == (0,)
        assert executor.status().running == 1
        (gpu_bin / "gpus.csv").write_text("0, NVIDIA GeForce RTX 3090, 24576, 5000, 50\n"
                                          "1, NVIDIA GeForce RTX 3090, 24576, 0, 0\n")
        refreshed = executor.refresh_status()
        assert [(g.memory_used_mib, g.utilization_pct) for g in refreshed.gpus] == [
            (5000, 50), (0, 0)]
        (trial_dir(profile, 1) / "go").touch()
        events.wait_end(1)
        assert shared.empty()  # poll drained the shared queue the events went into
    finally:
        executor.close()
    everything = make_profile(server, allow_busy_gpus=True, trials_per_gpu=2)
    busy_ok = SshExecutor(everything, Secrets(), hosts)
    try:
        busy_ok.connect()
        assert busy_ok.gpus == (0, 1) and busy_ok.free_slots() == 4
    finally:
        busy_ok.close()


def test_more_trials_than_one_connection_carries(
    sshd_factory: Callable[..., Sshd], make_profile: Callable[..., ServerProfile],
    tmp_path: Path, snap: Snapshot,
) -> None:
    server = sshd_factory(max_sessions=3)
    hosts = KnownHosts(tmp_path / "kh", system_file=None)
    hosts.accept("127.0.0.1", server.port, server.host_key)
    profile = make_profile(server, max_parallel=7)
    executor = SshExecutor(profile, Secrets(), hosts)
    try:
        executor.connect()
        events = Events(executor)
        for trial_id in range(1, 8):
            executor.submit(spec(snap, CMD + " wait", trial_id))
        events.pump(lambda: all(events.lines(t) for t in range(1, 8)), 60,
                    "7 trials to run at once")
        for trial_id in range(1, 8):
            (trial_dir(profile, trial_id) / "go").touch()
        events.wait_end(*range(1, 8), timeout=60)
        assert all(events.last(t, EXITED).exit_code == 0 for t in range(1, 8))
        assert executor.free_slots() == 7
    finally:
        executor.close()


def test_setup_runs_before_the_command_in_the_same_shell(
    make: Callable[..., SshExecutor], make_profile: Callable[..., ServerProfile],
    ssh_server: Sshd, snap: Snapshot, tmp_path: Path,
) -> None:
    activate = tmp_path / "activate"
    activate.write_text("export MY_VAR=from-setup\n")
    fine = make(make_profile(ssh_server, setup=f"source '{activate}'"))
    events = Events(fine)
    fine.submit(spec(snap, CMD + " env", 1, params=LR))
    events.wait_end(1)
    (line,) = [line for line in events.lines(1) if line.startswith("ENV ")]
    assert json.loads(line[4:])["env"]["MY_VAR"] == "from-setup"
    broken = make(make_profile(ssh_server, name="lab2", setup="false"))
    broken_events = Events(broken)
    broken.submit(spec(snap, CMD + " env", 2))
    broken_events.wait_end(2)
    assert broken_events.last(2, EXITED).exit_code == 1
    assert broken_events.lines(2) == [
        "sweeplab: the server's setup command failed with status 1"]


def test_closed_executor_leaves_trials_running(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " wait", 1))
    events.wait_line(1, "waiting ")
    pid = events.last(1, STARTED).pid
    assert pid is not None
    executor.close()
    assert not gone(pid)  # still running on the server
    (trial_dir(profile, 1) / "go").touch()
    wait_until(lambda: (trial_dir(profile, 1) / "exit_code").exists(), 10, "the trial to end")
    assert (trial_dir(profile, 1) / "exit_code").read_text() == "0\n"
    shutil.rmtree(trial_dir(profile, 1))


def test_what_a_trial_leaves_running_ends_with_it(
    make: Callable[..., SshExecutor], profile: ServerProfile, snap: Snapshot
) -> None:
    """Item 4 of issue 14, over SSH: one leftover in the trial's group, one in a group
    of its own, one that ignores SIGTERM; all end once the main command has."""
    executor = make(profile)
    events = Events(executor)
    executor.submit(spec(snap, (
        "sleep 300 & echo $! >plain; "
        "{python} -c 'import os, time; os.setpgid(0, 0); time.sleep(300)' & "
        "echo $! >grouped; (trap '' TERM; exec sleep 300) & echo $! >stubborn; "
        "echo main-done"), 1))
    events.wait_end(1, timeout=30)
    assert events.last(1, EXITED).exit_code == 0
    code = trial_dir(profile, 1) / "code"
    pids = [int((code / name).read_text()) for name in ("plain", "grouped", "stubborn")]
    assert all(gone(pid) for pid in pids), pids
