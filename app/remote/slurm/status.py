"""What a cluster looks like from outside a run: queue counts for the Servers window
(:func:`query_queue`) and ``sweeplab clusters test`` (:func:`probe_cluster`).

Neither raises for trouble on the cluster: every problem becomes a status or a failed
step in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.remote.slurm.access import AccessError, ClusterAccess, ShellResult
from app.remote.slurm.commands import JOB_PREFIX, SETUP_FAILED, q
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.probe import ProbeStep

_TIMEOUT_S = 30.0
STEP_NAMES = ("login node", "setup command", "Slurm commands", "controller", "partition",
              "work directory")


@dataclass(frozen=True)
class QueueCounts:
    """A cluster's queue as the Servers window shows it.

    Attributes:
        name: the cluster's name.
        online: its login node and controller answered.
        pending, running: jobs of every user in its partition (in every partition when
            the profile names none).
        ours_pending, ours_running: Sweeplab's jobs of the login user among them.
        error: why there are no counts ("" when fine).
    """

    name: str
    online: bool
    pending: int = 0
    running: int = 0
    ours_pending: int = 0
    ours_running: int = 0
    error: str = ""


def queue_script(profile: ClusterProfile) -> str:
    """The login user, then one line per waiting or running job: ``STATE|USER|NAME``."""
    where = f" --partition={q(profile.partition)}" if profile.partition else ""
    return ("printf '@user %s\\n' \"$(id -un)\"\n"
            f"squeue --noheader --states=PENDING,CONFIGURING,RUNNING,COMPLETING{where} "
            "--format='%T|%u|%j'\n")


def parse_queue(name: str, result: ShellResult) -> QueueCounts:
    """Counts from the output of :func:`queue_script`."""
    if result.exit_code != 0:
        detail = result.stderr.strip()[:300] or f"status {result.exit_code}"
        return QueueCounts(name, False, error=f"squeue failed: {detail}")
    counts = {"pending": 0, "running": 0, "ours_pending": 0, "ours_running": 0}
    user = ""
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("@user "):
            user = line[6:].strip()
            continue
        parts = line.strip().split("|", 2)
        if len(parts) != 3:
            continue
        kind = "pending" if parts[0] in ("PENDING", "CONFIGURING") else "running"
        counts[kind] += 1
        if parts[1] == user and parts[2].startswith(f"{JOB_PREFIX}-"):
            counts[f"ours_{kind}"] += 1
    return QueueCounts(name, True, counts["pending"], counts["running"],
                       counts["ours_pending"], counts["ours_running"])


def query_queue(profile: ClusterProfile, access: ClusterAccess) -> QueueCounts:
    """The cluster's queue now (blocks on the network: call it off the GUI thread)."""
    try:
        return parse_queue(profile.name, access.run(queue_script(profile), timeout=_TIMEOUT_S))
    except AccessError as exc:
        return QueueCounts(profile.name, False, error=str(exc))


@dataclass(frozen=True)
class ClusterReport:
    """The result of :func:`probe_cluster`: the checks made, in order, and the queue."""

    cluster: str
    steps: tuple[ProbeStep, ...]
    queue: QueueCounts | None = None

    @property
    def ok(self) -> bool:
        """Trials could be submitted: every check was made and passed."""
        return len(self.steps) == len(STEP_NAMES) and all(step.ok for step in self.steps)

    def __str__(self) -> str:
        verdict = ("trials can run there" if self.ok
                   else "trials cannot run there until the problems marked FAIL are fixed")
        lines = [f"Cluster {self.cluster}: {verdict}."]
        lines += [f"  {'ok  ' if s.ok else 'FAIL'}  {s.name}: {s.detail}" for s in self.steps]
        if self.queue is not None and self.queue.online:
            c = self.queue
            lines.append(f"  queue: {c.pending} pending, {c.running} running "
                         f"(Sweeplab's: {c.ours_pending} pending, {c.ours_running} running)")
        return "\n".join(lines)


