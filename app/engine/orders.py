"""What a caller may ask of a running experiment: :class:`Command` and :class:`Order`
to its runner in this process, :func:`request_stop` to one in any program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from app.engine.lease import is_free
from app.engine.ports import TrialRepository
from app.engine.records import EventRecord
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


STOP_SEEN = "a stop was requested from outside"
"""What a runner logs when it sees a stop asked through the database: its answer, which
:func:`stop_answer` looks for."""


class StopAnswer(Enum):
    """What became of a stop asked through the database (:func:`stop_answer`)."""

    SEEN = "seen"
    """The program driving the experiment logged that it saw the stop: it is stopping
    its trials."""
    UNDRIVEN = "undriven"
    """No live program drives the experiment (its run ended, or it crashed): nobody is
    left to answer, and the stored STOPPED is all there is to do."""
    WAITING = "waiting"
    """A live program drives it and has not answered yet."""


def request_stop(repo: TrialRepository, experiment_id: int, source: str) -> EventRecord:
    """Ask the program that drives the experiment, wherever it runs, to stop its trials:
    its runner sees the stored state STOPPED within a second (``source`` goes in the log,
    "the command line" say). Returns the request's line of the log, for
    :func:`stop_answer`."""
    repo.update_experiment(experiment_id, state=ExperimentState.STOPPED)
    return repo.add_event(experiment_id, "command", f"stop requested from {source}")


def stop_answer(repo: TrialRepository, request: EventRecord) -> StopAnswer:
    """Whether the program driving the experiment has answered ``request`` (logged
    :data:`STOP_SEEN` after it), is gone, or is still to answer; two reads."""
    experiment_id = request.experiment_id
    if any(event.kind == "log" and event.message == STOP_SEEN
           for event in repo.list_events(experiment_id, after=request.id)):
        return StopAnswer.SEEN
    record = repo.get_experiment(experiment_id)
    return StopAnswer.UNDRIVEN if is_free(record.driver, record.driver_seen) else \
        StopAnswer.WAITING
