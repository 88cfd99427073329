"""What a caller may ask of a running experiment: :class:`Command` and :class:`Order`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any


class Command(str, Enum):
    """The kinds of order a runner takes."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    STOP_TRIAL = "stop_trial"
    RERUN = "rerun"


@dataclass(frozen=True)
class Order:
    """One command with its arguments: ``trial_id`` for STOP_TRIAL; ``params`` and
    ``of`` (the trial number repeated) for RERUN."""

    command: Command
    trial_id: int | None = None
    params: dict[str, Any] | None = None
    of: int | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
