"""The detached trial process: its POSIX sh wrapper, its files, and its process group.

A trial directory holds::

    code/         its own copy of the code snapshot (the command's working directory)
    params.json   the parameters, nested and dotted (``SWEEPLAB_PARAMS``)
    sdk/          ``sweeplab.py``, first on the trial's ``PYTHONPATH``
    launch.sh     the wrapper below (copied in, so a remote host needs only /bin/sh)
    output.log    stdout and stderr of the command, appended
    pid           line 1: the wrapper's pid (= its process group and session id);
                  line 2: its start time in clock ticks since boot (field 22 of
                  /proc/PID/stat; empty where there is no /proc); or ``abandoned``
                  when a resume claimed the trial first (see :func:`claim_launch`)
    exit_code     the command's exit status, written (one write) when it ends;
                  128+N when signal N killed it; absent if the wrapper was SIGKILLed

The wrapper is started in a new session (``setsid``), so it survives the app and a
stop signal reaches every process of the trial through the process group. It traps
INT and TERM with a command (``trap ':'``), which keeps it alive to write
``exit_code`` while the command, run in the foreground, gets default dispositions
(a trap with a command is reset on exec; an ignored one would be inherited, and a
background ``&`` job of a non-interactive sh gets SIGINT ignored).

The command itself runs in a child ``sh -c`` (dash does not exec even a simple
command there) that traps INT and TERM with ``exit $?``: it waits for the program in
the foreground, then exits with that program's status and runs nothing more of the
command. Without the trap, that sh would die of the SIGINT a trial catches, and the
trial's clean exit 0 would be recorded as 130.

The ``/proc`` helpers are Linux-only; elsewhere they report nothing running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.params import flatten, params_document
from app.engine.protocol import (
    ENV_MAX_EPOCHS,
    ENV_PARAMS,
    ENV_TRIAL_DIR,
    ENV_TRIAL_ID,
    PYTHON_PLACEHOLDER,
    render_command,
)
from app.engine.records import LaunchClaim, TrialSpec

CODE_DIR = "code"
PARAMS_FILE = "params.json"
SDK_DIR = "sdk"
LAUNCH_FILE = "launch.sh"
LOG_FILE = "output.log"
PID_FILE = "pid"
EXIT_CODE_FILE = "exit_code"
ABANDONED = "abandoned"
"""What a resume writes into ``pid`` when it claims a trial whose wrapper never ran."""
CLAIM_WAIT_S = 2.0
"""How long :func:`claim_launch` waits for a wrapper that created ``pid`` to fill it."""
_PROC = Path("/proc")
_POLL_S = 0.02
KILL_WAIT_S = 5.0
"""How long :func:`stop_group` waits for the kernel after SIGKILL."""

LAUNCH_SCRIPT = r"""#!/bin/sh
# Sweeplab trial wrapper. Usage: sh launch.sh TRIAL_DIR CODE_DIR COMMAND
# Runs COMMAND with /bin/sh -c in CODE_DIR, output appended to TRIAL_DIR/output.log;
# writes TRIAL_DIR/pid at the start and TRIAL_DIR/exit_code at the end.
trial_dir=$1
code_dir=$2
command=$3
cd "$trial_dir" || exit 125
exec >>output.log 2>&1 </dev/null
start=
if read -r stat </proc/$$/stat 2>/dev/null; then
    set -f
    set -- ${stat##*) }
    start=${20}
fi
# One short printf is one write(): a reader sees an empty file or all of it (and
# treats empty as "not yet"), so no temporary file and no mv process are needed.
# The claim: pid is created exclusively (noclobber, O_EXCL). A resume that finds the
# trial not started claims it the same way; whoever creates pid first wins, and a
# wrapper that loses runs nothing.
set -C
{ printf '%s\n%s\n' "$$" "$start" >pid; } 2>/dev/null || exit 0
set +C
trap ':' INT TERM
if cd "$code_dir"; then
    /bin/sh -c 'trap "exit \$?" INT TERM; eval "$1"' sweeplab "$command"
    status=$?
else
    status=126
fi
cd "$trial_dir" || exit "$status"
printf '%s\n' "$status" >exit_code
exit "$status"
"""


@dataclass(frozen=True)
class PidRecord:
    """What a ``pid`` file says: the wrapper's pid and its start time (None if unknown)."""

    pid: int
    start_time: int | None


def write_launcher(trial_dir: Path) -> Path:
    """Put ``launch.sh`` into ``trial_dir`` and return its path."""
    path = trial_dir / LAUNCH_FILE
    path.write_text(LAUNCH_SCRIPT, encoding="utf-8")
    path.chmod(0o755)
    return path


def params_json(params: Mapping[str, Any]) -> str:
    """The text of ``params.json``: the params nested and dotted, numpy scalars and
    arrays as plain JSON values.

    Raises:
        TypeError: a parameter value JSON cannot hold.
    """
    return json.dumps(params_document(params), indent=2, default=_json_value)


def command_line(spec: TrialSpec, python: str, params_path: str) -> str:
    """The trial's command with ``{python}``, ``{params_file}`` and its dotted params
    filled in.

    Raises:
        ValueError: the command names an unknown placeholder.
    """
    names = {PYTHON_PLACEHOLDER: python, **flatten(spec.params)}
    return render_command(spec.command, names, params_path)


def _json_value(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"parameter value {value!r} of type {type(value).__name__} is not JSON")


def trial_environment(
    spec: TrialSpec, trial_dir: Path, gpus: Sequence[int], base: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a trial: ``base``, then ``spec.env``, then the protocol's own.

    Sets ``SWEEPLAB_PARAMS`` (``trial_dir/params.json``), ``SWEEPLAB_TRIAL_ID``,
    ``SWEEPLAB_TRIAL_DIR``, ``SWEEPLAB_MAX_EPOCHS`` (only when the spec has a limit),
    ``PYTHONUNBUFFERED=1``, ``CUDA_VISIBLE_DEVICES`` (the trial's GPUs, "" for none),
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` unless given (so CUDA numbers GPUs as nvidia-smi
    does), and puts ``trial_dir/sdk`` first on ``PYTHONPATH``.
    """
    env = {**base, **spec.env}
    env.pop(ENV_MAX_EPOCHS, None)
    if spec.max_epochs is not None:
        env[ENV_MAX_EPOCHS] = str(spec.max_epochs)
    env[ENV_PARAMS] = str(trial_dir / PARAMS_FILE)
    env[ENV_TRIAL_ID] = str(spec.trial_id)
    env[ENV_TRIAL_DIR] = str(trial_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in gpus)
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    old_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(trial_dir / SDK_DIR) + (os.pathsep + old_path if old_path else "")
    return env


def launch(
    trial_dir: Path, code_dir: Path, command: str, env: Mapping[str, str],
    *, pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start the wrapper detached in its own session; returns at once.

    ``output.log`` is created first, so a follower can open it straight away.
    ``pass_fds`` stay open in the trial's processes (its slot locks).

    Raises:
        OSError: ``/bin/sh`` cannot be started.
    """
    trial_dir = trial_dir.resolve()
    script = write_launcher(trial_dir)
    (trial_dir / LOG_FILE).touch()
    return subprocess.Popen(
        ["/bin/sh", str(script), str(trial_dir), str(code_dir.resolve()), command],
        cwd=trial_dir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        pass_fds=tuple(pass_fds),
    )


def read_pid_file(trial_dir: Path) -> PidRecord | None:
    """The trial's ``pid`` file, or None while it is missing or unreadable."""
    try:
        lines = (trial_dir / PID_FILE).read_text(encoding="ascii").splitlines()
        start = lines[1].strip() if len(lines) > 1 else ""
        return PidRecord(int(lines[0]), int(start) if start else None)
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def claim_launch(trial_dir: Path) -> LaunchClaim:
    """For a resume: claim a trial whose launch intent was stored but whose start was
    not, by creating its ``pid`` file exclusively, as its wrapper does.

    STARTED when the wrapper created it first (it runs or ran; its ``pid`` is filled
    in within :data:`CLAIM_WAIT_S`), ABANDONED when this call did (or an earlier
    resume did): the wrapper, however late it starts, runs nothing then. A missing
    folder is created for the claim.

    Raises:
        OSError: the folder or file cannot be written.
    """
    trial_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = trial_dir / PID_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            text = path.read_text(encoding="ascii", errors="replace").strip()
            if text == ABANDONED:
                return LaunchClaim.ABANDONED
            if text or time.monotonic() >= deadline:
                return LaunchClaim.STARTED
            time.sleep(_POLL_S)
    try:
        os.write(fd, f"{ABANDONED}\n".encode("ascii"))
    finally:
        os.close(fd)
    return LaunchClaim.ABANDONED


def read_exit_code(trial_dir: Path) -> int | None:
    """The trial's exit status, or None while (or if) ``exit_code`` is absent."""
    try:
        return int((trial_dir / EXIT_CODE_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` this module needs."""

    state: str
    pgrp: int
    start_time: int


def proc_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` of a process, or None if there is no such process."""
    try:
        text = (_PROC / str(pid) / "stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name may hold spaces and ')'
    try:
        return ProcStat(state=fields[0], pgrp=int(fields[2]), start_time=int(fields[19]))
    except (IndexError, ValueError):
        return None


def is_alive(pid: int, start_time: int | None = None) -> bool:
    """Whether ``pid`` runs (zombies count as gone) and, if given, started at ``start_time``.

    The start time tells the trial's wrapper from an unrelated process that got its
    pid after a reboot or pid wrap-around.
    """
    stat = proc_stat(pid)
    if stat is None or stat.state in ("Z", "X", "x"):
        return False
    return start_time is None or stat.start_time == start_time


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``."""
    members: list[int] = []
    try:
        names = os.listdir(_PROC)
    except OSError:
        return members
    for name in names:
        if name.isdigit():
            stat = proc_stat(int(name))
            if stat is not None and stat.pgrp == pgid and stat.state not in ("Z", "X", "x"):
                members.append(int(name))
    return members


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the group if any live process is in it; False if none was."""
    if not group_members(pgid):
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until no live process is left in ``pgid``; True if it emptied in time."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(_POLL_S, remaining))
    return True


def stop_group(pgid: int, grace: float) -> bool:
    """SIGINT the group, SIGTERM after ``grace`` s, SIGKILL after another ``grace``.

    Blocks until the group is empty (run it in a thread). Returns True when no live
    process of the group remains.
    """
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, grace),
                      (signal.SIGKILL, KILL_WAIT_S)):
        if not signal_group(pgid, sig):
            return True
        if wait_group_gone(pgid, wait):
            return True
    return not group_members(pgid)
