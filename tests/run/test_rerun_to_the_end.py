"""A user's re-run exempt from early stopping runs to its end under ASHA, where the same
params re-run under the scheduler are pruned again at the first rung; the choice is
stored with the trial, so a resume keeps it."""

from __future__ import annotations

from app.engine.records import TrialRecord
from app.engine.reruns import Rerun
from app.engine.resume import build_scheduler, build_searcher, settle_leftovers
from app.engine.runner import Runner
from app.engine.schedulers import Decision
from app.engine.trial import EarlyStopping, TrialState
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.run.conftest import Harness

EPOCHS = 6
# loss = x + 0.5 ** step: the same value at each step for the same x, every run
TRAIN = f"""
import signal, sys, time
import sweeplab
signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
x = sweeplab.param("x")
for step in range(1, {EPOCHS + 1}):
    sweeplab.report("loss", x + 0.5 ** step, step=step)
    time.sleep(0.2)
"""


def steps_run(harness: Harness, trial: TrialRecord) -> int:
    return max((p.step or 0 for p in harness.store.get_metrics(trial.id, "loss")), default=0)


def test_an_exempt_rerun_completes_every_epoch_where_a_scheduled_one_is_pruned(
        harness: Harness) -> None:
    harness.script("train.py", TRAIN)
    config = harness.config(
        scheduler={"name": "asha", "grace_period": 1, "reduction_factor": 3},
        limits={"max_trials": 6, "max_parallel": 3, "max_epochs": EPOCHS})
    first = harness.run(config, timeout=120)
    assert len(first) == 6
    experiment = harness.store.get_experiment(config.name)
    worst = max(first, key=lambda t: t.params["x"])  # the worst loss at every step
    assert worst.state is TrialState.PRUNED

    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=2, grace=2.0)
    harness.executors.append(executor)
    runner = Runner(harness.store, experiment.id, config, [executor],
                    build_searcher(config, harness.store, experiment.id),
                    take_snapshot(config.code_dir, harness.root / "snapshots"),
                    grace=2.0, poll_interval=0.05,
                    reruns=[Rerun(worst.params, worst.number,
                                  early_stopping=EarlyStopping.EXEMPT),
                            Rerun(worst.params, worst.number)])
    runner.start()
    assert runner.wait(60), harness.log(config.name)
    exempt, scheduled = harness.store.list_trials(experiment.id)[6:]
    assert (exempt.rerun_of, scheduled.rerun_of) == (worst.number, worst.number)
    assert exempt.early_stopping is EarlyStopping.EXEMPT  # stored: a resume keeps it
    assert scheduled.early_stopping is EarlyStopping.SCHEDULED
    assert exempt.state is TrialState.COMPLETED, harness.log(config.name)
    assert steps_run(harness, exempt) == EPOCHS
    assert exempt.kpi == worst.params["x"] + 0.5 ** EPOCHS
    assert scheduled.state is TrialState.PRUNED
    assert steps_run(harness, scheduled) < EPOCHS
    log = harness.log(config.name)
    assert (f"trial {exempt.number} repeats trial {worst.number} and runs to its end: "
            "early stopping does not apply to it") in log

    # A resume rebuilds the scheduler without the exempt trial's values: rung 1 holds
    # the 7 scheduled trials' values, so a newcomer as bad as the worst is stopped.
    rebuilt = build_scheduler(config, harness.store, experiment.id)
    assert rebuilt.on_result(99, 1, worst.params["x"] + 0.5) is Decision.STOP


def test_a_lost_exempt_rerun_runs_again_exempt(harness: Harness) -> None:
    """A resume requeues a lost trial with its early-stopping choice."""
    harness.script("train.py", TRAIN)
    config = harness.config()
    experiment = harness.store.create_experiment(config.name, config.to_dict())
    trial = harness.store.create_trial(experiment.id, {"x": 0.5}, TrialState.QUEUED,
                                       rerun_of=1, early_stopping=EarlyStopping.EXEMPT)
    harness.store.update_trial(trial.id, state=TrialState.RUNNING, host="gone",
                               trial_dir="/nowhere")
    left = settle_leftovers(harness.store, experiment.id, lambda _: False)
    assert left.reruns == [Rerun({"x": 0.5}, 1, early_stopping=EarlyStopping.EXEMPT)]
    assert harness.store.get_trial(trial.id).state is TrialState.LOST
