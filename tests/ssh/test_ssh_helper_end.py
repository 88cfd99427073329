"""The SSH trial helper on its own (no sshd): how soon it looks for a trial's end, and
which processes its leftover scan finds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.remote.launcher import END_LEFTOVERS_SH
from app.remote.ssh.scripts import TRIAL_HELPER
from tests.helpers import wait_until

FAKE_SLEEP = """#!/bin/sh
# records each pause the helper asks for; after 30, the trial "ends"
echo "$1" >>"$SLEEPS"
if [ "$(wc -l <"$SLEEPS")" -eq 30 ]; then echo 0 >"$TRIAL/exit_code"; kill "$TRIAL_PID"; fi
"""


def test_the_helper_looks_for_the_end_every_20_ms_for_the_first_half_second(
        tmp_path: Path) -> None:
    """A short trial's end is seen within 20 ms: the helper polled at 20, 50, 100, 200,
    then 500 ms, and saw a 0.2 s trial end 170 ms late (docs/PERFORMANCE.md)."""
    trial, bin_dir = tmp_path / "trial", tmp_path / "bin"
    trial.mkdir()
    bin_dir.mkdir()
    (trial / "output.log").write_text("")
    (bin_dir / "sleep").write_text(FAKE_SLEEP)
    (bin_dir / "sleep").chmod(0o755)
    script = tmp_path / "helper.sh"
    script.write_text(TRIAL_HELPER)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (trial / "pid").write_text(f"{running.pid}\n\n")
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "SLEEPS": str(tmp_path / "sleeps"), "TRIAL": str(trial),
               "TRIAL_PID": str(running.pid)}
        helper = subprocess.Popen(["/bin/sh", str(script), "follow", str(trial), "0",
                                   str(running.pid)], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        assert helper.stderr is not None and helper.stdin is not None
        line = helper.stderr.readline().decode()
        assert line.startswith("@end 0"), line
        helper.stdin.close()
        helper.wait(30)
    finally:
        running.kill()
        running.wait()
    pauses = (tmp_path / "sleeps").read_text().split()[:30]
    assert pauses == ["0.02"] * 25 + ["0.05"] * 5


def test_the_leftover_scan_finds_the_session_whatever_its_processes_are_named(
        tmp_path: Path) -> None:
    """Names with spaces and with ") R 1 7 7" in them: the scan splits a stat line with
    read, and one whose name has a space or a ")" at its last ") " instead."""
    named = ("import ctypes, os, time; os.setpgid(0, 0) if {group} else None; "
             "ctypes.CDLL(None).prctl(15, {name!r}, 0, 0, 0); time.sleep(60)")
    children = " & ".join(
        f"{sys.executable} -c \"{named.format(group=group, name=name)}\""
        for group, name in ((True, b"x) R 1 7 7"), (False, b"a b"), (False, b"plain")))
    leader = subprocess.Popen(["/bin/sh", "-c", f"{children} & wait"], start_new_session=True)
    found: list[int] = []
    try:
        def three() -> bool:  # the leader and its three
            return len(in_session(leader.pid)) == 4
        wait_until(three, 20, "the leader's three processes")
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(10)
        functions = END_LEFTOVERS_SH.split('if [ -n "$w" ]')[0]
        out = subprocess.run(["/bin/sh", "-c", f'{functions}w={leader.pid}\nleftovers\n'
                              'echo "$m"'], capture_output=True, text=True, check=True)
        found = [int(pid) for pid in out.stdout.split()]
        assert len(found) == 3, out.stdout
        for pid in found:
            assert os.getsid(pid) == leader.pid
    finally:
        for pid in found:  # orphans now: their zombies go when this machine's init reaps
            os.kill(pid, signal.SIGKILL)


def in_session(session: int) -> list[int]:
    """The pids in ``session``."""
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.getsid(int(name)) == session:
                found.append(int(name))
        except OSError:
            continue
    return found


def test_the_leftover_scan_finds_a_process_whose_name_holds_a_newline(tmp_path: Path) -> None:
    """A name may hold a newline (prctl): its stat file is then two lines, and the scan
    reads the whole file (the shell's read of one line missed such a process)."""
    named = ("import ctypes, time; ctypes.CDLL(None).prctl(15, b'a\\nb) S 1', 0, 0, 0); "
             "time.sleep(60)")
    leader = subprocess.Popen(["/bin/sh", "-c", f'{sys.executable} -c "{named}" & wait'],
                              start_new_session=True)
    found: list[int] = []
    try:
        wait_until(lambda: len(in_session(leader.pid)) == 2, 20, "the leader's process")
        (child,) = set(in_session(leader.pid)) - {leader.pid}
        wait_until(lambda: "\n" in Path(f"/proc/{child}/stat").read_text(), 20,
                   "the process to take its name")
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(10)
        functions = END_LEFTOVERS_SH.split('if [ -n "$w" ]')[0]
        out = subprocess.run(["/bin/sh", "-c", f'{functions}w={leader.pid}\nleftovers\n'
                              'echo "$m"'], capture_output=True, text=True, check=True)
        found = [int(pid) for pid in out.stdout.split()]
        assert found == [child], out.stdout
    finally:
        for pid in found or in_session(leader.pid):
            os.kill(pid, signal.SIGKILL)
