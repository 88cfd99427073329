"""What the runner tells its subscribers (the CLI's progress bar, the GUI's bridge)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.engine.protocol import ProgressReport
from app.engine.records import MetricPoint, TrialRecord
from app.engine.trial import ExperimentState

log = logging.getLogger(__name__)


class RunnerEventKind(str, Enum):
    """The kinds of :class:`RunnerEvent`."""

    EXPERIMENT = "experiment"  # the experiment's state changed
    TRIAL = "trial"  # a trial was created, started or finished
    METRICS = "metrics"  # new metric points of one trial
    LOG = "log"  # a line for the experiment's log
    PROGRESS = "progress"  # a running trial reported how far it has come (step of total)


class ExperimentChange(str, Enum):
    """What happened to an experiment itself rather than to its run: the ``change`` of
    an EXPERIMENT event with no state. The value is the text shown for it."""

    CREATED = "created"
    EDITED = "edited"
    RENAMED = "renamed"
    DELETED = "deleted"
    RESTARTED = "restarted"
    STOP_REQUESTED = "stop requested"
    DRIVER_CHANGED = "another program took or let go of its run"

    @property
    def lists_differ(self) -> bool:
        """Whether the list of experiments (names, members, order) is different now."""
        return self in (ExperimentChange.CREATED, ExperimentChange.EDITED,
                        ExperimentChange.RENAMED, ExperimentChange.DELETED)


@dataclass(frozen=True)
class RunnerEvent:
    """One thing that happened in a running experiment. Immutable; safe across threads.

    An EXPERIMENT event carries either the experiment's new ``state`` or the ``change``
    made to the experiment itself; a PROGRESS event carries the trial and its
    ``progress`` as reported (``sweeplab.progress(step, total)``: the total is not
    stored, so only live subscribers see it); ``message`` is only for people to read.
    """

    kind: RunnerEventKind
    experiment_id: int
    state: ExperimentState | None = None
    trial: TrialRecord | None = None
    metrics: tuple[MetricPoint, ...] = ()
    message: str = ""
    change: ExperimentChange | None = None
    progress: ProgressReport | None = None

    @classmethod
    def changed(cls, experiment_id: int, change: ExperimentChange) -> RunnerEvent:
        """The EXPERIMENT event saying ``change`` was made to the experiment."""
        return cls(RunnerEventKind.EXPERIMENT, experiment_id, message=change.value,
                   change=change)


Subscriber = Callable[[RunnerEvent], None]


class Subscribers:
    """A thread-safe list of event callbacks; a failing callback is logged, not raised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Subscriber] = []

    def add(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event; returns a function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def publish(self, event: RunnerEvent) -> None:
        """Hand ``event`` to every callback, on the calling thread."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:  # a broken view must not stop an experiment
                log.exception("an event subscriber failed")
