"""A believable optimisation run made up from a seed (no Qt): for screenshots, bench and tests.

Trials of a nested space (learning rate, batch size, an optimizer choice of
groups, dropout, layers, batch norm) report a ``loss`` that decays towards a
floor set by their params, with noise. Most trials complete, an ASHA-like rule
prunes the worse ones at steps 10, 30 and 90, a few fail, and the last
``running`` trials are still going.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import TrialState

KPI = "loss"
RUNGS = (10, 30, 90)
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
SECONDS_PER_STEP = 0.5


@dataclass(frozen=True)
class _Shape:
    start: float
    floor: float
    tau: float
    noise: float
    seed: int

    def values(self, steps: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, int(steps[0]) if len(steps) else 0])
        clean = self.floor + (self.start - self.floor) * np.exp(-steps / self.tau)
        return clean + rng.normal(0.0, self.noise, len(steps)) * (0.3 + clean)


@dataclass
class SyntheticRun:
    """Trial records and their KPI points.

    Attributes:
        trials: every trial, by number.
        points: trial id -> (steps, values) of the KPI so far.
        running: ids of the trials still running.
        max_steps: how many steps a completed trial reports.
    """

    trials: list[TrialRecord]
    points: dict[int, tuple[np.ndarray, np.ndarray]]
    running: list[int]
    max_steps: int
    _shapes: dict[int, _Shape] = field(default_factory=dict)

    def metric_points(self) -> list[MetricPoint]:
        """Every point as a :class:`MetricPoint` (time: one step every half second)."""
        out: list[MetricPoint] = []
        for trial in self.trials:
            steps, values = self.points.get(trial.id, (np.empty(0), np.empty(0)))
            base = (trial.started_at or T0).timestamp()
            out += [MetricPoint(trial.id, KPI, float(v), int(s), base + s * SECONDS_PER_STEP)
                    for s, v in zip(steps, values, strict=True)]
        return out

    def more(self, trial_id: int, first_step: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``count`` points of a trial's curve from ``first_step`` on."""
        steps = np.arange(first_step, first_step + count, dtype=float)
        return steps, self._shapes[trial_id].values(steps)

    def finish(self, trial_id: int, steps_done: int) -> TrialRecord:
        """The record of a running trial once it completes at ``steps_done`` steps."""
        record = next(t for t in self.trials if t.id == trial_id)
        last = self.more(trial_id, max(0, steps_done - 1), 1)[1][0]
        ended = (record.started_at or T0) + timedelta(seconds=steps_done * SECONDS_PER_STEP)
        return _replace(record, state=TrialState.COMPLETED, kpi=float(last), ended_at=ended)


    def restart(self, trial_id: int, new_id: int, number: int) -> TrialRecord:
        """A new running trial ``new_id`` with the params (and curve) of ``trial_id``."""
        template = next(t for t in self.trials if t.id == trial_id)
        self._shapes[new_id] = self._shapes[trial_id]
        fresh = TrialRecord(id=new_id, experiment_id=template.experiment_id, number=number,
                            state=TrialState.RUNNING, params=template.params,
                            created_at=template.created_at, started_at=template.created_at,
                            host=template.host)
        self.trials.append(fresh)
        return fresh


def _replace(record: TrialRecord, **changes: Any) -> TrialRecord:
    fields = dict(vars(record))
    fields.update(changes)
    return TrialRecord(**fields)


def _params(rng: np.random.Generator) -> dict[str, Any]:
    if rng.random() < 0.5:
        optimizer: dict[str, Any] = {"_name": "sgd",
                                     "momentum": round(float(rng.uniform(0.5, 0.99)), 3)}
    else:
        optimizer = {"_name": "adam", "beta1": round(float(rng.uniform(0.8, 0.999)), 4),
                     "amsgrad": bool(rng.random() < 0.5)}
    return {"lr": float(10 ** rng.uniform(-4, -1)),
            "batch_size": int(rng.choice([32, 64, 128, 256])),
            "optimizer": optimizer,
            "model": {"layers": int(rng.integers(1, 5)),
                      "dropout": round(float(rng.uniform(0.0, 0.5)), 3),
                      "batch_norm": bool(rng.random() < 0.5)}}


