"""What runs on a server: POSIX sh helpers, the command lines that start them, payloads.

Nothing here does I/O. The server needs ``/bin/sh``, ``tar``, ``gzip``, ``head``,
``tail``, ``setsid`` and ``/proc`` (Linux); nothing is installed but two small helper
scripts, written into ``<workdir>/.sweeplab/`` by :func:`hello_script` under names
that carry their content hash (so an upgraded app never runs a stale helper).

**trial helper** (:data:`TRIAL_HELPER`), one exec channel per trial:

- ``launch DIR SNAPSHOT TAR_BYTES CMD_BYTES PLACES [RESTORE]``: first, for each ``gpuN:K`` of
  PLACES, an exclusive ``flock`` on one of ``.sweeplab/slots/gpuN.0.lock`` ..
  ``gpuN.{K-1}.lock``, held on fds 4-9, which the trial inherits: two runs sharing the
  server's work folder (two experiments, two programs, two machines) never put more
  than K trials on one GPU; ``@busy gpuN`` (and nothing done) when a GPU has no free
  place. Without ``flock`` (util-linux) nothing is locked. Then stdin brings a tar of
  the trial's own files (``params.json``, ``sdk/``, ``launch.sh``) and then the
  command; the helper
  makes DIR (an old one is removed unless its wrapper runs), unpacks the code snapshot
  into ``DIR/code``, copies the folder RESTORE (a donor's checkpoint under PBT, on
  this server) to ``DIR/restore`` (or unpacks it there and removes it, when it is a
  ``.tar.gz`` brought from another host), says ``@ready`` and waits for the client's
  ``go`` line (sent once the client has stored the trial's folder, its launch
  intent; without it, say when the client died, nothing starts), starts the wrapper of
  :mod:`app.remote.launcher` with ``setsid -f`` (its own session and process group),
  reads its pid from the ``pid`` file and says ``@started PID``; then it follows like
  ``follow`` from offset 0. The wrapper is started in the foreground (``setsid -f``
  forks): a background ``&`` job of a non-interactive dash gets SIGINT ignored, for
  good, and the trial would never see the stop signal. Where GNU ``env`` has
  ``--default-signal`` (coreutils 8.31 and later) it starts the wrapper with every
  signal at its default; sshd starts a session's commands so anyway.
- ``follow DIR OFFSET [PID]``: streams ``output.log`` from byte OFFSET on stdout
  (``tail -c +N -f``) and polls for the end (every 20 ms for the first 0.5 s, backing
  off to 500 ms after 8.5 s): ``exit_code`` is written, or the wrapper is gone (a
  zombie counts as gone; a pid reused by another process, told apart by the start
  time in the ``pid`` file, too).

Once the trial's main command has ended (and its wrapper is gone), what it left
running in its process group or session gets SIGTERM, and SIGKILL if still there
after :data:`~app.engine.processes.LEFTOVER_GRACE_S` (Linux: the processes are found
in ``/proc``). At the end it says ``@end CODE SIZE`` (CODE empty when ``exit_code`` is missing; SIZE
the log's size then). The client reads stdout up to SIZE and closes the channel; the
helper stops its ``tail`` when its stdin reaches end of file, which also happens when
the connection drops, so nothing is left behind. ``@failed WHY`` replaces
``@started`` when the trial could not be set up. Control lines go to stderr; every
other stderr line is a diagnostic (the message of a failing ``tar``, say).

**stop helper** (:data:`STOP_HELPER`): ``DIR STEPS PID`` sends SIGINT to the process
group PID (checked against the ``pid`` file's start time), SIGTERM when it is still
there after STEPS x 50 ms, SIGKILL after as long again. It runs detached on the server
(``setsid ... &``), so a trial ends even if the connection drops right after.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.engine.protocol import unsendable
from app.engine.records import LaunchClaim
from app.remote.gpu import QUERY
from app.remote.launcher import (
    AUP_PARAMS_FILE,
    END_LEFTOVERS_SH,
    LAUNCH_FILE,
    LAUNCH_SCRIPT,
    PARAMS_FILE,
    SDK_DIR,
)

HELPER_DIR = ".sweeplab"
SNAPSHOT_DIR = "snapshots"
STOP_STEP_S = 0.05
"""The stop and trial helpers' polling step, in seconds."""
MARK = "@"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TRIAL_HELPER = r"""# Sweeplab trial helper (written by Sweeplab; see app/remote/ssh/scripts.py).
mode=$1
d=$2
exec 3<&0 </dev/null
say() { printf '@%s\n' "$*" >&2; }
fail() { say failed "$1"; exit 1; }
# take_places "gpu0:2 gpu3:2": per GPU a free place (an flock'ed file in slots/, held
# on fds 4-9 that the trial inherits), or "@busy gpuN" and exit when one has none.
take_places() {
    command -v flock >/dev/null 2>&1 || return 0
    s=${0%/*}/slots
    mkdir -p -m 700 -- "$s" 2>/dev/null && [ -w "$s" ] || return 0
    f=4
    for item in $1; do
        kind=${item%:*}
        k=0
        while :; do
            if [ "$k" -ge "${item#*:}" ]; then say busy "$kind"; exit 1; fi
            # "command": a failed redirection of a bare exec would end the helper silently
            eval "command exec $f>>\"\$s/$kind.$k.lock\"" ||
                fail "cannot open the lock file $s/$kind.$k.lock"
            if flock -n "$f"; then break; fi
            eval "exec $f>&-"
            k=$((k + 1))
        done
        f=$((f + 1))
    done
}
p=
off=0
if [ "$mode" = launch ]; then
    if [ -n "$6" ]; then take_places "$6"; fi
    if [ -e "$d" ]; then
        q=
        { read -r q <"$d/pid"; } 2>/dev/null
        case $q in ''|abandoned|*[!0-9]*) ;; *)
            ! kill -0 "$q" 2>/dev/null || fail "$d belongs to a trial whose process $q runs" ;;
        esac
        rm -rf -- "$d" || fail "cannot remove the old directory $d"
    fi
    mkdir -p -m 700 -- "$d" "$d/code" || fail "cannot create the trial directory $d"
    head -c "$4" <&3 | tar -xf - -C "$d" || fail "cannot write the trial files into $d"
    cmd=$(head -c "$5" <&3) || fail "the trial command did not arrive"
    tar -xzmf "$3" -C "$d/code" || fail "cannot unpack the code snapshot $3"
    if [ -f "$7" ]; then  # PBT: a checkpoint brought from another host (.tar.gz)
        mkdir -m 700 -- "$d/restore" && tar -xzf "$7" -C "$d/restore" ||
            fail "cannot unpack the checkpoint $7"
        rm -f -- "$7"
    elif [ -n "$7" ]; then  # PBT: the donor's checkpoint, copied on this server
        cp -R -- "$7" "$d/restore" || fail "cannot copy the checkpoint $7"
    fi
    cd -- "$d" || fail "cannot enter $d"
    : >output.log || fail "cannot create $d/output.log"
    say ready
    go=
    read -r go <&3 || exit 0
    [ "$go" = go ] || exit 0
    # every signal at its default where GNU env can say so (sshd gives that anyway)
    dflt=
    if env --default-signal true 2>/dev/null; then dflt="env --default-signal"; fi
    setsid -f $dflt /bin/sh "$d/launch.sh" "$d" "$d/code" "$cmd" </dev/null >/dev/null 2>&1 3<&- ||
        fail "cannot start the trial: setsid -f failed (util-linux is needed)"
    i=0
    until [ -s pid ]; do
        [ "$i" -lt 1010 ] || fail "the trial wrote no pid file within 10 s"
        if [ "$i" -lt 10 ]; then sleep 0.002; else sleep 0.01; fi
        i=$((i + 1))
    done
    read -r p <pid
    [ "$p" != abandoned ] || fail "a resume claimed the trial first; it did not start"
    say started "$p"
else
    off=$3
    p=$4
    if ! cd -- "$d" 2>/dev/null; then say end "" ""; exec cat <&3 >/dev/null; fi
fi
t=
if [ -e output.log ]; then
    tail -c "+$((off + 1))" -f output.log 3<&- &
    t=$!
fi
{ cat >/dev/null; kill $t $$ 2>/dev/null; } <&3 &
c=$!
exec 3<&-
alive() {
    q=$p
    s=
    pp=
    ps=
    { read -r pp; read -r ps; } <pid 2>/dev/null
    if [ -n "$pp" ]; then
        [ -n "$q" ] || q=$pp
        [ "$pp" != "$q" ] || s=$ps
    fi
    [ -n "$q" ] || return 1
    if [ -r /proc/self/stat ]; then
        st=
        read -r st <"/proc/$q/stat" 2>/dev/null || return 1
        set -f
        set -- ${st##*) }
        set +f
        case $1 in Z|X|x) return 1 ;; esac
        [ -z "$s" ] || [ "$s" = "${20}" ]
    else
        kill -0 "$q" 2>/dev/null
    fi
}
# every 20 ms for the first 0.5 s, 50 ms to 1.5 s, 100 ms to 3.5 s, 200 ms to 8.5 s,
# then 500 ms: a short trial's end is seen within 20 ms (the backoff to 500 ms within
# 0.4 s saw a 0.2 s trial end 170 ms late), for ~90 sleeps in a long trial's first 8.5 s
i=0
iv=0.02
while [ ! -s exit_code ] && alive; do
    sleep "$iv"
    i=$((i + 1))
    case $i in 25) iv=0.05 ;; 45) iv=0.1 ;; 65) iv=0.2 ;; 90) iv=0.5 ;; esac
done
w=$p
[ -n "$w" ] || { read -r w <pid; } 2>/dev/null || w=
@END_LEFTOVERS@
code=
[ ! -s exit_code ] || read -r code <exit_code
size=
[ ! -e output.log ] || size=$(wc -c <output.log)
say end "$code" $size
wait "$c"
""".replace("@END_LEFTOVERS@\n", END_LEFTOVERS_SH)

