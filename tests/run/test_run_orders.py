"""Orders to a running experiment: stop one trial, re-run params, requeue a lost trial."""

from __future__ import annotations

import queue
from pathlib import Path

from app.engine.records import ProcessEvent, ProcessEventKind, TrialSpec
from app.engine.reruns import Rerun
from app.engine.resume import build_searcher
from app.engine.runner import Runner
from app.engine.trial import ExperimentState, TrialState
from app.remote.events import EventQueue
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.helpers import wait_until
from tests.run.conftest import Harness

GATED = """
import os, pathlib, time, sweeplab
x = sweeplab.param("x")
gate = pathlib.Path(os.environ["GATE"])
step = 0
while not gate.exists():
    step += 1
    sweeplab.report("loss", x + 1 / step, step=step)
    time.sleep(0.05)
sweeplab.report("loss", x, step=step + 1)
"""

def _start_gated(harness: Harness, gate: Path, max_trials: int, max_parallel: int) -> Runner:
    """Start a run of GATED trials, which report until ``gate`` exists."""
    harness.script("train.py", GATED)
    config = harness.config(limits={"max_trials": max_trials, "max_parallel": max_parallel},
                            env={"GATE": str(gate)})
    runner = harness.runner(config)
    runner.start()
    return runner


QUICK = """
import sweeplab
sweeplab.report("loss", sweeplab.param("x"), step=1)
"""


def test_stop_one_trial_and_the_experiment_goes_on(harness: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    runner = _start_gated(harness, gate, max_trials=2, max_parallel=1)
    exp = harness.store.get_experiment("exp")

    def running() -> list[int]:
        return [t.id for t in harness.store.list_trials(exp.id) if t.state is TrialState.RUNNING]

    wait_until(lambda: len(running()) == 1, what="trial 1 running")
    first = running()[0]
    runner.stop_trial(first)
    wait_until(lambda: harness.store.get_trial(first).state is TrialState.STOPPED,
               what="trial 1 stopped")
    wait_until(lambda: len(running()) == 1 and running()[0] != first, what="trial 2 running")
    gate.touch()
    assert runner.wait(30)
    trials = harness.store.list_trials(exp.id)
    assert [t.state for t in trials] == [TrialState.STOPPED, TrialState.COMPLETED]
    assert runner.state is ExperimentState.COMPLETED


def test_rerun_repeats_params_on_top_of_max_trials(harness: Harness) -> None:
    harness.script("train.py", QUICK)
    config = harness.config(limits={"max_trials": 2, "max_parallel": 1})
    trials = harness.run(config)
    exp = harness.store.get_experiment("exp")
    assert len(trials) == 2
    snapshot = take_snapshot(config.code_dir, harness.root / "snapshots")
    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=2)
    harness.executors.append(executor)
    runner = Runner(harness.store, exp.id, config, [executor],
                    build_searcher(config, harness.store, exp.id), snapshot,
                    poll_interval=0.05, reruns=[Rerun(trials[0].params, 1)])
    runner.start()
    assert runner.wait(30)
    after = harness.store.list_trials(exp.id)
    assert len(after) == 3, "the re-run adds one trial and the searcher adds none"
    rerun = after[2]
    assert rerun.rerun_of == 1 and rerun.params == trials[0].params
    assert rerun.state is TrialState.COMPLETED and rerun.kpi == trials[0].kpi
    assert runner.state is ExperimentState.COMPLETED


