"""Shared wiring of the composition roots (CLI and GUI): store, executors, runner.

This is the one place that knows every layer; engine, remote and store stay
ignorant of each other.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from app.engine.errors import Problem
from app.engine.experiment import (
    LOCAL_HOST,
    ExperimentConfig,
    ExperimentError,
    experiment_from_dict,
)
from app.engine.records import ExperimentRecord, ProcessEvent, Snapshot
from app.engine.resume import build_searcher, settle_leftovers
from app.engine.runner import Runner
from app.remote.local import LocalExecutor
from app.remote.pool import Host, Pool
from app.remote.snapshot import Progress, take_snapshot
from app.remote.ssh.executor import SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.secrets import SecretStore
from app.store.servers import ServerProfiles
from app.store.store import Store

HOME_ENV = "SWEEPLAB_HOME"
LOCAL_SLOTS_ENV = "SWEEPLAB_LOCAL_SLOTS"
"""How many trials without GPUs this machine runs at once (default: its CPU count)."""
DB_ENV = "SWEEPLAB_DB"


def data_dir() -> Path:
    """Where Sweeplab keeps its database, snapshots and trial directories."""
    override = os.environ.get(HOME_ENV)
    path = Path(override) if override else platformdirs.user_data_path("sweeplab", "Sweeplab")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_store(url: str | None = None) -> Store:
    """The database at ``url``, ``$SWEEPLAB_DB``, or the default SQLite file."""
    url = url or os.environ.get(DB_ENV)
    if url:
        return Store.open(url)
    return Store.open(f"sqlite:///{data_dir() / 'sweeplab.db'}")


def config_of(experiment: ExperimentRecord) -> ExperimentConfig:
    """The validated definition stored with an experiment."""
    return experiment_from_dict(experiment.definition, Path(experiment.definition["code_dir"]),
                                f"experiment {experiment.name!r}")


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
                   events: queue.Queue[ProcessEvent] | None = None) -> LocalExecutor:
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
    return LocalExecutor(data_dir() / "trials", grace=grace, events=events, cpu_slots=slots)


def known_hosts() -> KnownHosts:
    """The host keys this user accepted (``<data dir>/known_hosts``, plus ~/.ssh's)."""
    return KnownHosts(data_dir() / "known_hosts")


def keyring_secrets(profile: ServerProfile) -> Secrets:
    """A server's secrets from the OS keyring (none when it has no usable backend)."""
    return SecretStore().get(profile.name)


def resolve_hosts(store: Store, config: ExperimentConfig) -> list[ServerProfile]:
    """The saved servers the experiment's ``hosts`` names (``local`` is not one).

    Raises:
        ExperimentError: a name that is neither ``local`` nor a saved server.
    """
    saved = {profile.name: profile for profile in ServerProfiles(store).list()}
    unknown = [name for name in config.hosts if name != LOCAL_HOST and name not in saved]
    if unknown:
        known = ", ".join([LOCAL_HOST, *sorted(saved)])
        raise ExperimentError([Problem("hosts", (
            f"unknown host {unknown[0]!r}: not a saved server (known: {known}); add it with "
            f"`sweeplab servers add {unknown[0]} --host ... --user ...`"))])
    return [saved[name] for name in config.hosts if name != LOCAL_HOST]


def build_pool(store: Store, config: ExperimentConfig, *, grace: float = 5.0,
               secrets: Callable[[ServerProfile], Secrets] = keyring_secrets,
               offline_timeout: float = 60.0) -> Pool:
    """The executors of the experiment's hosts as one :class:`Pool`."""
    servers = resolve_hosts(store, config)
    trusted = known_hosts()

    def make(events: queue.Queue[ProcessEvent]) -> list[Host]:
        hosts: list[Host] = []
        if LOCAL_HOST in config.hosts:
            hosts.append(local_executor(grace, events))
        for profile in servers:
            hosts.append(SshExecutor(profile, secrets(profile), trusted, grace=grace,
                                     offline_timeout=offline_timeout, events=events))
        return hosts

    return Pool(make)


def build_runner(store: Store, experiment: ExperimentRecord, *, fresh_snapshot: bool,
                 grace: float = 5.0, progress: Progress | None = None,
                 reruns: Sequence[tuple[dict[str, Any], int]] = (),
                 secrets: Callable[[ServerProfile], Secrets] = keyring_secrets,
                 offline_timeout: float = 60.0) -> tuple[Runner, Pool]:
    """A runner that continues ``experiment`` from what the database holds.

    ``progress`` follows the code snapshot; ``reruns`` are ``(params, number)`` pairs
    to run first; ``secrets`` gives each server's password or passphrase; a server
    unreachable for ``offline_timeout`` s loses its trials (they run again elsewhere).
    The caller closes the returned pool once the runner has ended.

    Raises:
        ExperimentError: ``hosts`` names an unknown server (nothing is changed then).
    """
    config = config_of(experiment)
    resolve_hosts(store, config)
    snapshot = snapshot_of(store, experiment, config, fresh_snapshot, progress)
    pool = build_pool(store, config, grace=grace, secrets=secrets,
                      offline_timeout=offline_timeout)
    names = {host.name for host in pool.hosts}
    left = settle_leftovers(store, experiment.id, lambda trial: trial.host in names
                            and trial.trial_dir is not None)
    attached = []
    for trial in left.attached:
        assert trial.host is not None and trial.trial_dir is not None
        pool.follow(trial.host, trial.id, trial.trial_dir, trial.log_offset, trial.pid,
                    gpus=trial.gpus)
        attached.append((trial, pool))
    searcher = build_searcher(config, store, experiment.id)
    runner = Runner(store, experiment.id, config, [pool], searcher, snapshot, grace=grace,
                    reruns=[*left.reruns, *reruns], attached=attached)
    return runner, pool
