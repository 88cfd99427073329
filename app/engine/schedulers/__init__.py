"""When to stop: early-stopping schedulers, independent of the searcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from app.engine.schedulers.asha import AshaScheduler, HyperbandScheduler
from app.engine.schedulers.base import Decision, FifoScheduler, Scheduler
from app.engine.schedulers.median import MedianStoppingScheduler
from app.engine.schedulers.pbt import PbtScheduler, PbtSettings
from app.engine.search.base import Goal


class SchedulerName(str, Enum):
    """The schedulers a user can pick."""

    FIFO = "fifo"
    ASHA = "asha"
    HYPERBAND = "hyperband"
    MEDIAN = "median"
    PBT = "pbt"

    @property
    def needs_max_epochs(self) -> bool:
        """ASHA and Hyperband place their rungs below the max epochs."""
        return self in (SchedulerName.ASHA, SchedulerName.HYPERBAND)


@dataclass(frozen=True)
class SchedulerConfig:
    """The ``scheduler`` section of an experiment file."""

    name: SchedulerName = SchedulerName.FIFO
    grace_period: int = 1
    reduction_factor: int = 3
    min_trials: int = 3
    pbt: PbtSettings = field(default_factory=PbtSettings)
    """Population-based training's settings (used when ``name`` is PBT)."""


def make_scheduler(config: SchedulerConfig, goal: Goal, max_epochs: int | None,
                   seed: int = 0) -> Scheduler:
    """The scheduler ``config`` names.

    Raises:
        ValueError: ASHA or Hyperband without max epochs, or bad settings.
    """
    if config.name.needs_max_epochs and max_epochs is None:
        raise ValueError(f"{config.name.value} needs limits.max_epochs")
    if config.name is SchedulerName.ASHA:
        return AshaScheduler(goal, max_epochs or 1, config.grace_period, config.reduction_factor)
    if config.name is SchedulerName.HYPERBAND:
        return HyperbandScheduler(goal, max_epochs or 1, config.grace_period,
                                  config.reduction_factor, seed)
    if config.name is SchedulerName.PBT:
        return PbtScheduler(goal, config.pbt, seed)
    if config.name is SchedulerName.MEDIAN:
        return MedianStoppingScheduler(goal, config.grace_period, config.min_trials)
    return FifoScheduler()


__all__ = [
    "AshaScheduler",
    "Decision",
    "FifoScheduler",
    "HyperbandScheduler",
    "MedianStoppingScheduler",
    "PbtScheduler",
    "PbtSettings",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerName",
    "make_scheduler",
]
