"""Which trial is best, how an experiment's trials add up, and how a run ends.

The one rule every front end calls (``sweeplab ls``/``show``/``run``, the experiment
list, the status bar, the grid, the table's top K, the charts, the exports):

- Only **COMPLETED** trials with a finite KPI compete for best. A pruned trial's KPI
  is from the step the scheduler cut it at, a stopped one's from wherever it was
  stopped (by the user, or by the experiment's time budget): those KPIs are shown
  with their trials but are not comparable with a finished trial's. (The searcher
  still learns from pruned trials: that is :func:`app.engine.live.searcher_value`,
  a different question.)
- A trial's KPI is the value its experiment's ``kpi.use`` picks (the last reported,
  or the best reported); the runner stores it as the trial's ``kpi``.
- NaN and infinities are never best. The goal (min or max) decides the direction;
  on a tie the lower trial number wins.

A run that is not stopped or paused ends :attr:`ExperimentState.FAILED` when no
trial completed and at least one failed (:func:`run_outcome`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.engine.live import StopReason
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import ExperimentState, TrialState


def competing_kpi(record: TrialRecord) -> float | None:
    """The KPI ``record`` competes for best with: a COMPLETED trial's finite KPI, else None."""
    kpi = record.kpi
    if record.state is TrialState.COMPLETED and kpi is not None and math.isfinite(kpi):
        return kpi
    return None


def ranked(records: Iterable[TrialRecord], goal: Goal) -> list[TrialRecord]:
    """The trials that compete for best, best first (ties: the lower trial number first)."""
    scored = [(goal.sign * kpi, record.number, record) for record in records
              if (kpi := competing_kpi(record)) is not None]
    scored.sort(key=lambda entry: entry[:2])
    return [record for _, _, record in scored]


def best_trial(records: Iterable[TrialRecord], goal: Goal) -> TrialRecord | None:
    """The best trial by the rule in this module's docstring, or None when none competes."""
    best: TrialRecord | None = None
    best_key: tuple[float, int] | None = None
    for record in records:
        kpi = competing_kpi(record)
        if kpi is None:
            continue
        key = (goal.sign * kpi, record.number)
        if best_key is None or key < best_key:
            best, best_key = record, key
    return best


def is_better(record: TrialRecord, than: TrialRecord | None, goal: Goal) -> bool:
    """True when ``record`` competes and beats ``than`` (None: nothing to beat), for a
    front end that follows the best one trial at a time."""
    kpi = competing_kpi(record)
    if kpi is None:
        return False
    other = None if than is None else competing_kpi(than)
    if than is None or other is None:
        return True
    return (goal.sign * kpi, record.number) < (goal.sign * other, than.number)


def budget_cut(record: TrialRecord) -> bool:
    """True for a trial the experiment's time budget (``max_seconds``) cut short: it
    ends STOPPED, with :attr:`StopReason.BUDGET` as its note, and does not compete."""
    return record.state is TrialState.STOPPED and record.error == StopReason.BUDGET.value


@dataclass(frozen=True)
class TrialCounts:
    """How an experiment's trials add up, per state.

    Attributes:
        by_state: the number of trials in each state (absent: none).
        budget_cut: how many of the STOPPED ones the time budget cut (:func:`budget_cut`).
    """

    by_state: Mapping[TrialState, int] = field(default_factory=dict)
    budget_cut: int = 0

    def __getitem__(self, state: TrialState) -> int:
        return self.by_state.get(state, 0)

    @property
    def total(self) -> int:
        """Every trial."""
        return sum(self.by_state.values())

    @property
    def done(self) -> int:
        """The finished trials, whatever their end."""
        return sum(n for state, n in self.by_state.items() if state.is_finished())

    @property
    def running(self) -> int:
        """The trials running now."""
        return self[TrialState.RUNNING]

    @property
    def queued(self) -> int:
        """The trials waiting for a slot or in a batch queue."""
        return self[TrialState.QUEUED] + self[TrialState.CREATED]

    @property
    def completed(self) -> int:
        """The trials that ran to their end: the ones that compete for best."""
        return self[TrialState.COMPLETED]

    @property
    def failed(self) -> int:
        """The trials that failed."""
        return self[TrialState.FAILED]


def count_trials(records: Iterable[TrialRecord]) -> TrialCounts:
    """The :class:`TrialCounts` of ``records``."""
    by_state: Counter[TrialState] = Counter()
    cut = 0
    for record in records:
        by_state[record.state] += 1
        cut += budget_cut(record)
    return TrialCounts(dict(by_state), cut)


@dataclass(frozen=True)
class TrialTally:
    """An experiment's trials added up without reading them one by one (what a store's
    aggregate query gives): the counts and the range of the KPIs that compete.

    Attributes:
        counts: the trials per state.
        lowest: the lowest KPI that competes for best (:func:`competing_kpi`), or None.
        highest: the highest one, or None.
    """

    counts: TrialCounts = field(default_factory=TrialCounts)
    lowest: float | None = None
    highest: float | None = None

    def best_kpi(self, goal: Goal) -> float | None:
        """The best trial's KPI, as :func:`best_trial` would find it among the trials."""
        return self.lowest if goal is Goal.MIN else self.highest


def run_outcome(counts: TrialCounts) -> ExperimentState:
    """How a run that ended by itself (not stopped, not paused) leaves its experiment:
    FAILED when no trial completed and at least one failed, else COMPLETED."""
    if counts.completed == 0 and counts.failed > 0:
        return ExperimentState.FAILED
    return ExperimentState.COMPLETED
