"""The engine's view of storage and execution: small Protocols, injected by the
composition root (``app/cli.py``, ``app/main.py``). The engine imports neither
``app.store`` nor ``app.remote``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from app.engine.records import (
    EventRecord,
    ExperimentRecord,
    MetricPoint,
    ProcessEvent,
    TrialRecord,
    TrialSpec,
)
from app.engine.trial import EarlyStopping, ExperimentState, TrialState


class StoreError(Exception):
    """A storage problem described for a person (locked file, unknown experiment...)."""


class NotFound(StoreError):
    """No experiment or trial with that name or id."""


class NoRoom(RuntimeError):
    """An executor had no room for a trial after all: another program took the last
    place, or a server went away, between the check and the submit. Try again later."""


class CannotRun(ValueError):
    """No executor can ever run the experiment's trials (every host has too few GPUs
    for ``gpus_per_trial``): the run ends FAILED with this message, no traceback."""


class TrialRepository(Protocol):
    """Where experiments, trials, metrics and events live.

    Contract: every method is one transaction (commit, or rollback and raise
    :class:`StoreError`); methods may be called from any thread; records returned
    are frozen snapshots. ``set_trial_state`` checks the transition with
    :func:`app.engine.trial.check_transition` inside the same transaction, so a
    finished trial can never change.
    """

    def create_experiment(self, name: str, definition: dict[str, Any]) -> ExperimentRecord:
        """Store a new experiment in DRAFT. Raises StoreError if the name is taken."""
        ...

    def get_experiment(self, key: int | str) -> ExperimentRecord:
        """By id, or by name. Raises NotFound."""
        ...

    def list_experiments(self) -> list[ExperimentRecord]:
        """All experiments, oldest first."""
        ...

    def update_experiment(
        self,
        experiment_id: int,
        *,
        state: ExperimentState | None = None,
        definition: dict[str, Any] | None = None,
        snapshot_hash: str | None = None,
        commit: str | None = None,
        dirty: bool | None = None,
    ) -> ExperimentRecord:
        """Change the given fields only."""
        ...

    def delete_experiment(self, experiment_id: int) -> None:
        """Remove it with its trials, metrics and events."""
        ...

    def create_trial(
        self, experiment_id: int, params: dict[str, Any], state: TrialState = TrialState.QUEUED,
        *, rerun_of: int | None = None,
        early_stopping: EarlyStopping = EarlyStopping.SCHEDULED,
    ) -> TrialRecord:
        """A new trial numbered 1, 2, ... within its experiment; ``rerun_of`` is the
        number of the trial whose params it repeats (not counted against max trials);
        ``early_stopping`` whether the scheduler may prune it (stored, never changed)."""
        ...

    def update_trial(self, trial_id: int, **fields: Any) -> TrialRecord:
        """Set fields of TrialRecord (``state`` is checked as a transition)."""
        ...

    def get_trial(self, trial_id: int) -> TrialRecord:
        """Raises NotFound."""
        ...

    def list_trials(
        self, experiment_id: int, states: Sequence[TrialState] | None = None
    ) -> list[TrialRecord]:
        """Trials of one experiment by number, optionally only those in ``states``."""
        ...

    def delete_trials(self, experiment_id: int) -> None:
        """Drop every trial of the experiment (Restart) with its metrics."""
        ...

    def add_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Insert many points in one transaction (one executemany)."""
        ...

    def add_output(self, trial_id: int, points: Sequence[MetricPoint], offset: int,
                   kpi: float | None) -> TrialRecord:
        """Store points read from a running trial's log with the log ``offset`` after
        them and its KPI so far, in one transaction (nothing lost or doubled on re-attach)."""
        ...

    def end_trial(self, trial_id: int, fields: Mapping[str, object],
                  points: Sequence[MetricPoint] = (), log: str | None = None) -> TrialRecord:
        """Store a trial's end (``fields``, with a finished ``state``), the points of
        its log not stored yet (the log offset after them in ``fields``) and a line of
        the experiment's history about it (``log``), in one transaction."""
        ...

    def get_metrics(self, trial_id: int, name: str | None = None) -> list[MetricPoint]:
        """Points of one trial ordered by (name, step, time)."""
        ...

    def add_event(
        self, experiment_id: int, kind: str, message: str, trial_id: int | None = None
    ) -> EventRecord:
        """Append one line to the experiment's history."""
        ...

    def list_events(self, experiment_id: int, *, after: int = 0) -> list[EventRecord]:
        """The experiment's history, oldest first; only the events with an id above
        ``after`` when given (what was logged since an event)."""
        ...


class Executor(Protocol):
    """Runs trial processes somewhere (this machine, an SSH server) and reports on them.

    Contract: all methods are called from the runner thread only, except
    :meth:`close`, which may come from any thread once the runner has stopped.
    The executor owns its processes; it never decides a trial's state, it only
    reports what it saw as :class:`ProcessEvent` values.
    """

    name: str

    def free_slots(self) -> int:
        """How many more trials :meth:`submit` accepts now."""
        ...

    def capacity(self) -> int:
        """How many trials fit when none runs; a runner balances ``free_slots()`` against
        it so every host is equally busy relative to its size."""
        ...

    def busy_reason(self) -> str:
        """Why :meth:`free_slots` is 0, in words for the experiment's log ("gpu-box is
        offline: …"); asked only then."""
        ...

    def submit(self, spec: TrialSpec) -> None:
        """Start the trial (non-blocking); a STARTED or START_FAILED event follows."""
        ...

    def poll(self, timeout: float) -> list[ProcessEvent]:
        """Events since the last call, waiting at most ``timeout`` seconds for one."""
        ...

    def stop(self, trial_id: int, grace: float) -> None:
        """SIGINT to the trial's process group, SIGTERM after ``grace`` s, SIGKILL after
        another ``grace``. Returns at once; an EXITED event follows."""
        ...

    def close(self) -> None:
        """Stop following processes and release resources; running trials keep running."""
        ...