def test_rerun_order_while_running(harness: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    runner = _start_gated(harness, gate, max_trials=1, max_parallel=2)
    exp = harness.store.get_experiment("exp")
    wait_until(lambda: len(harness.store.list_trials(exp.id)) == 1, what="trial 1")
    first = harness.store.list_trials(exp.id)[0]
    runner.rerun(first.params, first.number)
    wait_until(lambda: len(harness.store.list_trials(exp.id)) == 2, what="the re-run")
    gate.touch()
    assert runner.wait(30)
    trials = harness.store.list_trials(exp.id)
    assert [(t.state, t.rerun_of) for t in trials] == [(TrialState.COMPLETED, None),
                                                     (TrialState.COMPLETED, 1)]
    assert trials[1].params == first.params


class VanishingHost:
    """A host whose first trial is lost: it reports STARTED, then LOST (the network
    dropped and did not come back), and takes no more trials."""

    name = "vanishing"

    def __init__(self) -> None:
        self._events: queue.Queue[ProcessEvent] = queue.Queue()
        self.used = False

    def capacity(self) -> int:
        return 1

    def free_slots(self) -> int:
        return 0 if self.used else 1

    def busy_reason(self) -> str:
        return "vanishing is gone"

    def submit(self, spec: TrialSpec) -> None:
        self.used = True
        self._events.put(ProcessEvent(spec.trial_id, ProcessEventKind.STARTED, self.name,
                                      pid=1, trial_dir="/nowhere"))
        self._events.put(ProcessEvent(spec.trial_id, ProcessEventKind.LOST, self.name,
                                      message="vanishing has not answered for 60 s"))

    def poll(self, timeout: float) -> list[ProcessEvent]:
        events: list[ProcessEvent] = []
        while not self._events.empty():
            events.append(self._events.get_nowait())
        return events

    def stop(self, trial_id: int, grace: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_lost_trial_is_requeued_elsewhere_and_counted_once(harness: Harness) -> None:
    harness.script("train.py", QUICK)
    config = harness.config(limits={"max_trials": 3, "max_parallel": 2})
    exp = harness.store.create_experiment(config.name, config.to_dict())
    snapshot = take_snapshot(config.code_dir, harness.root / "snapshots")
    local = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=1)
    harness.executors.append(local)
    vanishing = VanishingHost()
    runner = Runner(harness.store, exp.id, config, [vanishing, local],
                    build_searcher(config, harness.store, exp.id), snapshot, poll_interval=0.05)
    runner.start()
    assert runner.wait(30)
    trials = harness.store.list_trials(exp.id)
    lost = [t for t in trials if t.state is TrialState.LOST]
    assert len(lost) == 1 and lost[0].host == "vanishing"
    assert "has not answered" in (lost[0].error or "")
    again = [t for t in trials if t.rerun_of == lost[0].number]
    assert len(again) == 1 and again[0].params == lost[0].params
    assert again[0].state is TrialState.COMPLETED and again[0].host == "local"
    assert sum(1 for t in trials if t.rerun_of is None) == 3, "max trials counts each once"
    assert len(trials) == 4


FLAKY = """
import os, pathlib, sweeplab
x = sweeplab.param("x")
marks = pathlib.Path(os.environ["MARKS"])
marks.mkdir(exist_ok=True)
attempt = len(list(marks.glob(f"{x}-*"))) + 1
(marks / f"{x}-{attempt}").touch()
if attempt <= int(os.environ["FAILS"]):
    raise SystemExit(3)
sweeplab.report("loss", x)
"""


def test_failed_trials_are_retried_up_to_the_policy(harness: Harness, tmp_path: Path) -> None:
    harness.script("train.py", FLAKY)
    config = harness.config(limits={"max_trials": 2, "max_parallel": 1}, retries=2,
                            env={"MARKS": str(tmp_path / "marks"), "FAILS": "2"})
    trials = harness.run(config)
    by_origin: dict[int, list[TrialState]] = {}
    for trial in trials:
        by_origin.setdefault(trial.rerun_of or trial.number, []).append(trial.state)
    assert list(by_origin.values()) == [[TrialState.FAILED, TrialState.FAILED,
                                         TrialState.COMPLETED]] * 2
    assert "retry 2 of 2 queued" in harness.log("exp")


def test_retries_give_up_after_the_policy(harness: Harness, tmp_path: Path) -> None:
    harness.script("train.py", FLAKY)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1}, retries=1,
                            env={"MARKS": str(tmp_path / "marks"), "FAILS": "5"})
    runner = harness.runner(config)
    assert runner.run() is ExperimentState.FAILED  # no trial completed, all failed
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    assert [(t.state, t.rerun_of) for t in trials] == [(TrialState.FAILED, None),
                                                     (TrialState.FAILED, 1)]
    assert "failed 2 times: no retry left" in harness.log("exp")


def test_a_retry_goes_to_another_host_first(harness: Harness, tmp_path: Path) -> None:
    from app.remote.pool import Host, Pool

    harness.script("train.py", FLAKY)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1}, retries=1,
                            env={"MARKS": str(tmp_path / "marks"), "FAILS": "1"})
    exp = harness.store.create_experiment(config.name, config.to_dict())
    snapshot = take_snapshot(config.code_dir, harness.root / "snapshots")

    def make(events: EventQueue) -> list[Host]:
        return [LocalExecutor(harness.root / name, gpus=[], cpu_slots=1, name=name,
                              events=events) for name in ("a", "b")]

    pool = Pool(make)
    runner = Runner(harness.store, exp.id, config, [pool],
                    build_searcher(config, harness.store, exp.id), snapshot, poll_interval=0.05)
    try:
        runner.run()
    finally:
        pool.close()
    first, retry = harness.store.list_trials(exp.id)
    assert first.state is TrialState.FAILED and retry.state is TrialState.COMPLETED
    assert retry.rerun_of == 1 and retry.host != first.host


def test_requeue_failed_from_the_command_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from app.engine.docio import dump_text
    from app.store.store import Store

    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(FLAKY)
    doc = {"version": 1, "name": "flaky", "code_dir": str(code), "command": "{python} train.py",
           "kpi": {"name": "loss"}, "algorithm": {"name": "random", "seed": 2},
           "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                              "distribution": "uniform", "min": 0, "max": 1,
                                              "default": 0.5}]},
           "limits": {"max_trials": 3, "max_parallel": 3},
           "env": {"MARKS": str(tmp_path / "marks"), "FAILS": "1"}}
    (tmp_path / "exp.yaml").write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}"}

    def sweeplab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], env=env, text=True,
                              capture_output=True, timeout=120)

    first = sweeplab("run", str(tmp_path / "exp.yaml"))
    assert first.returncode != 2, first.stderr
    again = sweeplab("requeue-failed", "flaky")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "running trial(s) 1, 2, 3 again" in again.stdout
    with Store(env["SWEEPLAB_DB"]) as store:
        trials = store.list_trials(store.get_experiment("flaky").id)
    assert [(t.state, t.rerun_of) for t in trials] == [(TrialState.FAILED, None)] * 3 + [
        (TrialState.COMPLETED, n) for n in (1, 2, 3)]
    nothing = sweeplab("requeue-failed", "flaky")
    assert nothing.returncode == 0 and "no failed trial to run again" in nothing.stdout