STOP_HELPER = r"""# Sweeplab stop helper (written by Sweeplab; see app/remote/ssh/scripts.py).
d=$1
n=$2
p=$3
cd -- "$d" 2>/dev/null || exit 0
[ ! -e exit_code ] || exit 0
pp=
ps=
{ read -r pp; read -r ps; } <pid 2>/dev/null
[ -n "$p" ] || p=$pp
[ -n "$p" ] || exit 0
if [ "$pp" = "$p" ] && [ -n "$ps" ] && [ -r /proc/self/stat ]; then
    st=
    read -r st <"/proc/$p/stat" 2>/dev/null || exit 0
    set -f
    set -- ${st##*) }
    [ "${20}" = "$ps" ] || exit 0
fi
for sig in INT TERM; do
    kill -s "$sig" -- "-$p" 2>/dev/null || exit 0
    i=0
    while [ "$i" -lt "$n" ]; do
        kill -s 0 -- "-$p" 2>/dev/null || exit 0
        sleep 0.05
        i=$((i + 1))
    done
done
kill -s KILL -- "-$p" 2>/dev/null
exit 0
"""

GPU_PROBE = (
    "if command -v nvidia-smi >/dev/null 2>&1; then\n"
    f"    out=$(nvidia-smi {' '.join(QUERY)} 2>&1)\n"
    "    printf '@gpus %s\\n' \"$?\"\n"
    "    printf '%s\\n' \"$out\"\n"
    "    if [ \"${busy:-0}\" = 1 ]; then\n"
    "        echo @uuids\n"
    "        nvidia-smi --query-gpu=index,uuid --format=csv,noheader 2>/dev/null\n"
    "        echo @apps\n"
    "        nvidia-smi --query-compute-apps=gpu_uuid,pid --format=csv,noheader 2>/dev/null |\n"
    "        while IFS=', ' read -r u q; do\n"
    "            set -- $(ls -nd \"/proc/$q\" 2>/dev/null)\n"
    "            printf '%s %s %s\\n' \"$u\" \"$q\" \"${3:-?}\"\n"
    "        done\n"
    "    fi\n"
    "else\n"
    "    echo @no-nvidia-smi\n"
    "fi\n"
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


TRIAL_HELPER_NAME = f"trial-{_digest(TRIAL_HELPER)}.sh"
STOP_HELPER_NAME = f"stop-{_digest(STOP_HELPER)}.sh"


def q(text: str) -> str:
    """Shell-quote one word (:func:`shlex.quote`)."""
    return shlex.quote(text)


def hello_script(workdir: str, *, busy_check: bool) -> str:
    """The script run once per connection with ``/bin/sh -s`` (sent on stdin).

    It expands a leading ``~`` of ``workdir``, creates it with ``snapshots/`` and the
    helpers, and prints ``@home``, ``@workdir``, ``@uid`` and the GPU probe (see
    :func:`app.remote.ssh.remote_gpu.parse_probe`). Exit status 3: no work directory.
    """
    parts = [
        f"w={q(workdir)}\n",
        'case $w in "~") w=$HOME ;; "~/"*) w=$HOME/${w#"~/"} ;; esac\n',
        f'mkdir -p -- "$w/{SNAPSHOT_DIR}" "$w/{HELPER_DIR}" || exit 3\n',
        'printf \'@home %s\\n@workdir %s\\n@uid %s\\n\' "$HOME" "$w" "$(id -u)"\n',
        f"busy={1 if busy_check else 0}\n",
    ]
    for name, text in ((TRIAL_HELPER_NAME, TRIAL_HELPER), (STOP_HELPER_NAME, STOP_HELPER)):
        target = f'"$w/{HELPER_DIR}/{name}"'
        parts.append(
            f"if [ ! -s {target} ]; then\n"
            f"cat >{target}.$$ <<'SWEEPLAB_HELPER_END' && mv -f {target}.$$ {target} || exit 4\n"
            f"{text}SWEEPLAB_HELPER_END\n"
            "fi\n"
        )
    parts.append(GPU_PROBE)
    return "".join(parts)


def gpu_status_script() -> str:
    """The GPU probe alone (for a status refresh), run with ``/bin/sh -s``."""
    return "busy=0\n" + GPU_PROBE


def launch_command(workdir: str, trial_dir: str, archive: str, tar_bytes: int,
                   cmd_bytes: int, places: str = "", restore: str | None = None) -> str:
    """The exec line that sets up, starts and follows one trial (stdin: the payload);
    ``places`` (:func:`places_arg`) are the GPU places it must lock first; ``restore``
    a checkpoint folder on the server copied in as ``restore/``."""
    helper = f"{workdir}/{HELPER_DIR}/{TRIAL_HELPER_NAME}"
    words = ["/bin/sh", q(helper), "launch", q(trial_dir), q(archive), str(tar_bytes),
             str(cmd_bytes), q(places)]
    return " ".join([*words, q(restore)] if restore is not None else words)


MAX_LOCKED_GPUS = 6
"""The helper holds one place per GPU on fds 4 to 9 (a POSIX sh has no more)."""


def places_arg(gpus: tuple[int, ...], trials_per_gpu: int) -> str:
    """The helper's ``gpuN:PLACES`` list for a trial on ``gpus``; empty (nothing is
    locked) for a CPU trial or one with more than :data:`MAX_LOCKED_GPUS` GPUs."""
    if not 0 < len(gpus) <= MAX_LOCKED_GPUS:
        return ""
    return " ".join(f"gpu{gpu}:{trials_per_gpu}" for gpu in gpus)


def follow_command(workdir: str, trial_dir: str, offset: int, pid: int | None) -> str:
    """The exec line that follows a trial's log from ``offset`` to its end."""
    helper = f"{workdir}/{HELPER_DIR}/{TRIAL_HELPER_NAME}"
    return " ".join(["/bin/sh", q(helper), "follow", q(trial_dir), str(offset),
                     "" if pid is None else str(pid)]).rstrip()


def stop_command(workdir: str, trial_dir: str, grace: float, pid: int | None) -> str:
    """The exec line that starts the detached stop escalation and returns at once."""
    helper = f"{workdir}/{HELPER_DIR}/{STOP_HELPER_NAME}"
    steps = max(0, round(grace / STOP_STEP_S))
    inner = " ".join(["setsid", "/bin/sh", q(helper), q(trial_dir), str(steps),
                      "" if pid is None else str(pid)])
    return f"/bin/sh -c {q(inner + ' </dev/null >/dev/null 2>&1 &')}"


_CLAIM = r"""[ -d "$d" ] || { echo @abandoned; exit 0; }
if ( set -C; printf 'abandoned\n' >"$d/pid" ) 2>/dev/null; then echo @abandoned; exit 0; fi
i=0
while [ ! -s "$d/pid" ] && [ "$i" -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
p=
read -r p <"$d/pid"
if [ "$p" = abandoned ]; then echo @abandoned; else echo @started; fi
"""


def claim_script(trial_dir: str) -> str:
    """A script that claims a trial whose launch intent was stored, for a resume (see
    :class:`~app.engine.records.LaunchClaim`). It prints ``@started`` when the wrapper
    created ``pid`` first, else ``@abandoned``: a folder never made (the helper starts
    nothing without its ``go``), or ``pid`` created here exclusively, so no late
    wrapper runs the command."""
    return f"d={q(trial_dir)}\n{_CLAIM}"


def pack_command(folder: str) -> str:
    """The exec line that writes a folder's content as a ``.tar.gz`` on stdout."""
    return f"tar -czf - -C {q(folder)} ."


def claim_command(trial_dir: str) -> str:
    """:func:`claim_script` as one exec line."""
    return f"/bin/sh -c {q(claim_script(trial_dir))}"


def claim_answer(answer: str) -> LaunchClaim | None:
    """What :func:`claim_script` printed, as a claim; None for anything else."""
    return {"@started": LaunchClaim.STARTED, "@abandoned": LaunchClaim.ABANDONED}.get(
        answer.strip())


def snapshot_path(workdir: str, content_hash: str) -> str:
    """Where a snapshot archive lives on the server."""
    return f"{workdir}/{SNAPSHOT_DIR}/{content_hash}.tar.gz"


def trial_command(command: str, env: Mapping[str, str], setup: str,
                  sdk_dir: str, keep_server_pythonpath: bool) -> str:
    """The text the wrapper runs: the profile's setup, the trial's environment, the command.

    The setup runs first in the same shell (``source`` is made an alias of ``.``
    where ``/bin/sh`` lacks it); if it fails the trial ends with its status and a line
    in the log. Every variable of ``env`` is exported shell-quoted; ``PYTHONPATH``
    gets ``sdk_dir`` in front of whatever the server (after setup) has, unless
    ``keep_server_pythonpath`` is false (the trial's own ``env`` set it).

    Raises:
        ValueError: a variable name that is not a valid shell name, or a value or the
            command holding what no process can receive (a NUL byte: a shell would
            drop it, or cut the text there, and run something else).
    """
    for what, text in (("the command", command), *((f"env.{k}", v) for k, v in env.items())):
        problem = unsendable(text)
        if problem is not None:
            raise ValueError(f"{what} {problem}")
    lines: list[str] = []
    if setup.strip():
        lines.append('command -v source >/dev/null 2>&1 || source() { . "$@"; }')
        lines.append("{\n" + setup.rstrip("\n") + "\n} || { sweeplab_status=$?; "
                     "echo \"sweeplab: the server's setup command failed with status "
                     "$sweeplab_status\" >&2; exit \"$sweeplab_status\"; }")
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"environment variable {name!r} is not a valid shell name")
        if name == "PYTHONPATH" and keep_server_pythonpath:
            lines.append(f'export PYTHONPATH={q(sdk_dir)}"${{PYTHONPATH:+:$PYTHONPATH}}"')
        else:
            lines.append(f"export {name}={q(value)}")
    lines.append(command)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PayloadFile:
    """One file of a trial's payload: its path in the trial directory and bytes."""

    path: str
    data: bytes
    mode: int = 0o644


def trial_files(params_json: str, sdk_name: str | None, sdk: bytes | None,
                aup_params_json: str = "{}") -> list[PayloadFile]:
    """The files every trial directory gets besides ``code/`` and the wrapper's output."""
    files = [PayloadFile(PARAMS_FILE, params_json.encode("utf-8")),
             PayloadFile(AUP_PARAMS_FILE, aup_params_json.encode("utf-8")),
             PayloadFile(LAUNCH_FILE, LAUNCH_SCRIPT.encode("utf-8"), 0o755)]
    if sdk_name is not None and sdk is not None:
        files.append(PayloadFile(f"{SDK_DIR}/{sdk_name}", sdk))
    return files


def pack_payload(files: list[PayloadFile]) -> bytes:
    """The files as an uncompressed tar (with ``sdk/`` as a directory entry)."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = tarfile.TarInfo(SDK_DIR)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, int(now)
        tar.addfile(folder)
        for item in files:
            info = tarfile.TarInfo(item.path)
            info.size, info.mode, info.mtime = len(item.data), item.mode, int(now)
            tar.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()
