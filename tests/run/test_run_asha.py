"""Early stopping end to end: ASHA prunes trials of the quadratic example."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.engine.experiment import ExperimentConfig
from app.engine.records import TrialRecord
from app.engine.resume import build_scheduler, build_searcher
from app.engine.runner import Runner
from app.engine.schedulers import Decision, make_scheduler
from app.engine.trial import TrialState
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.run.conftest import Harness
from tests.run.test_run_local import _group_alive

ROOT = Path(__file__).resolve().parents[2]


def test_asha_prunes_quadratic_trials_and_their_processes_are_gone(harness: Harness) -> None:
    shutil.copy(ROOT / "examples" / "quadratic" / "train.py", harness.code / "train.py")
    space = harness.root / "space.yaml"
    shutil.copy(ROOT / "examples" / "quadratic" / "space.yaml", space)
    config = harness.config(
        space=str(space), algorithm={"name": "random", "seed": 3},
        scheduler={"name": "asha", "grace_period": 1, "reduction_factor": 3},
        limits={"max_trials": 12, "max_parallel": 2, "max_epochs": 9},
        env={"QUADRATIC_EPOCH_SECONDS": "0.03"},
    )
    trials = harness.run(config, timeout=120)
    states = [t.state for t in trials]
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned, states
    assert set(states) <= {TrialState.COMPLETED, TrialState.PRUNED}, states
    assert any(s is TrialState.COMPLETED for s in states)
    for trial in pruned:
        points = harness.store.get_metrics(trial.id, "loss")
        assert points and max(p.step or 0 for p in points) < 9  # stopped before the end
        assert trial.kpi == points[-1].value  # told its last value
        assert trial.error is None
        assert trial.pid is not None and not _group_alive(trial.pid)
    for trial in trials:
        if trial.state is TrialState.COMPLETED:  # survivors ran to max epochs
            assert max(p.step or 0 for p in harness.store.get_metrics(trial.id, "loss")) >= 9
    assert "pruned by the early-stopping scheduler" in harness.log(config.name)

    # Resume: the scheduler is rebuilt from the stored values, so rung 1 is full and a
    # hopeless newcomer is stopped there, where a fresh scheduler lets it through.
    experiment = harness.store.get_experiment(config.name)
    rebuilt = build_scheduler(config, harness.store, experiment.id)
    fresh = make_scheduler(config.scheduler, config.kpi.goal, config.limits.max_epochs)
    assert fresh.on_result(99, 1, 1e9) is Decision.CONTINUE
    assert rebuilt.on_result(99, 1, 1e9) is Decision.STOP
    assert rebuilt.on_result(100, 1, -1.0) is Decision.CONTINUE


class Scripted:
    """A scheduler that records what it is asked and stops at one step."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at
        self.results: list[tuple[int, int, float]] = []
        self.completed: list[tuple[int, float | None]] = []

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        self.results.append((trial, step, value))
        return Decision.STOP if step >= self.stop_at else Decision.CONTINUE

    def on_complete(self, trial: int, value: float | None) -> None:
        self.completed.append((trial, value))


STEPLESS = """\
import signal, sys, threading
import sweeplab
signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
for i in range(1, 6):
    sweeplab.report("loss", float(i))
threading.Event().wait(60)
"""
STEPPED = STEPLESS.replace('float(i))', 'float(i), step=i)')


def _run_with(harness: Harness, config: ExperimentConfig,
              scheduler: Scripted) -> list[TrialRecord]:
    experiment = harness.store.create_experiment(config.name, config.to_dict())
    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=2, grace=2.0)
    harness.executors.append(executor)
    runner = Runner(harness.store, experiment.id, config, [executor],
                    build_searcher(config, harness.store, experiment.id),
                    take_snapshot(config.code_dir, harness.root / "snapshots"),
                    grace=2.0, poll_interval=0.05, scheduler=scheduler)
    runner.start()
    assert runner.wait(30), harness.log(config.name)
    return harness.store.list_trials(experiment.id)


def test_values_without_a_step_are_counted_and_a_stop_prunes(harness: Harness) -> None:
    harness.script("train.py", STEPLESS)
    scheduler = Scripted(stop_at=2)
    trials = _run_with(harness, harness.config(limits={"max_trials": 1}), scheduler)
    assert [t.state for t in trials] == [TrialState.PRUNED]
    assert trials[0].exit_code == 3  # it got SIGINT
    # the KPI values go in as steps 1, 2, ...; nothing is asked once it is stopping
    assert scheduler.results == [(1, 1, 1.0), (1, 2, 2.0)]
    assert scheduler.completed == [(1, trials[0].kpi)]
    assert trials[0].kpi is not None and trials[0].kpi >= 2.0


def test_a_trial_that_ran_its_max_epochs_is_not_pruned(harness: Harness) -> None:
    harness.script("train.py", STEPPED)
    scheduler = Scripted(stop_at=2)
    config = harness.config(name="budget", limits={"max_trials": 1, "max_epochs": 2})
    trials = _run_with(harness, config, scheduler)
    assert [t.state for t in trials] == [TrialState.COMPLETED]
    assert scheduler.results[:2] == [(1, 1, 1.0), (1, 2, 2.0)]
