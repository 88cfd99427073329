"""Median stopping rule (Golovin et al., "Google Vizier", 2017).

A trial is stopped at step t when its best value so far is worse than the
median, over the other trials that reached t, of their best value up to t.
Nothing is stopped before the grace period or while fewer than ``min_trials``
other trials have reached step t.
"""

from __future__ import annotations

import bisect
import math
import statistics

from app.engine.schedulers.base import Decision, score
from app.engine.search.base import Goal


class MedianStoppingScheduler:
    """Stop trials that are worse than the median of their peers at the same step.

    Args:
        goal: whether the KPI is minimised or maximised.
        grace_period: steps before any decision.
        min_trials: other trials that must have reached the step first.
    """

    def __init__(self, goal: Goal, grace_period: int = 1, min_trials: int = 3) -> None:
        if grace_period < 0:
            raise ValueError(f"grace period must be >= 0, got {grace_period}")
        if min_trials < 1:
            raise ValueError(f"min trials must be >= 1, got {min_trials}")
        self._goal = goal
        self._grace = grace_period
        self._min_trials = min_trials
        # per trial: steps (sorted) and the best score up to each of them
        self._steps: dict[int, list[int]] = {}
        self._best: dict[int, list[float]] = {}

    def _best_at(self, trial: int, step: int) -> float | None:
        steps = self._steps.get(trial, [])
        i = bisect.bisect_right(steps, step)
        return self._best[trial][i - 1] if i else None

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """Record the value, then compare the trial's best so far with its peers'."""
        steps = self._steps.setdefault(trial, [])
        best = self._best.setdefault(trial, [])
        current = score(self._goal, value)
        if steps and step <= steps[-1]:
            best[-1] = max(best[-1], current)  # a repeated (or late) step: keep the best
        else:
            steps.append(step)
            best.append(max(current, best[-1]) if best else current)
        if step < self._grace:
            return Decision.CONTINUE
        peers = [b for other in self._steps if other != trial
                 if (b := self._peer_value(other, step)) is not None]
        if len(peers) < self._min_trials:
            return Decision.CONTINUE
        mine = self._best_at(trial, step)
        if mine is None or mine == -math.inf:
            return Decision.STOP
        return Decision.STOP if mine < statistics.median(peers) else Decision.CONTINUE

    def _peer_value(self, trial: int, step: int) -> float | None:
        steps = self._steps[trial]
        if not steps or steps[-1] < step:
            return None  # this peer has not reached the step
        value = self._best_at(trial, step)
        return None if value is None or value == -math.inf else value

    def on_complete(self, trial: int, value: float | None) -> None:
        """Finished trials stay as peers with the values they reported."""
