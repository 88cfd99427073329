"""What the runner tells its subscribers (the CLI's progress bar, the GUI's bridge)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import ExperimentState


class RunnerEventKind(str, Enum):
    """The kinds of :class:`RunnerEvent`."""

    EXPERIMENT = "experiment"  # the experiment's state changed
    TRIAL = "trial"  # a trial was created, started or finished
    METRICS = "metrics"  # new metric points of one trial
    LOG = "log"  # a line for the experiment's log


@dataclass(frozen=True)
class RunnerEvent:
    """One thing that happened in a running experiment. Immutable; safe across threads."""

    kind: RunnerEventKind
    experiment_id: int
    state: ExperimentState | None = None
    trial: TrialRecord | None = None
    metrics: tuple[MetricPoint, ...] = ()
    message: str = ""
