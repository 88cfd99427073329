"""What Sweeplab says to Slurm and how it reads the answers. Nothing here does I/O.

Per trial directory (besides the wrapper's files, see :mod:`app.remote.launcher`):

    job.sh       the batch script: traps INT and TERM (so it outlives a stop), runs
                 the wrapper in the foreground (its ``pid`` file appears once it runs
                 and traps INT/TERM), then ends what the trial left running in the
                 job's process group (Slurm makes the batch script its leader), and
                 exits with the wrapper's status. A process that left the group is
                 ended by Slurm's own process tracking when the job ends (cgroups)
    command.sh   the text the wrapper runs (setup, environment, the trial's command)
    job_id       the Slurm job id, written when ``sbatch`` accepted the job
    slurm.out    Slurm's own messages about the job (the trial's go to output.log)

State comes from one ``squeue --states=all --jobs=...`` for every job of an executor;
logs, ``pid`` and ``exit_code`` from one read of the trial directories (one shell
script over SSH, plain file reads on this machine).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from app.engine.protocol import RESTORE_DIR
from app.remote.launcher import (
    END_LEFTOVERS_SH,
    EXIT_CODE_FILE,
    LAUNCH_FILE,
    LOG_FILE,
    PID_FILE,
    segment_folder,
)

JOB_FILE = "job.sh"
COMMAND_FILE = "command.sh"
JOB_ID_FILE = "job_id"
JOB_PREFIX = "sweeplab"
RESTORE_ARCHIVE = "restore.tar.gz"
"""PBT: a donor's checkpoint brought from another host, unpacked into ``restore/`` (and
removed) when the trial directory is made."""
SETUP_FAILED = 97
"""Exit status of a command whose cluster setup failed."""

WAITING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                     "RESV_DEL_HOLD"})
"""Job states before the batch script runs."""
FINISHED = frozenset({"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "PREEMPTED",
                      "NODE_FAIL", "REVOKED", "SPECIAL_EXIT", "BOOT_FAIL", "DEADLINE",
                      "OUT_OF_MEMORY"})
"""Job states Slurm never leaves."""

_PENDING_WORDS = {
    "Priority": "other jobs have priority",
    "Resources": "waiting for free resources",
    "PartitionDown": "its partition is down",
    "PartitionInactive": "its partition is inactive",
    "PartitionTimeLimit": "its time limit exceeds the partition's",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "ReqNodeNotAvail": "the nodes it needs are not available",
    "NodeDown": "a node it needs is down",
    "BeginTime": "its start time has not come yet",
    "Dependency": "it waits for another job",
    "JobHeldUser": "held by its user (scontrol release lets it run)",
    "JobHeldAdmin": "held by an administrator",
    "Reservation": "it waits for its reservation",
    "BadConstraints": "its constraints cannot be met",
    "InvalidAccount": "its account is not valid",
    "InvalidQOS": "its QoS is not valid",
    "Licenses": "waiting for licenses",
}
_END_WORDS = {
    "TIMEOUT": "it reached its time limit",
    "OUT_OF_MEMORY": "it ran out of memory",
    "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot",
    "PREEMPTED": "it was preempted by another job",
    "DEADLINE": "it reached its deadline",
    "CANCELLED": "it was cancelled outside Sweeplab (scancel or an administrator)",
    "FAILED": "Slurm marked it failed",
    "REVOKED": "it was revoked",
    "SPECIAL_EXIT": "it ended in a special exit state",
}
_REASON_WORDS = {
    "JobLaunchFailure": "the job could not be launched on its node",
    "NonZeroExitCode": "its script exited with a non-zero status",
    "TimeLimit": "time limit",
}
_JOB_LINE = re.compile(rb"^@job (\d+)", re.MULTILINE)


@dataclass(frozen=True)
class JobState:
    """One job as Slurm reports it: state (``PENDING``, ``RUNNING``...) and reason."""

    state: str
    reason: str = ""

    @property
    def waiting(self) -> bool:
        """The batch script has not started yet."""
        return self.state in WAITING

    @property
    def finished(self) -> bool:
        """Slurm is done with the job."""
        return self.state in FINISHED


@dataclass(frozen=True)
class ReadRequest:
    """Read a trial directory: ``pid``, ``exit_code``, ``job_id`` and the log from
    ``offset`` (at most ``limit`` bytes)."""

    key: int
    trial_dir: str
    offset: int
    limit: int = 1 << 20


@dataclass(frozen=True)
class ReadResult:
    """What a trial directory held. ``missing``: the directory is gone."""

    key: int
    data: bytes = b""
    exit_code: int | None = None
    has_pid: bool = False
    job_id: int | None = None
    missing: bool = False


def q(text: str) -> str:
    """Shell-quote one word."""
    return shlex.quote(text)


def job_name(experiment_id: int, trial_id: int, segment: int = 0) -> str:
    """The job name Sweeplab gives a trial (``squeue`` shows it); segment N > 0 of a
    PBT trial: ``...-<trial_id>.N``, as its folder."""
    return f"{JOB_PREFIX}-{experiment_id}-{segment_folder(trial_id, segment)}"


def folder_job_name(trial_dir: str) -> str | None:
    """The job name of the trial whose folder is ``trial_dir``
    (``.../<experiment_id>/<trial_id>`` or ``.../<experiment_id>/<trial_id>.<segment>``);
    None for a folder of another shape."""
    folder = PurePosixPath(trial_dir)
    trial, dot, segment = folder.name.partition(".")
    if not (trial.isdigit() and folder.parent.name.isdigit()
            and (not dot or segment.isdigit())):
        return None
    return job_name(int(folder.parent.name), int(trial), int(segment) if dot else 0)


def restore_script(trial_dir: str, restore_from: str | None) -> str:
    """Shell lines that give a prepared trial directory its ``restore/`` folder (PBT):
    the checkpoint archive :data:`RESTORE_ARCHIVE` brought from another host is
    unpacked there and removed; else the donor's checkpoint folder ``restore_from`` on
    this cluster is copied. Exit status 4 with a message when that fails."""
    d, r = q(trial_dir), q(f"{trial_dir}/{RESTORE_DIR}")
    a = q(f"{trial_dir}/{RESTORE_ARCHIVE}")
    lines = (f"if [ -f {a} ]; then\n"
             f"    mkdir -m 700 -- {r} && tar -xzf {a} -C {r} && rm -f -- {a} || {{\n"
             f"        printf 'cannot unpack the checkpoint into %s\\n' {d} >&2; exit 4; }}\n")
    if restore_from is not None:
        lines += (f"else\n    cp -R -- {q(restore_from)} {r} || {{\n"
                  f"        printf 'cannot copy the checkpoint %s\\n' {q(restore_from)} >&2; "
                  "exit 4; }\n")
    return lines + "fi\n"


def job_script(trial_dir: str) -> str:
    """The batch script: runs the wrapper, then ends what the trial left running in
    the job's process group (see the module doc)."""
    return ("#!/bin/sh\n"
            "# Sweeplab trial job (written by Sweeplab; see app/remote/slurm/commands.py).\n"
            f"d={q(trial_dir)}\n"
            "trap ':' INT TERM\n"
            "dflt=\n"
            'if env --default-signal true 2>/dev/null; then dflt="env --default-signal"; fi\n'
            f'$dflt /bin/sh "$d/{LAUNCH_FILE}" "$d" "$d/code" "$(cat "$d/{COMMAND_FILE}")"\n'
            "status=$?\n"
            "w=$$\n"
            f"{END_LEFTOVERS_SH}"
            'exit "$status"\n')


