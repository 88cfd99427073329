"""A server that vanishes mid-trial (its sshd killed): trials are LOST after the
offline timeout, or followed to the end with nothing lost when it comes back in time;
a stop already sent still ends the trial."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind, Snapshot
from app.remote.ssh.executor import SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.scripts import STOP_HELPER_NAME
from app.remote.ssh.trial import MAX_FOLLOW_FAILURES
from tests.helpers import wait_until
from tests.remote.remote_support import Events, group_gone, spec
from tests.ssh.sshd import Sshd, gone

CMD = "{python} trial.py"
LOST = ProcessEventKind.LOST
OUTPUT = ProcessEventKind.OUTPUT
STARTED = ProcessEventKind.STARTED


@pytest.fixture
def executors(known_hosts: KnownHosts) -> Iterator[list[SshExecutor]]:
    made: list[SshExecutor] = []
    yield made
    for executor in made:
        executor.close()


def connect(profile: ServerProfile, known_hosts: KnownHosts, made: list[SshExecutor],
            offline_timeout: float) -> SshExecutor:
    executor = SshExecutor(profile, Secrets(), known_hosts, grace=2.0,
                           offline_timeout=offline_timeout)
    made.append(executor)
    executor.connect()
    return executor


def trial_dir(profile: ServerProfile, trial_id: int) -> Path:
    return Path(profile.workdir) / "7" / str(trial_id)


def test_trials_of_a_vanished_server_are_lost_after_the_timeout(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts, snap: Snapshot,
    executors: list[SshExecutor],
) -> None:
    executor = connect(profile, known_hosts, executors, offline_timeout=1.5)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " wait", 1))
    events.wait_line(1, "waiting ")
    pid = events.last(1, STARTED).pid
    assert pid is not None and executor.status().running == 1
    ssh_server.kill()
    wait_until(lambda: not executor.online, 10, "the server to be seen offline")
    assert executor.free_slots() == 0 and not executor.status().online
    wait_until(lambda: executor.busy_reason().startswith("lab1 is offline: "), 10,
               "the reason to name the failed reconnect")
    events.pump(lambda: bool([e for e in events.of(1) if e.kind is LOST]), 20, "LOST")
    lost = events.last(1, LOST)
    assert lost.message == ("server lab1 has not answered for 1.5 s; trial 1 is lost "
                            "(it may still be running there)")
    assert events.of(1)[-1] is lost and executor.status().running == 0
    assert not gone(pid)  # the trial itself survived the server's sshd
    ssh_server.start()
    wait_until(lambda: executor.free_slots() == 4, 30, "reconnection with its slots free")
    (trial_dir(profile, 1) / "go").touch()
    wait_until(lambda: gone(pid), 10, "the trial to end")
    events.all.extend(executor.poll(0.5))
    assert events.of(1)[-1] is lost  # nothing after it: it is never counted twice


def test_a_server_back_in_time_is_followed_on_with_no_line_lost_or_repeated(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts, snap: Snapshot,
    executors: list[SshExecutor],
) -> None:
    executor = connect(profile, known_hosts, executors, offline_timeout=60)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " lines", 1))
    events.wait_line(1, "line 299")
    ssh_server.kill()
    wait_until(lambda: not executor.online, 10, "the server to be seen offline")
    (trial_dir(profile, 1) / "go").touch()  # it writes the rest while we cannot see it
    wait_until(lambda: (trial_dir(profile, 1) / "exit_code").exists(), 10, "the trial end")
    ssh_server.start()
    events.wait_end(1, timeout=40)
    assert events.lines(1) == [f"line {i}" for i in range(600)] + ["partial without newline"]
    assert events.last(1, ProcessEventKind.EXITED).exit_code == 5
    assert LOST not in [e.kind for e in events.of(1)]
    offsets = [e.offset for e in events.of(1) if e.kind is OUTPUT]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert executor.online and executor.free_slots() == 4


def test_a_stop_sent_before_the_server_vanishes_still_ends_the_trial(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts, snap: Snapshot,
    executors: list[SshExecutor],
) -> None:
    executor = connect(profile, known_hosts, executors, offline_timeout=60)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " ignore", 1))
    events.wait_line(1, "child ready")
    pid = events.last(1, STARTED).pid
    assert pid is not None
    executor.stop(1, grace=0.5)
    wait_until(_stop_helper_running, 10, "the stop escalation to run on the server")
    ssh_server.kill()
    wait_until(lambda: group_gone(pid), 10, "the trial's group to be gone")
    assert (trial_dir(profile, 1) / "exit_code").exists() is False  # SIGKILLed wrapper


def _stop_helper_running() -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if STOP_HELPER_NAME.encode() in cmdline:
                return True
    return False


def _followers(trial: Path) -> set[int]:
    """The pids of this machine's processes following ``trial``'s log (the server's
    helper runs here: the sshd is local)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            words = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"follow" in words and str(trial).encode() in words:
            found.add(int(proc.name))
    return found


def test_a_server_that_keeps_dropping_never_ends_a_quiet_trial_early(
    ssh_server: Sshd, profile: ServerProfile, known_hosts: KnownHosts, snap: Snapshot,
    executors: list[SshExecutor],
) -> None:
    """Under load a server's connections drop again and again (pings time out); a trial
    that printed nothing meanwhile was given up after 5 such drops ("following the log
    failed") and ended, though it ran on: whatever it printed after was lost."""
    executor = connect(profile, known_hosts, executors, offline_timeout=60)
    events = Events(executor)
    executor.submit(spec(snap, CMD + " wait", 1))
    events.wait_line(1, "waiting ")
    trial = trial_dir(profile, 1)
    seen: set[int] = set()
    for drop in range(MAX_FOLLOW_FAILURES + 2):  # its launch's channel follows it first
        ssh_server.kill()
        wait_until(lambda: not executor.online, 10, "the server to be seen offline")
        ssh_server.start()
        known = frozenset(seen)
        wait_until(lambda known=known: bool(_followers(trial) - known), 30,
                   f"its log followed again after drop {drop + 1}")
        seen |= _followers(trial)
    (trial / "go").touch()
    events.wait_end(1, timeout=40)
    ended = events.last(1, ProcessEventKind.EXITED)
    assert ended.exit_code == 0 and not ended.message, ended.message
