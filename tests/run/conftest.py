"""Fixtures for end-to-end runs: a code directory, a store, an executor, a runner."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.application.workspace import Workspace
from app.engine.events import RunnerEvent
from app.engine.experiment import ExperimentConfig, experiment_from_dict
from app.engine.ports import Executor
from app.engine.records import TrialRecord
from app.engine.resume import build_searcher
from app.engine.runner import Runner
from app.engine.trial import ExperimentState
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from app.store.store import Store
from tests.helpers import SPACE_X, experiment_doc, wait_until, write_code

__all__ = ["PYTHON", "SPACE_X", "Harness", "harness", "wait_until", "workspace"]


@dataclass
class Harness:
    """Runs experiments end to end in a temporary directory."""

    root: Path
    store: Store
    events: list[RunnerEvent] = field(default_factory=list)
    executors: list[Executor] = field(default_factory=list)

    @property
    def code(self) -> Path:
        return self.root / "code"

    def script(self, name: str, text: str) -> Path:
        return write_code(self.root, text, name) / name

    def config(self, **fields: Any) -> ExperimentConfig:
        """:func:`~tests.helpers.experiment_doc` (2 trials, 2 at a time unless told)."""
        limits = {"max_trials": 2, "max_parallel": 2}
        return experiment_from_dict(experiment_doc(self.code, **({"limits": limits} | fields)),
                                    self.code)

    def runner(self, config: ExperimentConfig, grace: float = 2.0,
               executor: Executor | None = None) -> Runner:
        """A runner of ``config`` (stored now) on ``executor``, by default a local one
        with 4 CPU slots."""
        experiment = self.store.create_experiment(config.name, config.to_dict())
        snapshot = take_snapshot(config.code_dir, self.root / "snapshots")
        if executor is None:
            executor = LocalExecutor(self.root / "trials", gpus=[], cpu_slots=4, grace=grace)
        self.executors.append(executor)
        runner = Runner(self.store, experiment.id, config, [executor],
                        build_searcher(config, self.store, experiment.id), snapshot,
                        grace=grace, poll_interval=0.05)
        runner.subscribe(self.events.append)
        return runner

    def run(self, config: ExperimentConfig, timeout: float = 60.0) -> list[TrialRecord]:
        runner = self.runner(config)
        runner.start()
        assert runner.wait(timeout), "the experiment did not finish in time"
        assert runner.state is not ExperimentState.FAILED, self.log(config.name)
        return self.store.list_trials(self.store.get_experiment(config.name).id)

    def log(self, name: str) -> str:
        exp = self.store.get_experiment(name)
        return "\n".join(e.message for e in self.store.list_events(exp.id))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The GUI's controller over ``tmp_path/db.sqlite``, data in ``tmp_path/home``."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    opened = Workspace(store, grace=1.0)
    yield opened
    opened.close()
    store.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    (tmp_path / "code").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    h = Harness(tmp_path, store)
    yield h
    for executor in h.executors:
        executor.close()
    store.close()


PYTHON = sys.executable
