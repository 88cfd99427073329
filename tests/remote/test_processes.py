"""app.engine.processes on real processes: members of a trial, and ending its leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from app.engine.processes import end_leftovers, is_alive, members
from tests.helpers import wait_until


def test_leftovers_are_ended_only_once_their_leader_is_gone() -> None:
    leader = subprocess.Popen(
        ["/bin/sh", "-c", f"sleep 300 & {sys.executable} -c 'import os, time; "
         "os.setpgid(0, 0); time.sleep(300)' & wait"], start_new_session=True)
    try:
        wait_until(lambda: len(members(leader.pid)) == 3, 20, "the leader and two children")
        children = [pid for pid in members(leader.pid) if pid != leader.pid]
        assert end_leftovers(leader.pid, grace=0.1) == []  # the leader runs: not yet
        assert all(is_alive(pid) for pid in children)
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(10)
        assert sorted(end_leftovers(leader.pid, grace=2.0)) == sorted(children)
        assert members(leader.pid) == [] and not any(is_alive(pid) for pid in children)
        assert end_leftovers(leader.pid, grace=0.1) == []  # nothing left: at once
    finally:
        for pid in members(leader.pid):
            os.kill(pid, signal.SIGKILL)
        if leader.poll() is None:
            leader.kill()
            leader.wait()
