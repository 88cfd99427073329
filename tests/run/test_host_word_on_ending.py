"""A host's word on how a trial ended (Slurm's reason, a log its follower could not read
to the end) reaches the trial's history when the trial was stopped: its message is the
stop's reason, which the time budget's rule reads, so the word goes beside it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.engine.best import budget_cut
from app.engine.live import StopReason
from app.engine.records import ProcessEvent, ProcessEventKind
from app.engine.trial import TrialState
from app.remote.local import LocalExecutor
from devtools.passing_on import PassingOn
from tests.run.conftest import Harness

WORD = "following the log of trial 1 on lab1 failed: no answer"


class Speaking(PassingOn):
    """A real local executor whose host, like Slurm or an SSH server, has a word on each
    trial's end."""

    def poll(self, timeout: float) -> list[ProcessEvent]:
        return [dataclasses.replace(event, message=WORD)
                if event.kind is ProcessEventKind.EXITED else event
                for event in super().poll(timeout)]


def test_a_trial_cut_by_the_budget_keeps_the_budget_and_its_host_word_in_its_history(
        harness: Harness, tmp_path: Path) -> None:
    harness.script("train.py", "import time, sweeplab\nsweeplab.report('loss', 1.0, step=1)\n"
                               "time.sleep(600)\n")
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1, "max_seconds": 1.5})
    host = Speaking(LocalExecutor(tmp_path / "trials", gpus=[], cpu_slots=1, grace=2.0))
    runner = harness.runner(config, executor=host)
    runner.start()
    assert runner.wait(60)
    (trial,) = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert trial.state is TrialState.STOPPED and trial.error == StopReason.BUDGET.value
    assert budget_cut(trial)
    assert f"trial 1: {WORD}" in harness.log(config.name)
