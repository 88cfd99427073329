"""Asynchronous successive halving (ASHA, stopping variant) and asynchronous Hyperband.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (MLSys 2020).
Rungs sit at ``grace * eta**k`` below the max resource. When a trial reaches a
rung its value is recorded there; it continues only if it is in the top
``1/eta`` of the values recorded at that rung so far (itself included), so the
first trials at a rung always continue, as in Ray Tune's implementation. Values
are scored so that higher is better for either goal; ties at the cutoff continue.
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
        self.rungs: list[tuple[int, list[float]]] = [(m, []) for m in reversed(milestones)]
        self.reached: dict[int, set[int]] = {}

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        seen = self.reached.setdefault(trial, set())
        for milestone, recorded in self.rungs:  # highest rung first
            if step < milestone or milestone in seen:
                continue
            seen.add(milestone)
            recorded.append(value)
            if value == -math.inf:  # NaN or infinite: never promoted, counted as worst
                return Decision.STOP
            cutoff = _top_fraction_cutoff(recorded, self.eta)
            return Decision.CONTINUE if value >= cutoff else Decision.STOP
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
