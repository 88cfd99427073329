"""Asynchronous successive halving (ASHA, stopping variant) and asynchronous Hyperband.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (MLSys 2020).
Rungs sit at ``grace * eta**k`` below the max resource. When a trial reaches a
rung its value is recorded there; it continues only if it is in the top
``1/eta`` of the values recorded at that rung so far (itself included), as in
Ray Tune's implementation. Values are scored so that higher is better for either
goal; ties at the cutoff continue. A NaN or infinite value stops its trial and is
never recorded, so it cannot raise how many trials a rung keeps.

A rung holding fewer than ``eta`` values cannot tell the top ``1/eta`` apart, so
the first trial to reach it always goes on: with few workers, the first trials
of an experiment would run to the max resource however bad they are (with two
workers and eta = 3, two trials that keep arriving first never meet a third).
So while a rung is that thin, a trial must also still be in the top at each
lower rung where it recorded a value, compared there with today's values, down
to the first rung holding at least ``eta`` values. The paper's ASHA promotes
nothing from a rung holding fewer than ``eta`` configurations; this is the
closest a stopping variant, which cannot pause a trial, comes to that.
"""

from __future__ import annotations

import math
import random

from app.engine.schedulers.base import Decision, score
from app.engine.search.base import Goal


class _Bracket:
    """Rungs of one successive-halving bracket and the values seen at each."""

    def __init__(self, grace: int, eta: int, max_resource: int, skip: int = 0) -> None:
        milestones = []
        resource = grace * eta**skip
        while resource < max_resource:
            milestones.append(resource)
            resource *= eta
        self.eta = eta
        self.unscored: set[int] = set()  # trials stopped for a NaN or infinite value
        # highest rung first: (milestone, each trial's score there)
        self.rungs: list[tuple[int, dict[int, float]]] = [
            (m, {}) for m in reversed(milestones)]

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        if trial in self.unscored:
            return Decision.STOP  # its later values come too late to count
        for index, (milestone, recorded) in enumerate(self.rungs):  # highest rung first
            if step < milestone:
                continue
            if trial in recorded:
                return Decision.CONTINUE  # decided at this rung already
            if value == -math.inf:
                # NaN or infinite: stopped, and never recorded, so it neither
                # promotes the trial nor enlarges the number kept at the rung
                self.unscored.add(trial)
                return Decision.STOP
            recorded[trial] = value
            if not self._in_top(recorded, value):
                return Decision.STOP
            if len(recorded) >= self.eta:
                return Decision.CONTINUE
            return self._check_lower_rungs(trial, self.rungs[index + 1:])
        return Decision.CONTINUE

    def _in_top(self, recorded: dict[int, float], value: float) -> bool:
        return value >= _top_fraction_cutoff(list(recorded.values()), self.eta)

    def _check_lower_rungs(self, trial: int,
                           lower: list[tuple[int, dict[int, float]]]) -> Decision:
        """The verdict of the rungs below a thin one, highest first.

        The trial must still be in the top at each rung where it has a value,
        until a rung holding ``eta`` values vouches for it.
        """
        for _, recorded in lower:  # highest first
            if trial not in recorded:
                continue  # skipped that rung (reported past it)
            if not self._in_top(recorded, recorded[trial]):
                return Decision.STOP
            if len(recorded) >= self.eta:
                break
        return Decision.CONTINUE


def _top_fraction_cutoff(values: list[float], eta: int) -> float:
    """The lowest score still inside the top ``1/eta`` of ``values`` (at least one)."""
    keep = max(1, math.floor(len(values) / eta))
    return sorted(values, reverse=True)[keep - 1]


class AshaScheduler:
    """ASHA over one bracket.

    Args:
        goal: whether the KPI is minimised or maximised.
        max_resource: the max epochs a trial may run (rungs lie below it).
        grace_period: the first rung, in steps.
        reduction_factor: eta; the top 1/eta continue at each rung.
    """

    def __init__(self, goal: Goal, max_resource: int, grace_period: int = 1,
                 reduction_factor: int = 3) -> None:
        _check(max_resource, grace_period, reduction_factor)
        self._goal = goal
        self._bracket = _Bracket(grace_period, reduction_factor, max_resource)

    @property
    def milestones(self) -> list[int]:
        """The rungs' steps, lowest first."""
        return sorted(m for m, _ in self._bracket.rungs)

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """Record the value at any rung the trial just reached and decide."""
        return self._bracket.on_result(trial, step, score(self._goal, value))

    def on_complete(self, trial: int, value: float | None) -> None:
        """Nothing more to do: rungs keep the values they saw."""


class HyperbandScheduler:
    """Asynchronous Hyperband: several ASHA brackets with growing grace periods.

    Bracket ``s`` starts its rungs at ``grace * eta**s``; each trial is put in one
    bracket, drawn from a generator seeded by ``(seed, trial)``, so assignments
    are the same on every run and after a resume.
    """

    def __init__(self, goal: Goal, max_resource: int, grace_period: int = 1,
                 reduction_factor: int = 3, seed: int = 0) -> None:
        _check(max_resource, grace_period, reduction_factor)
        self._goal = goal
        self._seed = seed
        count = 1
        while grace_period * reduction_factor**count < max_resource:
            count += 1
        self._brackets = [_Bracket(grace_period, reduction_factor, max_resource, s)
                          for s in range(count)]
        # Hyperband's budget split: bracket s gets weight eta**(count-1-s) / (count-s)
        self._weights = [reduction_factor ** (count - 1 - s) / (count - s) for s in range(count)]
        self._assigned: dict[int, int] = {}

    def bracket_of(self, trial: int) -> int:
        """The bracket index a trial belongs to (deterministic)."""
        if trial not in self._assigned:
            rng = random.Random(f"{self._seed}:{trial}")
            self._assigned[trial] = rng.choices(range(len(self._brackets)),
                                                weights=self._weights)[0]
        return self._assigned[trial]

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """Decide within the trial's bracket."""
        bracket = self._brackets[self.bracket_of(trial)]
        return bracket.on_result(trial, step, score(self._goal, value))

    def on_complete(self, trial: int, value: float | None) -> None:
        """Nothing more to do."""


def _check(max_resource: int, grace_period: int, reduction_factor: int) -> None:
    if max_resource < 1:
        raise ValueError(f"max resource must be >= 1, got {max_resource}")
    if grace_period < 1:
        raise ValueError(f"grace period must be >= 1, got {grace_period}")
    if reduction_factor < 2:
        raise ValueError(f"reduction factor must be >= 2, got {reduction_factor}")