def probe_cluster(profile: ClusterProfile, access: ClusterAccess,
                  connect: str = "") -> ClusterReport:
    """Check, in order, whether trials could be submitted; stops at the first failure.

    Args:
        profile: the cluster.
        access: its login node (connected, or connecting).
        connect: why connecting to the login node failed ("" when it did not).
    """
    steps: list[ProbeStep] = []

    def report() -> ClusterReport:
        return ClusterReport(profile.name, tuple(steps))

    where = "this machine (sbatch runs here)" if profile.login is None else (
        f"the saved server {profile.login}")
    if connect:
        steps.append(ProbeStep("login node", False, f"{connect}; check it with `sweeplab "
                                 f"servers test {profile.login}`"))
        return report()
    steps.append(ProbeStep("login node", True, where))
    try:
        setup = access.run("true", timeout=_TIMEOUT_S)
        if setup.exit_code == SETUP_FAILED:
            said = "; ".join(line.strip() for line in setup.stderr.strip().splitlines())
            steps.append(ProbeStep("setup command", False, said[-300:]))
            return report()
        steps.append(ProbeStep("setup command", True,
                                 "ran fine" if profile.setup.strip() else "none"))
        found = access.run("for c in sbatch squeue scancel; do command -v $c >/dev/null || "
                           "printf '%s ' $c; done", timeout=_TIMEOUT_S)
        missing = found.stdout.decode("utf-8", "replace").split()
        if missing:
            steps.append(ProbeStep("Slurm commands", False, f"not found: {', '.join(missing)} "
                                     "(is a setup command such as `module load slurm` needed?)"))
            return report()
        steps.append(ProbeStep("Slurm commands", True, "sbatch, squeue and scancel found"))
        if not _partition_steps(profile, access, steps):
            return report()
        workdir = access.workdir()
        made = access.run(f"mkdir -p -- {q(workdir)} && test -w {q(workdir)}",
                          timeout=_TIMEOUT_S)
        if made.exit_code != 0:
            steps.append(ProbeStep("work directory", False, f"{workdir} is not writable: "
                                     f"{made.stderr.strip()[:200]}"))
            return report()
        steps.append(ProbeStep("work directory", True, f"{workdir} (it must be on a file "
                                 "system the compute nodes share)"))
    except AccessError as exc:
        steps.append(ProbeStep(STEP_NAMES[len(steps)], False, str(exc)))
        return report()
    return ClusterReport(profile.name, tuple(steps), query_queue(profile, access))


def _partition_steps(profile: ClusterProfile, access: ClusterAccess,
                     steps: list[ProbeStep]) -> bool:
    """The controller answers, and the partition exists and is up."""
    info = access.run("sinfo --noheader --format='%P|%a'", timeout=_TIMEOUT_S)
    if info.exit_code != 0:
        steps.append(ProbeStep("controller", False, f"sinfo failed: "
                                 f"{info.stderr.strip()[:300]}"))
        return False
    steps.append(ProbeStep("controller", True, "slurmctld answers"))
    partitions: dict[str, str] = {}
    default = ""
    for line in info.stdout.decode("utf-8", "replace").splitlines():
        name, _, state = line.strip().partition("|")
        if name.endswith("*"):
            name = default = name[:-1]
        partitions.setdefault(name, state)
    wanted = profile.partition or default
    if wanted not in partitions:
        shown = ", ".join(sorted(partitions)) or "none"
        steps.append(ProbeStep("partition", False, f"no partition {wanted!r} (there are: "
                                 f"{shown})"))
        return False
    if partitions[wanted] != "up":
        steps.append(ProbeStep("partition", False, f"{wanted} is {partitions[wanted]}: jobs "
                                 "would wait in the queue"))
        return False
    steps.append(ProbeStep("partition", True, f"{wanted} is up"
                             + ("" if profile.partition else " (the default)")))
    return True
