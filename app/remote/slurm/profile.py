"""A saved Slurm cluster, as the remote layer sees it: :class:`ClusterProfile`.

A cluster is reached through its login node: a saved server profile (same SSH
machinery, keys and keyring secrets as any lab server) named by ``login``, or this
machine itself when ``login`` is None (the app runs on the login node and calls
``sbatch`` directly). The profile holds no secret.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from app.remote.ssh.profile import LOCAL_HOST, NAME_PATTERN

SLURM_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
"""Partition, account and QoS names as Slurm accepts them (empty: the default)."""
MEMORY = re.compile(r"^[1-9][0-9]*[KMGT]?$")
"""``--mem`` values: megabytes, or a number with a K, M, G or T suffix."""
TIME_MARGIN_S = 60.0
"""Slurm's time limit is the experiment's max time per trial plus the stop escalation
plus this margin, so Sweeplab's own graceful stop always comes first."""
OWN_OPTIONS = ("--parsable", "--job-name", "-J", "--chdir", "-D", "--output", "-o",
               "--error", "-e", "--open-mode", "--requeue", "--no-requeue", "--wrap",
               "--array", "-a", "--time", "-t")
"""sbatch options Sweeplab sets itself; extra arguments may not override them."""


@dataclass(frozen=True)
class ClusterProfile:
    """Where and how trials run on one Slurm cluster.

    Attributes:
        name: unique name, used in an experiment's ``hosts: [local, NAME]``.
        login: the saved server profile of the login node; None runs ``sbatch`` here.
        workdir: trial directories and snapshots, on the file system the compute nodes
            share with the login node (``~`` is the login user's home).
        partition, account, qos: ``--partition``, ``--account``, ``--qos`` (empty: the
            cluster's default).
        cpus_per_trial: ``--cpus-per-task``.
        memory: ``--mem`` (``4G``, ``500M``; empty: the partition's default).
        gpus_per_trial: ``--gres=gpu:N``; None takes the experiment's GPUs per trial.
        max_parallel: jobs Sweeplab keeps pending plus running at once.
        setup: shell code run before every Slurm command and every trial on the
            cluster (``module load slurm``, ``source ~/venv/bin/activate``).
        python: what ``{python}`` in a command stands for on the compute nodes.
        sbatch_args: extra ``sbatch`` options (``--constraint=a100``), one per item.
    """

    name: str
    login: str | None = None
    workdir: str = "~/sweeplab"
    partition: str = ""
    account: str = ""
    qos: str = ""
    cpus_per_trial: int = 1
    memory: str = ""
    gpus_per_trial: int | None = None
    max_parallel: int = 10
    setup: str = ""
    python: str = "python3"
    sbatch_args: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """What is wrong with this profile, each naming the field; empty when valid."""
        where = f"cluster {self.name!r}"
        found: list[str] = []
        if not NAME_PATTERN.match(self.name):
            found.append(f"{where}: name must be 1-64 letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit")
        if self.name == LOCAL_HOST:
            found.append(f"{where}: the name {LOCAL_HOST!r} is this machine; pick another")
        if self.login is not None and not NAME_PATTERN.match(self.login):
            found.append(f"{where}: login must be the name of a saved server, "
                         f"got {self.login!r}")
        if not self.workdir.strip():
            found.append(f"{where}: workdir is empty")
        for label, value in (("partition", self.partition), ("account", self.account),
                             ("qos", self.qos)):
            if value and not SLURM_NAME.match(value):
                found.append(f"{where}: {label} {value!r} is not a Slurm name (letters, "
                             "digits, '_', '.', '+', '-')")
        if self.cpus_per_trial < 1:
            found.append(f"{where}: CPUs per trial must be >= 1, got {self.cpus_per_trial}")
        if self.memory and not MEMORY.match(self.memory):
            found.append(f"{where}: memory must look like 4G, 500M or 2048 (megabytes), "
                         f"got {self.memory!r}")
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            found.append(f"{where}: GPUs per trial must be >= 0, got {self.gpus_per_trial}")
        if self.max_parallel < 1:
            found.append(f"{where}: max parallel must be >= 1, got {self.max_parallel}")
        if not self.python.strip():
            found.append(f"{where}: python is empty")
        for arg in self.sbatch_args:
            option = arg.split("=", 1)[0]
            if not arg.startswith("-") or not option.strip("-"):
                found.append(f"{where}: sbatch argument {arg!r} is not an option "
                             "(like --constraint=a100)")
            elif option in OWN_OPTIONS:
                found.append(f"{where}: sbatch argument {arg!r} is set by Sweeplab itself")
        return found


def time_limit_minutes(max_trial_seconds: float | None, grace: float) -> int | None:
    """Slurm's ``--time`` in minutes for trials of at most ``max_trial_seconds``.

    The runner stops a trial at its max time with SIGINT and escalates over two
    ``grace`` periods; Slurm's limit comes :data:`TIME_MARGIN_S` later, rounded up to a
    whole minute (Slurm's unit). None (no max time) lets the partition's limit apply.
    """
    if max_trial_seconds is None:
        return None
    return max(1, math.ceil((max_trial_seconds + 2 * grace + TIME_MARGIN_S) / 60.0))


def sbatch_options(profile: ClusterProfile, *, job_name: str, trial_dir: str, gpus: int,
                   time_limit: int | None) -> list[str]:
    """The ``sbatch`` options of one trial's job (shell words, unquoted).

    Args:
        profile: the cluster.
        job_name: ``--job-name``.
        trial_dir: the job's working directory; Slurm's own messages go to
            ``slurm.out`` there (the trial's output goes to ``output.log``).
        gpus: the experiment's GPUs per trial (the profile's own count wins).
        time_limit: ``--time`` in minutes, or None for the partition's default.
    """
    count = profile.gpus_per_trial if profile.gpus_per_trial is not None else gpus
    options = ["--parsable", f"--job-name={job_name}", f"--chdir={trial_dir}",
               f"--output={trial_dir}/slurm.out", "--open-mode=append", "--no-requeue",
               "--ntasks=1", f"--cpus-per-task={profile.cpus_per_trial}"]
    for flag, value in (("--partition", profile.partition), ("--account", profile.account),
                        ("--qos", profile.qos), ("--mem", profile.memory)):
        if value:
            options.append(f"{flag}={value}")
    if count > 0:
        options.append(f"--gres=gpu:{count}")
    if time_limit is not None:
        options.append(f"--time={time_limit}")
    options.extend(profile.sbatch_args)
    return options
