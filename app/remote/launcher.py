"""The detached trial process: its POSIX sh wrapper, its files, and its process group.

A trial directory holds::

    code/         its own copy of the code snapshot (the command's working directory)
    params.json   the parameters, nested and dotted (``SWEEPLAB_PARAMS``)
    auptimizer.json  the dotted parameters as top-level keys (``{aup_params}``)
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

Signals: :func:`launch` starts the wrapper with every signal at its default
disposition and none blocked (``posix_spawn``), however Sweeplab itself was started:
a signal ignored on entry to a non-interactive sh can be neither trapped nor reset
there, and ``nohup``, ``&`` in a script, some launchers and service managers start
Sweeplab with SIGINT ignored, which every trial would inherit.

Process facts (alive, group members, waiting) come from :mod:`app.engine.processes`.
POSIX only (Linux, macOS); on Windows :func:`launch` is never called (see
:class:`~app.remote.local.LocalExecutor`).
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.params import flatten, params_document
from app.engine.processes import (
    LEFTOVER_GRACE_S,
    group_members,
    signal_group,
    wait_group_gone,
)
from app.engine.protocol import (
    CHECKPOINT_DIR,
    ENV_CHECKPOINT_DIR,
    ENV_MAX_EPOCHS,
    ENV_PARAMS,
    ENV_RESTORE_DIR,
    ENV_START_STEP,
    ENV_TRIAL_DIR,
    ENV_TRIAL_ID,
    PYTHON_PLACEHOLDER,
    RESTORE_DIR,
    render_command,
)
from app.engine.records import LaunchClaim, TrialSpec

CODE_DIR = "code"
PARAMS_FILE = "params.json"
AUP_PARAMS_FILE = "auptimizer.json"
SDK_DIR = "sdk"
LAUNCH_FILE = "launch.sh"
LOG_FILE = "output.log"
PID_FILE = "pid"
EXIT_CODE_FILE = "exit_code"
ABANDONED = "abandoned"
"""What a resume writes into ``pid`` when it claims a trial whose wrapper never ran."""
CLAIM_WAIT_S = 2.0
"""How long :func:`claim_launch` waits for a wrapper that created ``pid`` to fill it."""
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

END_LEFTOVERS_SH = r"""# Sweeplab: end what a finished trial left running. $w: the pid that
# leads its process group or session (the wrapper's, or this shell's own). Every
# process of that group or session but this shell gets SIGTERM, and SIGKILL if
# still there after the grace. Not while another process with pid $w runs: that is
# the wrapper still writing its end, or a process that got its pid later (then
# nothing of the trial is left). Linux (/proc) only; sets i, m, n, f, st.
runs() {
    st=
    read -r st 2>/dev/null <"/proc/$1/stat" || return 1
    set -f
    set -- ${st##*) }
    set +f
    case $1 in Z|X|x) return 1 ;; esac
}
# One awk reads every /proc/PID/stat ("pid (name) state ppid pgrp session ...", cut at
# the name's last ") ": a name may hold spaces, ")" and newlines). The shell's read
# takes a byte per system call: its scan cost ~70 ms of CPU with 400 processes, in
# every Slurm job, where a hundred at once made their dispatch twice as slow. Neither
# this shell, awk nor awk's parent (a subshell for $(...)) count; a file gone before
# awk opens it is skipped.
leftovers() {
    m=$(awk -v w="$w" -v me="$$" 'BEGIN {
        getline st <"/proc/self/stat"; close("/proc/self/stat")
        split(st, x, " "); self = x[1]; sub(/.*\) /, "", st); split(st, x, " "); up = x[2]
        for (i = 1; i < ARGC; i++) {
            st = ""; f = ARGV[i]
            while ((getline line <f) > 0) st = st (st == "" ? "" : "\n") line
            close(f)
            pid = st; sub(/ .*/, "", pid)
            if (!sub(/.*\) /, "", st) || pid == me || pid == self || pid == up) continue
            split(st, x, " ")
            if (x[1] != "Z" && x[1] != "X" && x[1] != "x" && (x[3] == w || x[4] == w))
                printf " %s", pid
        }
    }' /proc/[0-9]*/stat 2>/dev/null)
    [ -n "$m" ]
}
still() {
    n=
    for f in $m; do if runs "$f"; then n="$n $f"; fi; done
    m=$n
    [ -n "$m" ]
}
if [ -n "$w" ] && [ -r /proc/self/stat ]; then
    i=0
    while [ "$w" != $$ ] && runs "$w" && [ "$i" -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
    if { [ "$w" = $$ ] || ! runs "$w"; } && leftovers; then
        kill -s TERM $m 2>/dev/null
        i=0
        while [ "$i" -lt @STEPS@ ] && still; do sleep 0.05; i=$((i + 1)); done
        if leftovers; then kill -s KILL $m 2>/dev/null; fi
    fi
fi
""".replace("@STEPS@", str(round(LEFTOVER_GRACE_S / 0.05)))
"""The shell twin of :func:`app.engine.processes.end_leftovers`, for the SSH trial helper
and the Slurm job script (POSIX sh; ``/proc``, so Linux servers and clusters)."""


@dataclass(frozen=True)
class PidRecord:
    """What a ``pid`` file says: the wrapper's pid and its start time (None if unknown)."""

    pid: int
    start_time: int | None


def segment_folder(trial_id: int, segment: int = 0) -> str:
    """The name of a trial's folder: ``<trial_id>``, or ``<trial_id>.N`` for segment
    N > 0 of a PBT trial (its own folder, the donor's checkpoint copied in)."""
    return str(trial_id) if segment == 0 else f"{trial_id}.{segment}"


def pack_folder(folder: Path) -> bytes:
    """A folder's content as a ``.tar.gz`` (a checkpoint carried to another host).

    Raises:
        OSError: it cannot be read (gone, unreadable).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for entry in sorted(folder.iterdir()):
            tar.add(entry, arcname=entry.name)
    return buffer.getvalue()


def unpack_folder(archive: bytes, folder: Path) -> None:
    """Unpack :func:`pack_folder`'s archive into ``folder`` (created): plain files and
    folders only, each inside it.

    Raises:
        OSError: it cannot be written, or the archive is not such a folder.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                parts = posixpath.normpath(member.name).split("/")
                if (member.name.startswith("/") or ".." in parts
                        or not (member.isfile() or member.isdir())):
                    raise OSError(f"a checkpoint archive holds {member.name!r}, which is "
                                  "not a plain file or folder inside it")
            tar.extractall(folder, members=members)  # every member checked above
    except tarfile.TarError as exc:
        raise OSError(f"not a checkpoint archive: {exc}") from exc


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


def aup_params_json(params: Mapping[str, Any]) -> str:
    """The text of ``auptimizer.json``: one top-level key per dotted name, as an
    Auptimizer script reads it (``BasicConfig().load(sys.argv[1])``, then ``config.lr``
    or ``config["optimizer.lr"]``).

    Raises:
        TypeError: a parameter value JSON cannot hold.
    """
    return json.dumps(flatten(params), indent=2, default=_json_value)


def command_line(spec: TrialSpec, python: str, params_path: str) -> str:
    """The trial's command with ``{python}``, ``{params_file}``, ``{aup_params}`` (the
    ``auptimizer.json`` beside ``params_path``) and its dotted params filled in.

    Raises:
        ValueError: the command names an unknown placeholder.
    """
    names = {PYTHON_PLACEHOLDER: python, **flatten(spec.params)}
    aup_path = posixpath.join(posixpath.dirname(params_path), AUP_PARAMS_FILE)
    return render_command(spec.command, names, params_path, aup_path)


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
    ``SWEEPLAB_CHECKPOINT_DIR`` (``trial_dir/checkpoint``), ``SWEEPLAB_START_STEP``,
    ``SWEEPLAB_RESTORE_DIR`` (``trial_dir/restore``, only when the spec restores),
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
    env[ENV_CHECKPOINT_DIR] = str(trial_dir / CHECKPOINT_DIR)
    env[ENV_START_STEP] = str(spec.start_step)
    env.pop(ENV_RESTORE_DIR, None)
    if spec.restore_from is not None or spec.restore_archive is not None:
        env[ENV_RESTORE_DIR] = str(trial_dir / RESTORE_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in gpus)
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    old_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(trial_dir / SDK_DIR) + (os.pathsep + old_path if old_path else "")
    return env


def launch(
    trial_dir: Path, code_dir: Path, command: str, env: Mapping[str, str],
    *, pass_fds: Sequence[int] = (), script: Path | None = None,
) -> TrialProcess:
    """Start the wrapper detached in its own session; returns at once.

    The wrapper starts with default dispositions for every signal and an empty
    signal mask, stdin/stdout/stderr on ``/dev/null``. ``output.log`` is created
    first, so a follower can open it straight away. ``pass_fds`` stay open in the
    trial's processes (its slot locks), under other numbers; the caller's own copies
    are untouched (no other process started meanwhile, from any thread, gets them).
    ``script``: ``launch.sh`` already in ``trial_dir`` (else it is written here).
    Relative folders are made absolute (absolute ones are used as they are).

    Raises:
        OSError: ``/bin/sh`` cannot be started.
    """
    if not trial_dir.is_absolute():
        trial_dir = trial_dir.resolve()
    if not code_dir.is_absolute():
        code_dir = code_dir.resolve()
    if script is None:
        script = write_launcher(trial_dir)
    os.close(os.open(trial_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
    argv = ["/bin/sh", str(script), str(trial_dir), str(code_dir), command]
    try:
        pid = os.posix_spawn("/bin/sh", argv, dict(env), file_actions=_file_actions(pass_fds),
                             setsid=True, setsigmask=(), setsigdef=_DEFAULT_SIGNALS)
    except NotImplementedError as exc:  # pragma: no cover - a libc without POSIX_SPAWN_SETSID
        raise OSError(f"cannot start a trial in its own session here: {exc}") from exc
    return TrialProcess(pid)


_DEFAULT_SIGNALS = frozenset(
    sig for sig in signal.Signals
    if sig not in (signal.SIGKILL, signal.SIGSTOP)) if os.name == "posix" else frozenset()
"""Every named signal a process may handle: a trial gets each at its default."""


def _file_actions(pass_fds: Sequence[int]) -> list[tuple[Any, ...]]:
    """``posix_spawn`` file actions: stdin, stdout and stderr on ``/dev/null`` and
    ``pass_fds`` inherited, under other numbers (a dup2'ed descriptor is inherited; the
    originals stay close-on-exec, so no process another thread starts meanwhile gets
    them).

    Where Python has ``POSIX_SPAWN_CLOSEFROM`` (3.13), ``pass_fds`` end up on 3, 4, ...
    and every descriptor above them is closed, as ``close_fds`` does; before 3.13 a
    descriptor this process inherited without close-on-exec (Python opens none such)
    reaches the trial too.
    """
    actions: list[tuple[Any, ...]] = []
    above = max((*pass_fds, 2)) + 1  # above every source: no dup2 hits one not yet copied
    for index, fd in enumerate(pass_fds):
        actions.append((os.POSIX_SPAWN_DUP2, fd, above + index))
    closefrom = getattr(os, "POSIX_SPAWN_CLOSEFROM", None)
    if closefrom is not None:  # then down to 3, 4, ... (all still above 3 + n)
        for index in range(len(pass_fds)):
            actions.append((os.POSIX_SPAWN_DUP2, above + index, 3 + index))
        actions.append((closefrom, 3 + len(pass_fds)))
    actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    actions.append((os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0))
    actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
    return actions


class TrialProcess:
    """The wrapper process :func:`launch` started (this process is its parent).

    ``poll`` and ``wait`` may be called from different threads: one waitpid at a time
    reaps it, and both then report the same status.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        """The exit status (``-N`` for signal N) once it ended, else None (never blocks)."""
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                self._reap(os.WNOHANG)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until it ends and return its exit status.

        Raises:
            subprocess.TimeoutExpired: it still runs after ``timeout`` s.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while True:
            if deadline is None:
                with self._lock:
                    self._reap(0)
            elif self.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(["/bin/sh", LAUNCH_FILE], timeout or 0)
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
            if self.returncode is not None:
                return self.returncode

    def _reap(self, flags: int) -> None:
        if self.returncode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped elsewhere: its status is lost
            self.returncode = 255
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


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
