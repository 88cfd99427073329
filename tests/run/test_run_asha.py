"""Early stopping end to end: ASHA prunes trials of the quadratic example."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.engine.trial import TrialState
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
        assert trial.pid is not None and not _group_alive(trial.pid)
