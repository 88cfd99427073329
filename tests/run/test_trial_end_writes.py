"""A trial's end is one store transaction: its last output (the points and the log offset
after them), its end (state, KPI, exit code, ended time) and, for an unusual ending, its
line in the experiment's history are written together, after the next trial has
started (docs/PERFORMANCE.md, "Slot fill"), whether the output came in the same batch
of events as the end or in the batch before. Output of a trial that goes on is stored
0.1 s after it is read. Real runner, local executor and SQLite store; the
commits are counted by a SQLAlchemy event listener on the store's engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.engine.events import RunnerEvent, RunnerEventKind
from app.engine.ports import Executor
from app.engine.records import ProcessEvent, ProcessEventKind
from app.engine.trial import TrialState
from app.remote.local import LocalExecutor
from devtools.passing_on import PassingOn
from tests.helpers import gated_trial, wait_until
from tests.run.conftest import Harness

TRIAL = """
import os, sys, sweeplab
x = sweeplab.param("x")
sweeplab.report("loss", x, step=1)
sweeplab.report("loss", x / 2, step=2)
sys.exit(int(os.environ["EXIT_CODE"]))
"""


class Batches(PassingOn):
    """The local executor, handing a trial's output over in one batch with its end
    (``together``: as the local executor does when a trial prints its last lines as it
    exits), or in the batch before it. Counts the commits the runner's thread makes
    from the batch with the trial's last output on."""

    def __init__(self, inner: LocalExecutor, together: bool) -> None:
        super().__init__(inner)
        self._together = together
        self._held: list[ProcessEvent] = []
        self.window: list[str] | None = None
        """Transactions committed on the runner's thread since the batch with the
        trial's last output was handed over (None before), by their statements."""
        self._statements: list[str] = []
        self._next: list[ProcessEvent] = []

    def poll(self, timeout: float) -> list[ProcessEvent]:
        if self._next:  # apart: the end, in the batch after its output
            handed, self._next = self._next, []
            return handed
        handed = []
        for event in self._inner.poll(timeout):
            if event.kind is ProcessEventKind.OUTPUT:
                self._held.append(event)
                continue
            if event.kind is ProcessEventKind.EXITED:
                self.window = []
                handed += self._held
                self._held = []
                if not self._together:
                    self._next.append(event)
                    continue
            handed.append(event)
        return handed

    def statement(self, sql: str) -> None:
        if self.window is not None and threading.current_thread().name.startswith("runner"):
            self._statements.append(sql.split("(")[0].split(" SET ")[0].strip())

    def commit(self) -> None:
        if self.window is not None and threading.current_thread().name.startswith("runner"):
            self.window.append(" + ".join(self._statements))
        self._statements = []


@pytest.fixture(params=[True, False], ids=["together", "apart"])
def watched(harness: Harness, request: pytest.FixtureRequest) -> Iterator[Batches]:
    executor = Batches(LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=1,
                                     grace=2.0), together=request.param)
    engine = harness.store._engine

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        executor.statement(sql)

    def commit(_conn: Any) -> None:
        executor.commit()

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    yield executor
    sa.event.remove(engine, "before_cursor_execute", statement)
    sa.event.remove(engine, "commit", commit)


@pytest.mark.parametrize(("exit_code", "state"), [(0, TrialState.COMPLETED),
                                                  (3, TrialState.FAILED)])
def test_the_last_output_and_the_end_of_a_trial_are_one_transaction(
        harness: Harness, watched: Batches, exit_code: int,
        state: TrialState) -> None:
    harness.script("train.py", TRIAL)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1},
                            env={"EXIT_CODE": str(exit_code)})
    executor: Executor = watched
    runner = harness.runner(config, executor=executor)
    stored: list[list[str]] = []

    def on_event(event: RunnerEvent) -> None:
        if (event.kind is RunnerEventKind.TRIAL and event.trial is not None
                and event.trial.state.is_finished() and watched.window is not None):
            stored.append(list(watched.window))

    runner.subscribe(on_event)
    runner.start()
    assert runner.wait(60), "the run did not end"
    [trial] = harness.store.list_trials(harness.store.get_experiment(config.name).id)
    assert trial.state is state, harness.log(config.name)
    # what the end wrote, by the time it was published: one transaction
    assert len(stored) == 1 and len(stored[0]) == 1, stored
    [transaction] = stored[0]
    assert transaction.startswith("UPDATE trials"), transaction
    assert "INSERT INTO metrics" in transaction, transaction
    assert ("INSERT INTO events" in transaction) is (state is not TrialState.COMPLETED)
    points = harness.store.get_metrics(trial.id, "loss")
    assert [(p.step, p.value) for p in points] == [(1, trial.params["x"]),
                                                  (2, trial.params["x"] / 2)]
    assert trial.kpi == trial.params["x"] / 2
    assert trial.log_offset > 0 and trial.exit_code == exit_code
    if state is TrialState.FAILED:
        assert any(e.message.startswith(f"trial 1 failed, loss = {trial.kpi:.6g}")
                   for e in harness.store.list_events(trial.experiment_id)), \
            harness.log(config.name)


def test_the_output_of_a_trial_that_goes_on_is_stored_while_it_runs(
        harness: Harness, tmp_path: Path) -> None:
    """Stored 0.1 s after it is read (OUTPUT_HOLD_S), not held for the trial's end."""
    gate = tmp_path / "gate"
    harness.script("train.py", gated_trial(steps=2))
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1},
                            env={"GATE": str(gate)})
    runner = harness.runner(config)
    runner.start()
    experiment = harness.store.get_experiment(config.name)

    def first_step_stored() -> bool:
        trials = harness.store.list_trials(experiment.id)
        return bool(trials) and [p.step for p in harness.store.get_metrics(
            trials[0].id, "loss")] == [1]

    wait_until(first_step_stored, 30, "the first step stored while the trial waits")
    [trial] = harness.store.list_trials(experiment.id)
    assert trial.state is TrialState.RUNNING and trial.log_offset > 0
    gate.touch()
    assert runner.wait(60), "the run did not end"
    [trial] = harness.store.list_trials(experiment.id)
    assert trial.state is TrialState.COMPLETED, harness.log(config.name)
    assert [p.step for p in harness.store.get_metrics(trial.id, "loss")] == [1, 2]
