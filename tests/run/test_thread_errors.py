"""Nothing hangs, whatever a trial's thread meets: any error in launching or following a
local trial ends that trial FAILED with the reason and frees its slot; the run goes on
and ends.

A value no process can receive (a NUL byte in ``env``) is refused by the experiment
file check before anything is stored; here it slips past that check on purpose (the
config is built by hand, or the spec goes to the executor directly), as a bug would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind, Snapshot, TrialSpec
from app.engine.trial import ExperimentState, TrialState
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.helpers import wait_until
from tests.run.conftest import Harness

TRIAL = "import sweeplab\nsweeplab.report('loss', 1.0)\n"


def _nul_spec(snapshot: Snapshot, trial_id: int) -> TrialSpec:
    return TrialSpec(trial_id=trial_id, experiment_id=1, command="{python} train.py",
                     params={}, snapshot=snapshot, env={"FOO": "a\0b"})


def test_a_nul_byte_given_to_the_executor_ends_the_trial_and_frees_its_slot(
        tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRIAL)
    snapshot = take_snapshot(code, tmp_path / "snapshots")
    executor = LocalExecutor(tmp_path / "trials", gpus=[], cpu_slots=1)
    try:
        events = []
        for trial_id in (1, 2):  # the one slot comes back each time
            assert executor.free_slots() == 1
            executor.submit(_nul_spec(snapshot, trial_id))
            (event,) = wait_until(lambda: executor.poll(0.1), 20, f"trial {trial_id}'s end")
            events.append(event)
        assert [e.kind for e in events] == [ProcessEventKind.START_FAILED] * 2
        assert "trial 2 could not start: ValueError: embedded null byte" in events[1].message
        assert executor.free_slots() == 1
    finally:
        executor.close()


def test_a_run_whose_env_slipped_a_nul_byte_past_the_check_ends(harness: Harness) -> None:
    harness.script("train.py", TRIAL)
    config = dataclasses.replace(harness.config(limits={"max_trials": 3, "max_parallel": 1}),
                                 env={"FOO": "a\0b"})
    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=1)
    runner = harness.runner(config, executor=executor)
    runner.start()
    assert runner.wait(60), "the run hung on a trial that could not start"
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    assert [t.state for t in trials] == [TrialState.FAILED] * 3
    assert all("embedded null byte" in (t.error or "") for t in trials), trials
    assert executor.free_slots() == 1


def test_an_error_in_following_a_started_trial_ends_it_failed(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_look(self: LocalExecutor, run: object) -> tuple[bool, bool]:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(LocalExecutor, "_look", broken_look)
    harness.script("train.py", TRIAL)
    config = harness.config(limits={"max_trials": 2, "max_parallel": 1})
    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=1)
    runner = harness.runner(config, executor=executor)
    runner.start()
    assert runner.wait(60), "the run hung on a trial nobody follows"
    assert runner.state is ExperimentState.FAILED  # it ended: every trial failed
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    assert all("following trial" in (t.error or "") and "RuntimeError: injected fault"
               in (t.error or "") for t in trials), [t.error for t in trials]
    assert all(t.started_at is not None for t in trials)  # they did start
    assert executor.free_slots() == 1