def with_setup(setup: str, script: str) -> str:
    """``script`` after the cluster's setup; a failing setup exits :data:`SETUP_FAILED`.

    The setup's own output goes to stderr, so it never mixes with what is parsed.
    """
    if not setup.strip():
        return script
    return ('command -v source >/dev/null 2>&1 || source() { . "$@"; }\n'
            "{\n" + setup.rstrip("\n") + "\n} >&2 || { s=$?; echo \"sweeplab: the cluster's "
            f"setup command failed with status $s\" >&2; exit {SETUP_FAILED}; }}\n" + script)


def sbatch_script(trial_dir: str, options: Sequence[str]) -> str:
    """Submit ``job.sh`` of a prepared trial directory; prints ``@job ID`` and writes
    ``job_id`` (sbatch's complaints stay on stderr)."""
    words = " ".join(q(option) for option in options)
    return (f"cd -- {q(trial_dir)} || exit 3\n"
            f"out=$(sbatch {words} {JOB_FILE}) || exit $?\n"
            "nl='\n'\n"
            'id=${out##*$nl}\n'  # the last line (no process for it)
            'id=${id%%;*}\n'
            f"printf '%s\\n' \"$id\" >{JOB_ID_FILE}\n"
            "printf '@job %s\\n' \"$id\"\n")


