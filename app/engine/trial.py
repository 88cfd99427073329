"""Trial and experiment states, with the one transition table that governs them."""

from __future__ import annotations

from enum import Enum


class TrialState(str, Enum):
    """Life cycle of one trial.

    CREATED -> QUEUED -> RUNNING -> COMPLETED | FAILED | STOPPED | PRUNED | LOST.
    A finished trial never changes again (see :func:`check_transition`).
    """

    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    PRUNED = "pruned"
    LOST = "lost"

    def is_finished(self) -> bool:
        """True for the states a trial never leaves."""
        return self in _FINISHED


class EarlyStopping(str, Enum):
    """Whether the experiment's early-stopping scheduler may prune a trial."""

    SCHEDULED = "scheduled"
    """Its KPI values go to the scheduler, which may prune it (every suggested trial)."""
    EXEMPT = "exempt"
    """It runs to its end (a user's re-run, chosen so): the scheduler never sees it;
    the experiment's limits (max epochs, max time per trial) still hold."""


_FINISHED = frozenset(
    {TrialState.COMPLETED, TrialState.FAILED, TrialState.STOPPED, TrialState.PRUNED,
     TrialState.LOST}
)

TRANSITIONS: dict[TrialState, frozenset[TrialState]] = {
    TrialState.CREATED: frozenset({TrialState.QUEUED, TrialState.STOPPED}),
    TrialState.QUEUED: frozenset({TrialState.RUNNING, TrialState.STOPPED, TrialState.FAILED}),
    TrialState.RUNNING: _FINISHED,
    TrialState.COMPLETED: frozenset(),
    TrialState.FAILED: frozenset(),
    TrialState.STOPPED: frozenset(),
    TrialState.PRUNED: frozenset(),
    TrialState.LOST: frozenset(),
}


class InvalidTransition(ValueError):
    """Raised when a state change is not in :data:`TRANSITIONS`."""


def check_transition(old: TrialState, new: TrialState) -> None:
    """Raise :class:`InvalidTransition` unless ``old -> new`` is allowed.

    Raises:
        InvalidTransition: naming both states, e.g. finished trials are immutable.
    """
    if new not in TRANSITIONS[old]:
        if old.is_finished():
            raise InvalidTransition(f"trial is {old.value} and finished trials are immutable")
        raise InvalidTransition(f"a trial cannot go from {old.value} to {new.value}")


class ExperimentState(str, Enum):
    """Life cycle of an experiment: what the runner is doing with it."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"