def _shape(params: dict[str, Any], seed: int, rng: np.random.Generator) -> _Shape:
    lr_miss = abs(math.log10(params["lr"]) + 2.3)  # best near lr = 5e-3
    floor = 0.05 + 0.12 * lr_miss ** 2 + 0.2 * abs(params["model"]["dropout"] - 0.15)
    floor += 0.04 if params["optimizer"]["_name"] == "sgd" else 0.0
    floor += 0.03 * abs(params["model"]["layers"] - 3) + float(rng.uniform(0, 0.05))
    tau = 15 + 60 * float(rng.random()) + 25 * lr_miss
    return _Shape(start=2.3 + float(rng.uniform(-0.2, 0.2)), floor=floor, tau=tau,
                  noise=0.02, seed=seed)


def synthetic_run(trials: int = 200, max_steps: int = 100, running: int = 4,
                  seed: int = 0, prune: bool = True, failed_every: int = 37,
                  max_parallel: int = 8) -> SyntheticRun:
    """A run of ``trials`` trials, the last ``running`` still going.

    Raises:
        ValueError: when a count is negative or running exceeds trials.
    """
    if trials < 0 or running < 0 or max_steps < 1:
        raise ValueError(f"trials={trials}, running={running}, max_steps={max_steps}: "
                         "counts must be >= 0 and max_steps >= 1")
    if running > trials:
        raise ValueError(f"running={running} exceeds trials={trials}")
    rng = np.random.default_rng(seed)
    records: list[TrialRecord] = []
    points: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    shapes: dict[int, _Shape] = {}
    rung_values: dict[int, list[float]] = {rung: [] for rung in RUNGS}
    slot_free = [T0] * max(1, max_parallel)
    for number in range(trials):
        trial_id = 1000 + number
        params = _params(rng)
        shape = shapes[trial_id] = _shape(params, seed * 100_003 + number, rng)
        is_running = number >= trials - running
        length = max_steps
        state = TrialState.COMPLETED
        if is_running:
            length = int(rng.integers(1, max_steps))
            state = TrialState.RUNNING
        elif failed_every and number % failed_every == failed_every - 1:
            length, state = int(rng.integers(1, max_steps // 2 + 2)), TrialState.FAILED
        steps = np.arange(length, dtype=float)
        values = shape.values(steps)
        if prune and state is TrialState.COMPLETED:
            for rung in RUNGS:
                if rung >= length:
                    break
                seen = rung_values[rung]
                value = float(values[rung])
                seen.append(value)
                if len(seen) >= 4 and value > float(np.quantile(seen, 0.5)):
                    length, state = rung + 1, TrialState.PRUNED
                    steps, values = steps[:length], values[:length]
                    break
        slot = min(range(len(slot_free)), key=slot_free.__getitem__)
        started = slot_free[slot] + timedelta(seconds=float(rng.uniform(0.5, 3)))
        ended = None if is_running else started + timedelta(seconds=length * SECONDS_PER_STEP)
        slot_free[slot] = ended or started
        kpi = None if state is TrialState.FAILED else float(values[-1])
        records.append(TrialRecord(
            id=trial_id, experiment_id=1, number=number, state=state, params=params,
            created_at=started, host="local" if number % 3 else "gpu-box-2",
            gpus=(number % 2,), started_at=started, ended_at=ended, kpi=kpi,
            error="exit code 1" if state is TrialState.FAILED else None))
        points[trial_id] = (steps, values)
    return SyntheticRun(records, points, [r.id for r in records[trials - running:]],
                        max_steps, shapes)
