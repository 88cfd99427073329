"""Shared wiring of the composition roots (CLI and GUI): store, executors, runner.

This is the one place that knows every layer; engine, remote and store stay
ignorant of each other.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from app.application.database import DB_ENV as DB_ENV
from app.application.database import HOME_ENV as HOME_ENV
from app.application.database import data_dir as data_dir
from app.application.database import open_store as open_store
from app.application.definitions import config_of as config_of
from app.engine.errors import Problem
from app.engine.experiment import (
    LOCAL_HOST,
    ExperimentConfig,
    ExperimentError,
)
from app.engine.lease import Lease
from app.engine.population import settle_segments
from app.engine.records import ExperimentRecord, Snapshot
from app.engine.reruns import Rerun
from app.engine.resume import build_searcher, check_buildable, settle_leftovers
from app.engine.runner import Runner
from app.engine.schedulers import SchedulerName
from app.engine.trial import TrialState
from app.remote.events import EventQueue
from app.remote.gpu import probe_gpus
from app.remote.local import LocalExecutor
from app.remote.pool import Host, Pool
from app.remote.slurm.executor import SlurmExecutor
from app.remote.slurm.profile import ClusterProfile
from app.remote.snapshot import Progress, take_snapshot
from app.remote.ssh.profile import Secrets, ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.servers import ServerProfiles
from app.store.store import Store

if TYPE_CHECKING:  # SSH (paramiko) and the keyring load when a command uses them
    from app.remote.ssh.hostkeys import KnownHosts

LOCAL_SLOTS_ENV = "SWEEPLAB_LOCAL_SLOTS"
"""How many trials without GPUs this machine runs at once (default: its CPU count)."""


def snapshot_of(store: Store, experiment: ExperimentRecord, config: ExperimentConfig,
                fresh: bool, progress: Progress | None = None) -> Snapshot:
    """The experiment's code snapshot: the stored one, or a new one when ``fresh``."""
    folder = data_dir() / "snapshots"
    if not fresh and experiment.snapshot_hash:
        archive = folder / f"{experiment.snapshot_hash}.tar.gz"
        if archive.is_file():
            return Snapshot(archive, experiment.snapshot_hash, experiment.commit,
                            bool(experiment.dirty))
    snapshot = take_snapshot(config.code_dir, folder, config.include_uncommitted,
                             progress=progress)
    store.update_experiment(experiment.id, snapshot_hash=snapshot.content_hash,
                            commit=snapshot.commit, dirty=snapshot.dirty)
    return snapshot


def local_executor(grace: float = 5.0,
                   events: EventQueue | None = None) -> LocalExecutor:
    """This machine's executor, trials under the data directory.

    Raises:
        ValueError: ``SWEEPLAB_LOCAL_SLOTS`` is set but not a whole number >= 1.
    """
    raw = os.environ.get(LOCAL_SLOTS_ENV, "").strip()
    slots: int | None = None
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{LOCAL_SLOTS_ENV} must be a whole number >= 1, got {raw!r}")
        slots = int(raw)
    return LocalExecutor(data_dir() / "trials", grace=grace, events=events, cpu_slots=slots,
                         python=trial_python(), slot_folder=data_dir() / "slots")


def trial_python() -> str:
    """What ``{python}`` stands for on this machine: this interpreter, or, in the
    desktop bundle (where ``sys.executable`` is Sweeplab itself), the ``python3`` on
    PATH."""
    if getattr(sys, "frozen", False):
        return shutil.which("python3") or shutil.which("python") or "python3"
    return sys.executable


def known_hosts() -> KnownHosts:
    """The host keys this user accepted (``<data dir>/known_hosts``, plus ~/.ssh's)."""
    from app.remote.ssh.hostkeys import KnownHosts

    return KnownHosts(data_dir() / "known_hosts")


def keyring_secrets(profile: ServerProfile) -> Secrets:
    """A server's secrets from the OS keyring (none when it has no usable backend)."""
    from app.remote.ssh.secrets import SecretStore

    return SecretStore().get(profile.name)


def _saved_hosts(store: Store) -> tuple[dict[str, ServerProfile], dict[str, ClusterProfile]]:
    """Every saved server and cluster, by name."""
    servers = {profile.name: profile for profile in ServerProfiles(store).list()}
    return servers, {profile.name: profile for profile in ClusterProfiles(store).list()}


