"""Two experiments of one window on one machine share its slots (lock files in the data
folder): with 2 local slots, never more than 2 of their trials run at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.application.workspace import Workspace
from app.engine.records import TrialSpec
from app.engine.trial import ExperimentState, TrialState
from app.remote.gpu import NoFreeSlot
from app.remote.local import LocalExecutor
from tests.helpers import gated_trial, store_experiment, wait_until
from tests.run.conftest import Harness


def test_two_experiments_at_once_share_the_machines_slots(
        workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", "2")
    store = workspace.store
    ids = []
    for name in ("first", "second"):
        ids.append(store_experiment(store, tmp_path / name, gated_trial(steps=2), name=name,
                                    limits={"max_trials": 2, "max_parallel": 2},
                                    env={"GATE": str(tmp_path / f"{name}-gate")}))
    first, second = ids
    workspace.start(first)
    wait_until(lambda: len(store.list_trials(first, [TrialState.RUNNING])) == 2, 60,
               "the first experiment's two trials running")
    workspace.start(second)
    wait_until(lambda: "started" in [e.message for e in store.list_events(second)], 30,
               "the second experiment to start")
    assert store.list_trials(second) == [], "no slot is free for it while the first runs"
    (tmp_path / "first-gate").touch()
    wait_until(lambda: len(store.list_trials(second, [TrialState.RUNNING])) == 2, 60,
               "the second experiment's trials to take the freed slots")
    (tmp_path / "second-gate").touch()
    for experiment_id in ids:
        assert workspace.wait(experiment_id, 60)
        assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED
    spans = [(t.started_at, t.ended_at) for eid in ids for t in store.list_trials(eid)]
    assert all(start is not None and end is not None for start, end in spans)
    for start, _ in spans:  # at any trial's start, at most 2 were running
        running = [1 for s, e in spans if s is not None and e is not None and s <= start < e]
        assert len(running) <= 2


class _PlaceTakenOnce(LocalExecutor):
    """A machine where another program takes the free place between the runner's look at
    the free slots and its submit, once (the race the slot locks leave open)."""

    raced = False

    def submit(self, spec: TrialSpec) -> None:
        if not self.raced:
            self.raced = True
            raise NoFreeSlot(f"trial {spec.trial_id}: all CPU slots of local are taken "
                             "(by this or another Sweeplab)")
        super().submit(spec)


def test_a_trial_that_finds_no_room_after_all_waits_and_runs_later(harness: Harness) -> None:
    harness.script("train.py", "import sweeplab\nsweeplab.report('loss', sweeplab.param('x'))\n")
    config = harness.config(limits={"max_trials": 3, "max_parallel": 1})
    runner = harness.runner(config, executor=_PlaceTakenOnce(
        harness.root / "trials", gpus=[], cpu_slots=1, grace=2.0))
    runner.start()
    assert runner.wait(60)
    trials = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert runner.state is ExperimentState.COMPLETED, harness.log(config.name)
    assert [t.state for t in trials] == [TrialState.COMPLETED] * 3, "none failed, none lost"
    assert "trial 1 waits for room: trial 1: all CPU slots of local are taken" in harness.log(
        config.name)
