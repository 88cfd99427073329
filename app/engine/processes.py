"""Facts about this machine's processes, on psutil: the one place every caller asks.

Whether a process still runs (a zombie does not) and is the one a ``pid`` file names,
which processes belong to a trial, signalling them, and waiting for them to end.
The trial executors (:mod:`app.remote.launcher`, :mod:`app.remote.local`) and the
experiment lease (:mod:`app.engine.lease`) all use these functions, so Linux and macOS
answer the same way (there is no ``/proc`` on macOS).

A trial is a *leader* (its wrapper, started in a new session, so its pid is its
process group id and its session id) and every process in that group or session.
A process that starts a session of its own (a daemon) has left the trial.

Start times: the trial wrapper writes its start in clock ticks since boot (field 22
of ``/proc/PID/stat``, empty where there is no ``/proc``); :func:`is_alive` compares
that with psutil's creation time within :data:`START_SLACK_S`, which tells the
wrapper from a process that got its pid after a reboot or a pid wrap-around.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress

import psutil

START_SLACK_S = 1.0
"""How far a process's creation time may be from the recorded start and still match
(clock ticks are rounded, and the boot time psutil adds moves with clock steps)."""
POLL_S = 0.02
"""How often :func:`wait_group_gone` and :func:`end_leftovers` look again."""
LEFTOVER_GRACE_S = 5.0
"""Seconds between the SIGTERM and the SIGKILL that end what a finished trial left
running (:func:`end_leftovers`, and the SSH trial helper's shell twin)."""
_ENDED = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 100


CLOCK_TICKS = _clock_ticks()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() not in _ENDED
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process that exists


def is_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether ``pid`` runs (a zombie counts as ended) and, if ``start_ticks`` is
    given, started then (clock ticks since boot, as a ``pid`` file records it)."""
    if pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # pragma: no cover - exists, but is not ours
        return start_ticks is None
    if not _running(proc):
        return False
    if start_ticks is None:
        return True
    try:
        started = float(proc.create_time())
        booted = float(psutil.boot_time())
    except psutil.Error:
        return False
    return abs(started - (booted + start_ticks / CLOCK_TICKS)) <= START_SLACK_S


def members(leader: int) -> list[int]:
    """Pids of the live processes in the process group or the session ``leader`` leads
    (the leader itself included while it runs)."""
    return _live_where(lambda pid: os.getpgid(pid) == leader or os.getsid(pid) == leader,
                       leader)


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``."""
    return _live_where(lambda pid: os.getpgid(pid) == pgid, pgid)


def _live_where(belongs: Callable[[int], bool], leader: int) -> list[int]:
    if leader <= 0:
        return []
    found: list[int] = []
    for pid in psutil.pids():
        try:
            if belongs(pid) and _running(psutil.Process(pid)):
                found.append(pid)
        except (OSError, psutil.Error):  # gone meanwhile, or not ours to ask about
            continue
    return found


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to process group ``pgid`` if a live process is in it; False if none."""
    if not group_members(pgid):
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait until no live process is left in group ``pgid``; True if it emptied in time."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(POLL_S, remaining))
    return True


def end_leftovers(leader: int, grace: float = LEFTOVER_GRACE_S,
                  kill_wait: float = 5.0) -> list[int]:
    """End what a finished trial left running: every live process of the group or
    session ``leader`` led gets SIGTERM, and SIGKILL if still there after ``grace`` s.

    Call it once the leader has ended. Nothing is done while a process with the
    leader's pid runs: either the leader still runs, or its pid went to an unrelated
    process, which the kernel does only once no group or session holds that id, so
    nothing of the trial is left. Blocks (up to ``grace`` + ``kill_wait`` s).

    Returns:
        The pids that were signalled (empty when nothing was left).
    """
    if leader <= 0 or is_alive(leader):
        return []
    found = members(leader)
    if not found:
        return []
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_wait)):
        left = [pid for pid in found if is_alive(pid)]
        for pid in left:
            with suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(is_alive(pid) for pid in left) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if not any(is_alive(pid) for pid in left):
            break
    return found
