"""When to stop: the scheduler interface.

A scheduler sees each KPI value a trial reports, with its step (the resource
spent so far, e.g. epochs), and answers CONTINUE or STOP. It is independent of
the searcher ("what to try") and combines with any of them.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Protocol

from app.engine.search.base import Goal


class Decision(str, Enum):
    """A scheduler's answer for one reported value."""

    CONTINUE = "continue"
    STOP = "stop"
    EXPLOIT = "exploit"
    """Population-based training: end this segment and continue from a better trial's
    checkpoint with explored params (see :mod:`app.engine.schedulers.pbt`)."""


class Scheduler(Protocol):
    """Decides, from each reported KPI value, whether a trial goes on.

    Contract: called from the runner thread only. ``trial`` is the trial's number
    within its experiment. Decisions are deterministic for a seed and the same
    sequence of calls. NaN and infinite values never promote a trial (they count
    as the worst value) and never enter a cutoff. Steps may repeat or skip; a
    trial that ends before a milestone simply never reaches it.
    """

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """One KPI value at ``step``; STOP means the trial should be pruned now."""
        ...

    def on_complete(self, trial: int, value: float | None) -> None:
        """The trial has ended (any state); ``value`` is its final KPI, if any."""
        ...


def score(goal: Goal, value: float) -> float:
    """A value where higher is better for either goal; non-finite values are -inf."""
    if not math.isfinite(value):
        return -math.inf
    return -goal.sign * value


class FifoScheduler:
    """No early stopping: max epochs and max time are the runner's limits."""

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """Always continue."""
        return Decision.CONTINUE

    def on_complete(self, trial: int, value: float | None) -> None:
        """Nothing to remember."""
