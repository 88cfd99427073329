"""What a caller may ask of a running experiment: :class:`Command` and :class:`Order`
to its runner in this process, :func:`request_stop` to one in any program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from app.engine.ports import TrialRepository
from app.engine.trial import EarlyStopping, ExperimentState


class Command(str, Enum):
    """The kinds of order a runner takes."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    STOP_TRIAL = "stop_trial"
    RERUN = "rerun"
    LEAVE = "leave"
    """Stop driving and leave every trial running (the window closes without stopping
    them): the stored state stays, the lease is released, the next start takes them up."""


@dataclass(frozen=True)
class Order:
    """One command with its arguments: ``trial_id`` for STOP_TRIAL; ``params``, ``of``
    (the trial number repeated) and ``early_stopping`` for RERUN."""

    command: Command
    trial_id: int | None = None
    params: dict[str, Any] | None = None
    of: int | None = None
    early_stopping: EarlyStopping = EarlyStopping.SCHEDULED


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def request_stop(repo: TrialRepository, experiment_id: int, source: str) -> None:
    """Ask the program that drives the experiment, wherever it runs, to stop its trials:
    its runner sees the stored state STOPPED within a second (``source`` goes in the log,
    "the command line" say)."""
    repo.update_experiment(experiment_id, state=ExperimentState.STOPPED)
    repo.add_event(experiment_id, "command", f"stop requested from {source}")
