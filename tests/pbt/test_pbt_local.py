"""PBT with real detached processes on this machine: exploits copy the donor's newest
checkpoint into a folder of the trial's own and continue from its step with explored
params; every segment is stored; trials and steps are counted right."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import POPULATION, TRAIN, check_run, pbt_fields


def test_a_pbt_run_exploits_and_explores_with_real_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", str(POPULATION))
    starts = tmp_path / "starts"
    code = write_code(tmp_path, TRAIN)
    from app.engine.experiment import experiment_from_dict

    config = experiment_from_dict(experiment_doc(code, **pbt_fields({"STARTS": str(starts)})),
                                  code)
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=5.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=120, what="the run to end")
        assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
        segments = check_run(store, experiment.id, starts)
        exploits = [s for s in segments if s.is_exploit]
        assert exploits, "no trial exploited another"
        log = "\n".join(e.message for e in store.list_events(experiment.id))
        assert "exploits trial" in log


def test_a_trial_stopped_while_it_changes_segments_ends_instead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial stopped for its exploit is held at its stop (GATE); the user stops that
    trial meanwhile: it ends STOPPED, its next segment never starts, the run goes on."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", str(POPULATION))
    gate = tmp_path / "gate"
    code = write_code(tmp_path, TRAIN)
    from app.engine.experiment import experiment_from_dict

    env = {"STARTS": str(tmp_path / "starts"), "GATE": str(gate), "PACE": "0.25"}
    config = experiment_from_dict(experiment_doc(code, **pbt_fields(env)), code)
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, gate, grace=30.0) as (runner, _):
            planned = wait_until(lambda: [s for s in store.segments(experiment.id)
                                          if s.is_exploit], 60, "an exploit decided")[0]
            runner.stop_trial(planned.trial_id)
            wait_until(lambda: any(e.message.startswith(f"trial {planned.number}: stopped by")
                                   for e in store.list_events(experiment.id)), 30,
                       "the stop to reach the trial")
            gate.touch()
            wait_until(lambda: runner.wait(0), 120, "the run to end")
        trial = store.get_trial(planned.trial_id)
        assert trial.state is TrialState.STOPPED, (trial.state, trial.error)
        # its next segment never started, so it is not kept; its first one ended
        assert [s.index for s in store.segments(experiment.id)
                if s.trial_id == planned.trial_id] == list(range(planned.index))
        others = [t for t in store.list_trials(experiment.id) if t.id != trial.id]
        assert {t.state for t in others} <= {TrialState.COMPLETED}


def test_a_trial_that_ends_before_it_can_change_segments_keeps_one_segment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials that ignore SIGINT train to max epochs: each exploit decided for them never
    starts, so it is not kept; each trial has one segment, ending at the last step."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", str(POPULATION))
    starts = tmp_path / "starts"
    code = write_code(tmp_path, TRAIN)
    from app.engine.experiment import experiment_from_dict

    env = {"STARTS": str(starts), "IGNORE_INT": "1"}
    config = experiment_from_dict(experiment_doc(code, **pbt_fields(env)), code)
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=30.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=120, what="the run to end")
        log = "\n".join(e.message for e in store.list_events(experiment.id))
        assert "exploits trial" in log  # decided, never carried out
        segments = check_run(store, experiment.id, starts)
        assert [s.index for s in segments] == [0] * POPULATION