def resolve_hosts(store: Store, config: ExperimentConfig
                  ) -> list[ServerProfile | ClusterProfile]:
    """The saved servers and clusters the experiment's ``hosts`` names (``local`` is not
    one), in its order.

    Raises:
        ExperimentError: a name that is neither ``local`` nor a saved server or cluster,
            a name both a server and a cluster have, a cluster whose login server is
            not saved.
    """
    return _resolve(config, *_saved_hosts(store))


def _resolve(config: ExperimentConfig, servers: dict[str, ServerProfile],
             clusters: dict[str, ClusterProfile]) -> list[ServerProfile | ClusterProfile]:
    """:func:`resolve_hosts` over profiles already read."""
    problems: list[Problem] = []
    for name in config.hosts:
        if name == LOCAL_HOST:
            continue
        if name in servers and name in clusters:
            problems.append(Problem("hosts", f"{name!r} is both a saved server and a saved "
                                    f"cluster; rename one (`sweeplab clusters rm {name}`)"))
        elif name in clusters and clusters[name].login not in (None, *servers):
            problems.append(Problem("hosts", (
                f"cluster {name!r} logs in through the server {clusters[name].login!r}, which "
                "is not saved; add it with `sweeplab servers add`")))
        elif name not in servers and name not in clusters:
            known = ", ".join([LOCAL_HOST, *sorted({*servers, *clusters})])
            problems.append(Problem("hosts", (
                f"unknown host {name!r}: not a saved server or cluster (known: {known}); add "
                f"it with `sweeplab servers add {name} --host ... --user ...` or `sweeplab "
                f"clusters add {name} ...`")))
    if problems:
        raise ExperimentError(problems[:1])
    return [servers[name] if name in servers else clusters[name]
            for name in config.hosts if name != LOCAL_HOST]


def gpu_problem(config: ExperimentConfig,
                named: Sequence[ServerProfile | ClusterProfile]) -> Problem | None:
    """A problem when every host of the experiment is known to have fewer GPUs than
    ``gpus_per_trial`` (so no trial could ever start), naming each host's count; None
    when one may have enough.

    Known without connecting: this machine (``nvidia-smi``) and a server whose profile
    lists its GPUs. A server that finds its GPUs when it connects, or a Slurm cluster
    (whose scheduler grants GPUs), may have enough.
    """
    need = config.gpus_per_trial
    if need <= 0:
        return None
    counts: list[str] = []
    for name in config.hosts:
        profile = next((p for p in named if p.name == name), None)
        if name == LOCAL_HOST:
            count = len(probe_gpus())
        elif isinstance(profile, ServerProfile) and profile.gpus is not None:
            count = len(profile.gpus)
        else:
            return None
        if count >= need:
            return None
        counts.append(f"{name} has {count}")
    return Problem("gpus_per_trial", f"each trial asks for {need} GPU(s), but no host has "
                                     f"that many: {', '.join(counts)}")


def store_new_experiment(store: Store, name: str, config: ExperimentConfig,
                         progress: Progress | None = None) -> ExperimentRecord:
    """Check all that a first run of ``config`` needs, pack its code, and only then
    store it as ``name`` (DRAFT, with its code snapshot): a refusal leaves the
    database as it was.

    Checked first: the hosts are saved, one of them may have ``gpus_per_trial`` GPUs,
    the searcher and scheduler can be built (grid search needs steps), and the code
    directory packs (readable, within the size limit).

    Raises:
        ExperimentError: an unknown host, or no host with enough GPUs.
        ValueError: the searcher refuses the space, or the code cannot be packed.
        OSError: the code directory cannot be read.
        StoreError: the name is taken (another program was faster).
    """
    named = resolve_hosts(store, config)
    problem = gpu_problem(config, named)
    if problem is not None:
        raise ExperimentError([problem])
    check_buildable(config)
    snapshot = take_snapshot(config.code_dir, data_dir() / "snapshots",
                             config.include_uncommitted, progress=progress)
    record = store.create_experiment(name, {**config.to_dict(), "name": name})
    return store.update_experiment(record.id, snapshot_hash=snapshot.content_hash,
                                   commit=snapshot.commit, dirty=snapshot.dirty)


