"""Whole optimisations on a real Slurm through the wiring the CLI and the GUI use: a saved
cluster named in ``hosts`` beside this machine; stop; ASHA pruning; a trial pending in
the queue (QUEUED with Slurm's reason); a job Slurm kills at its time limit."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.records import TrialRecord
from app.engine.trial import ExperimentState, TrialState
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import gated_trial, running, store_experiment, wait_until
from tests.slurm.slurm_support import final_state

ROOT = Path(__file__).resolve().parents[2]
GATED = gated_trial(steps=3)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm: LocalSlurm) -> Iterator[Store]:
    """A store with two saved clusters on the test Slurm: ``hpc`` and ``queue-only``
    (whose partition is down)."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", "1")
    db = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    work = str(tmp_path / "cluster work")  # a space, to prove the quoting
    ClusterProfiles(db).add(ClusterProfile("hpc", workdir=work, python=sys.executable,
                                           max_parallel=4))
    ClusterProfiles(db).add(ClusterProfile("queue-only", workdir=work, partition="down",
                                           python=sys.executable))
    yield db
    db.close()


def _experiment(tmp_path: Path, store: Store, script: str, **fields: Any) -> int:
    """A stored experiment on the ``hpc`` cluster, gated by ``gate``."""
    return store_experiment(store, tmp_path, script, **{
        "name": "cluster-run", "algorithm": {"name": "random", "seed": 5}, "hosts": ["hpc"],
        "env": {"GATE": str(tmp_path / "gate")}, **fields})


def _trials(store: Store, experiment_id: int, state: TrialState) -> list[TrialRecord]:
    return [t for t in store.list_trials(experiment_id) if t.state is state]


def test_an_optimisation_runs_through_slurm_beside_this_machine(
        tmp_path: Path, store: Store, slurm: LocalSlurm) -> None:
    experiment_id = _experiment(tmp_path, store, GATED, hosts=["local", "hpc"],
                                limits={"max_trials": 8, "max_parallel": 5})
    with running(store, experiment_id, tmp_path / "gate", grace=1.0) as (runner, _):
        wait_until(lambda: len(_trials(store, experiment_id, TrialState.RUNNING)) == 5, 60,
                   "5 trials running")
        assert Counter(t.host for t in _trials(store, experiment_id, TrialState.RUNNING)) == {
            "local": 1, "hpc": 4}
        (tmp_path / "gate").touch()
        assert runner.wait(90)
    trials = store.list_trials(experiment_id)
    assert len(trials) == 8 and all(t.state is TrialState.COMPLETED for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    on_slurm = [t for t in trials if t.host == "hpc"]
    assert len(on_slurm) >= 4
    for trial in on_slurm:
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3]
        assert trial.trial_dir is not None and trial.pid is not None
        assert (Path(trial.trial_dir) / "job_id").read_text().strip() == str(trial.pid)
        assert final_state(slurm, trial.pid) == "COMPLETED|None"
    assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED


def test_stop_ends_running_jobs_stopped_not_failed(
        tmp_path: Path, store: Store, slurm: LocalSlurm) -> None:
    experiment_id = _experiment(tmp_path, store, GATED,
                                limits={"max_trials": 8, "max_parallel": 4})
    with running(store, experiment_id, tmp_path / "gate", grace=5.0) as (runner, _):
        wait_until(lambda: all(len(store.get_metrics(t.id)) == 1 for t in
                               _trials(store, experiment_id, TrialState.RUNNING))
                   and len(_trials(store, experiment_id, TrialState.RUNNING)) == 4, 60,
                   "4 trials running, each at step 1")
        runner.stop()
        assert runner.wait(60)
    trials = store.list_trials(experiment_id)
    assert len(trials) == 4 and all(t.state is TrialState.STOPPED for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    for trial in trials:
        assert trial.pid is not None
        assert final_state(slurm, trial.pid) in ("COMPLETED|None", "FAILED|NonZeroExitCode")
    assert store.get_experiment(experiment_id).state is ExperimentState.STOPPED


def test_asha_prunes_trials_on_slurm(tmp_path: Path, store: Store, slurm: LocalSlurm) -> None:
    (tmp_path / "code").mkdir()
    shutil.copy(ROOT / "examples" / "quadratic" / "train.py", tmp_path / "code" / "train.py")
    space = tmp_path / "space.yaml"
    shutil.copy(ROOT / "examples" / "quadratic" / "space.yaml", space)
    experiment_id = _experiment(
        tmp_path, store, (tmp_path / "code" / "train.py").read_text(), space=str(space),
        algorithm={"name": "random", "seed": 3},
        scheduler={"name": "asha", "grace_period": 1, "reduction_factor": 3},
        limits={"max_trials": 9, "max_parallel": 4, "max_epochs": 9},
        env={"QUADRATIC_EPOCH_SECONDS": "0.1"})
    with running(store, experiment_id, grace=5.0) as (runner, _):
        assert runner.wait(120)
    trials = store.list_trials(experiment_id)
    states = Counter(t.state for t in trials)
    assert states[TrialState.PRUNED] >= 1 and set(states) <= {
        TrialState.COMPLETED, TrialState.PRUNED}, [(t.number, t.state, t.error) for t in trials]
    for trial in _trials(store, experiment_id, TrialState.PRUNED):
        points = store.get_metrics(trial.id, "loss")
        assert points and max(p.step or 0 for p in points) < 9 and trial.error is None
        assert trial.pid is not None and "FAILED" not in final_state(slurm, trial.pid)


def test_a_trial_pending_in_the_queue_is_queued_with_slurms_reason(
        tmp_path: Path, store: Store) -> None:
    experiment_id = _experiment(tmp_path, store, GATED, hosts=["queue-only"],
                                limits={"max_trials": 1, "max_parallel": 1})
    with running(store, experiment_id, tmp_path / "gate", grace=1.0) as (runner, _):
        def error() -> str:
            trials = store.list_trials(experiment_id)
            return (trials[0].error or "") if trials else ""

        wait_until(lambda: error().startswith("pending in Slurm as job "), 30,
                   "Slurm's reason on the trial")
        (trial,) = store.list_trials(experiment_id)
        assert (trial.state, trial.host) == (TrialState.QUEUED, "queue-only")
        assert trial.pid is not None and trial.trial_dir is not None
        assert trial.error is not None and trial.error.startswith("pending in Slurm as job ")
        assert trial.error.endswith(": its partition is down (PartitionDown)")
        runner.stop()
        assert runner.wait(30)
    (trial,) = store.list_trials(experiment_id)
    assert trial.state is TrialState.STOPPED and trial.started_at is None


def test_a_job_slurm_kills_at_its_time_limit_fails_with_slurms_reason(
        tmp_path: Path, store: Store, slurm: LocalSlurm) -> None:
    script = """
    import time, sweeplab
    sweeplab.report("loss", 1.0, step=1)
    while True:
        time.sleep(0.05)
    """
    experiment_id = _experiment(tmp_path, store, script,
                                limits={"max_trials": 1, "max_parallel": 1,
                                        "max_trial_seconds": 3600})
    with running(store, experiment_id, grace=1.0) as (runner, _):
        wait_until(lambda: any(len(store.get_metrics(t.id)) == 1 for t in
                               _trials(store, experiment_id, TrialState.RUNNING)), 60,
                   "the trial to run")
        (trial,) = store.list_trials(experiment_id)
        assert trial.pid is not None
        shown = slurm.command("scontrol", "show", "job", str(trial.pid)).stdout
        assert "TimeLimit=01:02:00" in shown  # max time + 2 x grace + 60 s, in minutes
        # Slurm checks time limits every 30 s; a limit of 0 minutes is past at once
        slurm.command("scontrol", "update", f"JobId={trial.pid}", "TimeLimit=0")
        assert runner.wait(45)
    (trial,) = store.list_trials(experiment_id)
    assert trial.state is TrialState.FAILED and trial.error is not None
    assert trial.error.startswith(f"Slurm ended job {trial.pid}: it reached its time limit "
                                  "(TIMEOUT, TimeLimit); the trial ")
    assert final_state(slurm, trial.pid) == "TIMEOUT|TimeLimit"
