"""Stopping a run whose first trials all fail the same way, before it burns its budget."""

from __future__ import annotations

from app.engine.trial import TrialState

FAILING_START_TRIALS = 3
"""How many first trials failing the same way, before any succeeded, stop a run."""


def first_line(error: str | None) -> str:
    """The first line of a trial's message: the cause, where the log named it."""
    return (error or "").strip().split("\n", 1)[0]


class FailingStart:
    """Watches the trials of one run end, until one succeeds or two fail differently.

    A trial succeeds when it ends COMPLETED or PRUNED (it ran and reported its KPI);
    STOPPED and LOST trials say nothing either way, and neither does the failure of a
    re-run (a retry the experiment's ``retries`` asked for gets its chance: only the
    searcher's own trials count). Once ``needed`` of those failed with the same first
    line of their message (``python3: command not found``) and none succeeded,
    :meth:`observe` returns why the run should stop; after a success, or a failure of
    another kind, it never does.

    Args:
        needed: how many failures stop the run (at least 1).
        armed: False when the experiment has a success already (a resumed run).

    Raises:
        ValueError: ``needed`` below 1.
    """

    def __init__(self, needed: int = FAILING_START_TRIALS, *, armed: bool = True) -> None:
        if needed < 1:
            raise ValueError(f"a failing start needs at least 1 trial, got {needed}")
        self._needed = needed
        self._armed = armed
        self._cause: str | None = None
        self._failures = 0

    def observe(self, state: TrialState, error: str | None, *,
                rerun: bool = False) -> str | None:
        """Take one ended trial's state and message (``rerun``: it repeats an earlier
        trial); returns the reason to stop the run, once, or None."""
        if not self._armed:
            return None
        if state in (TrialState.COMPLETED, TrialState.PRUNED):
            self._armed = False
        elif state is TrialState.FAILED and not rerun:
            cause = first_line(error)
            if self._cause is not None and cause != self._cause:
                self._armed = False
                return None
            self._cause, self._failures = cause, self._failures + 1
            if self._failures >= self._needed:
                self._armed = False
                return (f"stopping: the first {self._failures} trials all failed the same "
                        f"way: {cause}")
        return None