def build_pool(store: Store, config: ExperimentConfig, *, grace: float = 5.0,
               secrets: Callable[[ServerProfile], Secrets] = keyring_secrets,
               offline_timeout: float = 60.0) -> Pool:
    """The executors of the experiment's hosts as one :class:`Pool`: this machine, SSH
    servers, and Slurm clusters (through their login server's secrets)."""
    from app.remote.slurm.connect import cluster_access, tick_for
    from app.remote.ssh.executor import SshExecutor

    servers, clusters = _saved_hosts(store)
    named = _resolve(config, servers, clusters)
    trusted = known_hosts()

    def make(events: EventQueue) -> list[Host]:
        hosts: list[Host] = []
        if LOCAL_HOST in config.hosts:
            hosts.append(local_executor(grace, events))
        for profile in named:
            if isinstance(profile, ClusterProfile):
                login = servers.get(profile.login) if profile.login else None
                access = cluster_access(profile, login,
                                        secrets(login) if login else Secrets(), trusted)
                hosts.append(SlurmExecutor(
                    profile, access, grace=grace, events=events, tick=tick_for(profile),
                    max_trial_seconds=config.limits.max_trial_seconds,
                    offline_timeout=offline_timeout))
            else:
                hosts.append(SshExecutor(profile, secrets(profile), trusted, grace=grace,
                                         offline_timeout=offline_timeout, events=events))
        return hosts

    return Pool(make)


def build_runner(store: Store, experiment: ExperimentRecord, *, fresh_snapshot: bool,
                 grace: float = 5.0, progress: Progress | None = None,
                 reruns: Sequence[Rerun] = (),
                 secrets: Callable[[ServerProfile], Secrets] = keyring_secrets,
                 offline_timeout: float = 60.0, driver: str = "sweeplab",
                 paused: bool = False) -> tuple[Runner, Pool]:
    """A runner that continues ``experiment`` from what the database holds.

    ``progress`` follows the code snapshot; ``reruns`` run first; ``secrets`` gives
    each server's password or passphrase; a server unreachable for ``offline_timeout``
    s loses its trials (they run again elsewhere).
    ``driver`` names this program in the experiment's lease (see
    :mod:`app.engine.lease`); ``paused`` re-attaches without starting new trials.
    The caller closes the returned pool once the runner has ended.

    Raises:
        DrivenElsewhere: another live program runs the experiment (nothing changed).
        ExperimentError: ``hosts`` names an unknown server, or no parameter is searched
            so every trial would be the same (nothing is changed then).
        ValueError: the searcher or scheduler refuses the experiment (nothing changed).
    """
    config = config_of(experiment)
    if not paused:  # a paused run is followed again as it is; anything else starts trials
        check_buildable(config)
    lease = Lease.claim(store, experiment.id, experiment.name, driver)
    with ExitStack() as undo:  # on any failure: the pool closed, the lease released
        undo.callback(lease.release)
        # the pool first: an unknown host is refused before the snapshot changes anything
        pool = build_pool(store, config, grace=grace, secrets=secrets,
                          offline_timeout=offline_timeout)
        undo.callback(pool.close)
        snapshot = snapshot_of(store, experiment, config, fresh_snapshot, progress)
        names = {host.name for host in pool.hosts}
        if config.scheduler.name is SchedulerName.PBT:  # a segment launched or not
            settle_segments(store, store, experiment.id, pool.claim)
        left = settle_leftovers(store, experiment.id, lambda trial: trial.host in names
                                and trial.trial_dir is not None, pool.claim)
        attached = []
        for trial in left.attached:
            assert trial.host is not None and trial.trial_dir is not None
            pool.follow(trial.host, trial.id, trial.trial_dir, trial.log_offset, trial.pid,
                        gpus=trial.gpus, queued=trial.state is TrialState.QUEUED)
            attached.append((trial, pool))
        searcher = build_searcher(config, store, experiment.id)
        runner = Runner(store, experiment.id, config, [pool], searcher, snapshot, grace=grace,
                        reruns=[*left.reruns, *reruns], waiting=left.waiting,
                        attached=attached, lease=lease,
                        paused=paused, segments=store)
        undo.pop_all()  # built: the caller owns the pool, the runner the lease
    return runner, pool