def parse_parsable(stdout: bytes) -> int:
    """The job id ``sbatch --parsable`` printed (``ID`` or ``ID;CLUSTER``, last line).

    Raises:
        ValueError: no job id there.
    """
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    word = lines[-1].split(";")[0].strip() if lines else ""
    if not word.isdigit():
        raise ValueError(f"sbatch printed no job id (it printed {stdout[:200]!r})")
    return int(word)


def unpack_script(trial_dir: str, archive: str, payload_bytes: int) -> str:
    """Make the trial directory from stdin (a tar of its files) and the snapshot archive."""
    d, a = q(trial_dir), q(archive)
    return (f"rm -rf -- {d} 2>/dev/null; mkdir -p -m 700 -- {d} {d}/code || exit 4\n"
            f"head -c {payload_bytes} | tar -xf - -C {d} || exit 4\n"
            f"tar -xzmf {a} -C {d}/code || exit 5\n"
            f": >{d}/{LOG_FILE} || exit 4\n")


def parse_job_id(stdout: bytes) -> int:
    """The job id in the output of :func:`sbatch_script`.

    Raises:
        ValueError: sbatch printed no job id.
    """
    match = _JOB_LINE.search(stdout)
    if match is None:
        shown = stdout.decode("utf-8", "replace").strip()[:200]
        raise ValueError(f"sbatch printed no job id (it printed {shown!r})")
    return int(match.group(1))


def squeue_script(job_ids: Iterable[int]) -> str:
    """One ``squeue`` for these jobs, finished ones included (while Slurm keeps them)."""
    ids = ",".join(str(job) for job in sorted(set(job_ids)))
    return f"squeue --noheader --states=all --jobs={ids} --format='%i|%T|%r'\n"


def parse_squeue(stdout: bytes, stderr: str, exit_code: int) -> dict[int, JobState]:
    """The jobs ``squeue`` listed; a job it no longer knows is simply absent.

    Raises:
        ValueError: squeue failed for another reason (its message is in the text).
    """
    if exit_code != 0:
        if "Invalid job id" in stderr:  # the only job asked for is gone
            return {}
        raise ValueError(f"squeue failed with status {exit_code}: {stderr.strip()[:300]}")
    jobs: dict[int, JobState] = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) == 3 and parts[0].isdigit():
            reason = parts[2].strip()
            jobs[int(parts[0])] = JobState(parts[1].strip(), "" if reason == "None" else reason)
    return jobs


def sacct_script(job_ids: Iterable[int]) -> str:
    """Accounting records of jobs squeue has forgotten (fails where accounting is off)."""
    ids = ",".join(str(job) for job in sorted(set(job_ids)))
    return f"sacct --noheader --parsable2 --jobs={ids} --format=JobID,State,Reason\n"


def parse_sacct(stdout: bytes) -> dict[int, JobState]:
    """Job records from :func:`sacct_script` (steps such as ``12.batch`` are skipped)."""
    jobs: dict[int, JobState] = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0].isdigit():
            reason = parts[2].strip() if len(parts) > 2 else ""
            state = parts[1].split()[0] if parts[1].split() else ""
            jobs[int(parts[0])] = JobState(state, "" if reason == "None" else reason)
    return jobs


