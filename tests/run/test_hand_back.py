"""A host that cannot start a trial after all gives it back while another host has room
(an SSH server whose GPU another run took): the runner submits it again elsewhere."""

from __future__ import annotations

from collections.abc import Callable

from app.engine.records import ProcessEvent, ProcessEventKind, TrialSpec
from app.engine.trial import ExperimentState, TrialState
from app.remote.events import EventQueue, drain
from app.remote.local import LocalExecutor
from app.remote.pool import Host, Pool
from tests.run.conftest import Harness, wait_until

TAKEN = "nothing was started on box: GPU 0 is taken by another Sweeplab run"
TRAIN = "import sweeplab\nsweeplab.report('loss', sweeplab.param('x'))\n"


class TakenBox:
    """A server whose one place another run holds: like an SSH executor, it says so
    (PENDING) and gives the trial back (RETURNED) when the pool has room elsewhere; else
    it keeps the trial waiting until it is stopped, and then gives it back anyway (the
    stop crossed the hand-back)."""

    name = "box"

    def __init__(self, events: EventQueue) -> None:
        self._events = events
        self.elsewhere: Callable[[int], bool] | None = None
        self.submitted: list[int] = []
        self.waiting: int | None = None

    def capacity(self) -> int:
        return 1

    def free_slots(self) -> int:
        return 0 if self.waiting is not None else 1

    def busy_reason(self) -> str:
        return "box waits for its GPU"

    def submit(self, spec: TrialSpec) -> None:
        self.submitted.append(spec.trial_id)
        self._put(spec.trial_id, ProcessEventKind.PENDING,
                  "waiting for a GPU on box: GPU 0 is taken by another Sweeplab run")
        if self.elsewhere is not None and self.elsewhere(spec.gpus):
            self._put(spec.trial_id, ProcessEventKind.RETURNED, TAKEN)
        else:
            self.waiting = spec.trial_id

    def follow(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("nothing to follow")

    def poll(self, timeout: float) -> list[ProcessEvent]:
        return drain(self._events, timeout, self.name)

    def stop(self, trial_id: int, grace: float) -> None:
        if trial_id == self.waiting:
            self.waiting = None
            self._put(trial_id, ProcessEventKind.RETURNED, TAKEN)

    def close(self) -> None:
        pass

    def _put(self, trial_id: int, kind: ProcessEventKind, message: str) -> None:
        self._events.put(ProcessEvent(trial_id, kind, self.name, message=message))


def pool_of(harness: Harness, local_slots: int) -> tuple[Pool, list[TakenBox]]:
    boxes: list[TakenBox] = []

    def make(events: EventQueue) -> list[Host]:
        boxes.append(TakenBox(events))  # first: it wins the placement ties
        return [boxes[0], LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=local_slots,
                                        name="local", grace=2.0, events=events)]

    return Pool(make), boxes


def test_a_given_back_trial_runs_on_another_host_and_is_counted_once(harness: Harness) -> None:
    harness.script("train.py", TRAIN)
    config = harness.config(limits={"max_trials": 2, "max_parallel": 1})
    pool, (box,) = pool_of(harness, local_slots=1)
    runner = harness.runner(config, executor=pool)
    runner.start()
    assert runner.wait(60)
    assert runner.state is ExperimentState.COMPLETED, harness.log(config.name)
    trials = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert [(t.state, t.host, t.rerun_of) for t in trials] == [
        (TrialState.COMPLETED, "local", None)] * 2, "given back, not failed, not repeated"
    assert box.submitted == [t.id for t in trials], "each went to box first, then elsewhere"
    log = harness.log(config.name)
    assert "trial 1 goes to another host: " + TAKEN in log
    shown = [(e.trial.host, e.trial.error) for e in harness.events
             if e.trial is not None and e.trial.id == trials[0].id
             and e.trial.state is TrialState.QUEUED]
    waiting = shown.index(("box", "waiting for a GPU on box: GPU 0 is taken by another "
                                  "Sweeplab run"))
    assert set(shown[waiting + 1:]) == {(None, None)}, "the grid saw it leave box"


def test_a_trial_stopped_as_it_is_given_back_ends_stopped(harness: Harness) -> None:
    harness.script("train.py", TRAIN)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1})
    pool, (box,) = pool_of(harness, local_slots=1)
    pool.host("local").free_slots = lambda: 0  # type: ignore[method-assign]  # full: box keeps it
    runner = harness.runner(config, executor=pool)
    runner.start()
    box_waits = wait_until(lambda: box.waiting, 30, "the trial to wait on box")
    runner.stop_trial(box_waits)
    assert runner.wait(60)
    (trial,) = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert trial.state is TrialState.STOPPED, f"{trial.state}: {trial.error}"
    assert box.submitted == [trial.id], "a stopped trial is not submitted again"
    assert not (harness.root / "trials").exists() or not any((harness.root / "trials").iterdir())
