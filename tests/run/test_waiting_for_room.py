"""A run that cannot start anything says why in its log, once per reason: here every
slot of the machine is taken by another program's trial, then it is free again."""

from __future__ import annotations

import logging

import pytest

from app.engine.trial import ExperimentState, TrialState
from app.remote.local import LocalExecutor
from app.remote.pool import Pool
from app.remote.snapshot import take_snapshot
from tests.remote.remote_support import PYTHON, Events, spec
from tests.run.conftest import Harness, wait_until

GATED = (f"{PYTHON} -c \"import os,pathlib,time\n"
         "print('up', flush=True)\n"
         "while not pathlib.Path(os.environ['GATE']).exists(): time.sleep(0.01)\"")


def test_a_run_with_no_room_says_why_once_then_runs(harness: Harness) -> None:
    harness.script("train.py", "import sweeplab\nsweeplab.report('loss', sweeplab.param('x'))\n")
    slots = harness.root / "slots"
    other = LocalExecutor(harness.root / "other", gpus=[], cpu_slots=1, slot_folder=slots)
    harness.executors.append(other)
    gate = harness.root / "gate"
    other.submit(spec(take_snapshot(harness.code, harness.root / "their-snapshots"), GATED,
                      99, env={"GATE": str(gate)}))
    theirs = Events(other)
    theirs.wait_line(99, "up")
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1})
    runner = harness.runner(config, executor=LocalExecutor(
        harness.root / "trials", gpus=[], cpu_slots=1, slot_folder=slots, grace=2.0))
    runner.start()
    said = "waiting for room: all 1 CPU slots of local are taken"
    wait_until(lambda: said in harness.log(config.name), 30, "the run to say why it waits")
    assert harness.store.list_trials(harness.store.get_experiment(config.name).id) == []
    gate.touch()
    theirs.wait_end(99, timeout=30)
    assert runner.wait(60)
    assert runner.state is ExperimentState.COMPLETED
    (trial,) = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert trial.state is TrialState.COMPLETED
    assert harness.log(config.name).count(said) == 1, "said once, not at every look"


def test_a_run_no_host_can_ever_take_ends_failed_in_plain_words(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 15.6, where the counts are learnt only at the first start (a probed server,
    here a pool whose only host has no GPU): the run ends FAILED naming the counts, with
    no traceback logged and no trial left behind."""
    harness.script("train.py", "import sweeplab\nsweeplab.report('loss', sweeplab.param('x'))\n")
    config = harness.config(limits={"max_trials": 2, "max_parallel": 1}, gpus_per_trial=1)
    pool = Pool(lambda events: [LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=1,
                                              name="laptop", events=events)])
    runner = harness.runner(config, executor=pool)
    with caplog.at_level(logging.ERROR):
        runner.start()
        assert runner.wait(60)
    assert runner.state is ExperimentState.FAILED
    text = harness.log(config.name)
    assert "asks for 1 GPU(s) but laptop has 0" in text
    assert "the runner failed" not in text
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a known refusal"
    trials = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert [t.state for t in trials if not t.state.is_finished()] == [], trials