def scancel_script(job_ids: Iterable[int], *, interrupt: bool) -> str:
    """Cancel jobs, or (``interrupt``) send SIGINT to their batch step and its children.

    Without ``--full`` a signal reaches only job steps, never the batch script: a job
    of one batch step would not see it at all. It is sent only once the wrapper runs
    (``pid`` written): a signal that hits a batch step while Slurm is still launching
    it makes Slurm end the job FAILED with reason JobLaunchFailure.
    """
    ids = " ".join(str(job) for job in sorted(set(job_ids)))
    if interrupt:
        return f"scancel --full --signal=INT {ids}\n"
    return f"scancel {ids}\n"


def pending_message(job_id: int, state: JobState) -> str:
    """Why a job waits, in plain words with Slurm's own reason."""
    reason = state.reason or state.state
    words = _PENDING_WORDS.get(reason, "")
    if state.state == "CONFIGURING":
        words = "its nodes are being set up"
    return f"pending in Slurm as job {job_id}: " + (f"{words} ({reason})" if words else reason)


def end_message(job_id: int, state: JobState) -> str:
    """How Slurm ended a job, in plain words with its state and reason."""
    words = _END_WORDS.get(state.state, f"it ended {state.state}")
    shown = state.state + (f", {state.reason}" if state.reason else "")
    reason = _REASON_WORDS.get(state.reason)
    if reason and state.reason != "TimeLimit":
        words += f": {reason}"
    return f"Slurm ended job {job_id}: {words} ({shown})"


READ_FUNCTION = r"""r() {
    if ! cd -- "$2" 2>/dev/null; then printf '@r %s missing\n' "$1"; return; fi
    c=-; if [ -s EXIT ]; then read -r c <EXIT || c=-; fi
    p=0; [ ! -s PID ] || p=1
    j=-; if [ -s JOB ]; then read -r j <JOB || j=-; fi
    s=0; [ ! -f LOG ] || s=$(wc -c <LOG)
    n=$((s - $3)); [ "$n" -gt 0 ] || n=0; [ "$n" -le "$4" ] || n=$4
    printf '@r %s %s %s %s %s\n' "$1" "${c:--}" "$p" "${j:--}" "$n"
    [ "$n" -eq 0 ] || tail -c "+$(($3 + 1))" LOG | head -c "$n"
}
""".replace("EXIT", EXIT_CODE_FILE).replace("PID", PID_FILE).replace(
    "JOB", JOB_ID_FILE).replace("LOG", LOG_FILE)


def read_script(requests: Sequence[ReadRequest]) -> str:
    """One shell script reading every requested trial directory (see :func:`parse_reads`).

    ``exit_code`` is read before the log's size, so a log read after an exit code holds
    every byte the trial wrote.
    """
    calls = "".join(f"r {r.key} {q(r.trial_dir)} {r.offset} {r.limit}\n" for r in requests)
    return READ_FUNCTION + calls


def parse_reads(stdout: bytes) -> list[ReadResult]:
    """The records :func:`read_script` printed: a header line, then the log bytes.

    Raises:
        ValueError: the output is cut short or garbled.
    """
    results: list[ReadResult] = []
    at = 0
    while at < len(stdout):
        end = stdout.find(b"\n", at)
        if end < 0:
            raise ValueError(f"a trial directory record is cut short: {stdout[at:at + 80]!r}")
        words = stdout[at:end].decode("ascii", "replace").split()
        at = end + 1
        if len(words) == 3 and words[0] == "@r" and words[2] == "missing":
            results.append(ReadResult(int(words[1]), missing=True))
            continue
        if len(words) != 6 or words[0] != "@r":
            raise ValueError(f"unexpected line in a trial directory read: {words!r}")
        size = int(words[5])
        data = stdout[at:at + size]
        if len(data) != size:
            raise ValueError(f"trial {words[1]}: {size} log bytes announced, "
                             f"{len(data)} arrived")
        at += size
        results.append(ReadResult(
            int(words[1]), data, None if words[2] == "-" else _int_or_none(words[2]),
            words[3] == "1", None if words[4] == "-" else _int_or_none(words[4])))
    return results


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
