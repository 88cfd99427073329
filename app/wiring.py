"""Shared wiring of the composition roots (CLI and GUI): store, executors, runner.

This is the one place that knows every layer; engine, remote and store stay
ignorant of each other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

from app.engine.experiment import ExperimentConfig, experiment_from_dict
from app.engine.records import ExperimentRecord, Snapshot
from app.engine.resume import build_searcher, close_leftovers
from app.engine.runner import Runner
from app.remote.local import LocalExecutor
from app.remote.snapshot import Progress, take_snapshot
from app.store.store import Store

HOME_ENV = "SWEEPLAB_HOME"
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


def local_executor(grace: float = 5.0) -> LocalExecutor:
    """This machine's executor, trials under the data directory."""
    return LocalExecutor(data_dir() / "trials", grace=grace)


def build_runner(store: Store, experiment: ExperimentRecord, *, fresh_snapshot: bool,
                 grace: float = 5.0, progress: Progress | None = None,
                 reruns: Sequence[tuple[dict[str, Any], int]] = ()) -> tuple[Runner, LocalExecutor]:
    """A runner that continues ``experiment`` from what the database holds.

    ``progress`` follows the code snapshot; ``reruns`` are ``(params, number)`` pairs
    to run first. The caller closes the returned executor once the runner has ended.
    """
    config = config_of(experiment)
    snapshot = snapshot_of(store, experiment, config, fresh_snapshot, progress)
    close_leftovers(store, experiment.id)
    searcher = build_searcher(config, store, experiment.id)
    executor = local_executor(grace)
    runner = Runner(store, experiment.id, config, [executor], searcher, snapshot, grace=grace,
                    reruns=reruns)
    return runner, executor
