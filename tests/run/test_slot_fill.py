"""A slot never waits for the searcher: the runner draws the next suggestion while the
trials run (app.engine.search.ahead), knowing every trial handed out, and starts no
duplicate. Real runner, local executor, SQLite store and hyperopt TPE; the searcher
only records when it drew each point and what it knew then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.engine.experiment import ExperimentConfig
from app.engine.runner import Runner
from app.engine.search import Algorithm, Goal, HyperoptSearcher
from app.engine.trial import ExperimentState, TrialState
from app.remote.local import LocalExecutor
from app.remote.snapshot import take_snapshot
from tests.run.conftest import Harness

TRIAL = """
import time, sweeplab
x = sweeplab.param("x")
time.sleep(0.5)
sweeplab.report("loss", x)
"""


@dataclass(frozen=True)
class Draw:
    """One point drawn: when it was ready, and the trials handed out before it."""

    ready_at: datetime
    knew: frozenset[int]


class RecordingTPE(HyperoptSearcher):
    """Sweeplab's TPE, recording each draw and each hand-out."""

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__(config.space, Algorithm.TPE, Goal.MIN, seed=3, initial_random=2)
        self.draws: dict[int, Draw] = {}  # by id() of the point
        self.handed: list[tuple[int, Draw]] = []

    def propose(self, trial_id: int) -> dict[str, Any]:
        knew = frozenset(number for number, _ in self.handed)
        point = super().propose(trial_id)
        self.draws[id(point)] = Draw(datetime.now(UTC), knew)
        return point

    def accept(self, trial_id: int, raw: dict[str, Any]) -> dict[str, Any]:
        self.handed.append((trial_id, self.draws[id(raw)]))
        return super().accept(trial_id, raw)

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        self.handed.append((trial_id, Draw(datetime.now(UTC), frozenset(
            number for number, _ in self.handed))))
        return super().suggest(trial_id)


def run(harness: Harness, trials: int, parallel: int) -> tuple[RecordingTPE, list[Any]]:
    harness.script("train.py", TRIAL)
    config = harness.config(limits={"max_trials": trials, "max_parallel": parallel})
    experiment = harness.store.create_experiment(config.name, config.to_dict())
    executor = LocalExecutor(harness.root / "trials", gpus=[], cpu_slots=4, grace=2.0)
    harness.executors.append(executor)
    searcher = RecordingTPE(config)
    runner = Runner(harness.store, experiment.id, config, [executor], searcher,
                    take_snapshot(config.code_dir, harness.root / "snapshots"),
                    poll_interval=0.05)
    runner.start()
    assert runner.wait(90), "the run did not end"
    assert runner.state is ExperimentState.COMPLETED, harness.log(config.name)
    records = harness.store.list_trials(experiment.id)
    assert [t.state for t in records] == [TrialState.COMPLETED] * trials
    return searcher, records


def test_each_next_suggestion_is_ready_before_the_slot_frees(harness: Harness) -> None:
    searcher, records = run(harness, trials=4, parallel=1)
    ended = {t.number: t.ended_at for t in records}
    assert [number for number, _ in searcher.handed] == [1, 2, 3, 4]
    for number, draw in searcher.handed[1:]:
        previous = ended[number - 1]
        assert previous is not None
        assert draw.ready_at < previous, (
            f"trial {number}'s point was drawn at {draw.ready_at}, after trial "
            f"{number - 1} ended at {previous}: the slot waited for the searcher")


def test_no_draw_misses_a_trial_handed_out_and_no_duplicate_starts(
        harness: Harness) -> None:
    searcher, records = run(harness, trials=6, parallel=2)
    numbers = [number for number, _ in searcher.handed]
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]
    for position, (number, draw) in enumerate(searcher.handed):
        before = frozenset(numbers[:position])
        assert draw.knew == before, (
            f"trial {number}'s point was drawn knowing {sorted(draw.knew)}, but "
            f"{sorted(before)} had been handed out: it could repeat a running trial")
    params = [t.params["x"] for t in records]
    assert len(set(params)) == len(params), f"a duplicate trial started: {params}"
