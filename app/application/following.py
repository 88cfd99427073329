"""Following a run that another program drives, from what it stores.

A ``sweeplab run`` in a terminal (or another Sweeplab window, or a machine sharing a
PostgreSQL database) drives the experiment and publishes its events to nobody here.
:class:`Follower` reads the store instead and turns what changed since its last look
into the same :class:`~app.engine.events.RunnerEvent` values a runner publishes, so
the views need no second path: new or changed trials, their new metric points, and
the experiment's state. :class:`Watcher` keeps the shown experiment's follower and
notices experiments created or deleted elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from app.engine.events import ExperimentChange, RunnerEvent, RunnerEventKind
from app.engine.lease import is_free
from app.engine.ports import NotFound, StoreError
from app.engine.records import ExperimentRecord, MetricPoint, TrialRecord
from app.engine.trial import ExperimentState

log = logging.getLogger(__name__)
ACTIVE = (ExperimentState.RUNNING, ExperimentState.PAUSED)
"""The states of an experiment some program drives (or drove until it died)."""
OVERLAP = timedelta(seconds=5)
"""Each look re-reads the trials changed this long before the newest change it saw:
a write whose time was taken before that change may commit after the look, and the
writer's clock may step back."""


class _Reads(Protocol):
    def get_experiment(self, key: int | str) -> ExperimentRecord: ...
    def list_trials(self, experiment_id: int, *,
                    changed_since: datetime | None = None) -> list[TrialRecord]: ...
    def metrics_since_many(self, marks: Mapping[int, int]
                           ) -> dict[int, tuple[list[MetricPoint], int]]: ...
    def experiment_ids(self) -> set[int]: ...


class Follower:
    """What another program stores for one experiment, as events.

    Args:
        store: where that program writes.
        record: the experiment as last shown.
        trials: its trials as last shown.
        shown: how many points of each (trial, metric) are already shown (to send only
            newer ones; :func:`point_counts` counts a list of points).
        overlap: see :data:`OVERLAP`.

    Each look reads the trials changed since the newest change seen (less ``overlap``),
    not all of them: a 5,000-trial run costs what its running trials cost.
    """

    def __init__(self, store: _Reads, record: ExperimentRecord,
                 trials: Sequence[TrialRecord], shown: Mapping[tuple[int, str], int],
                 overlap: timedelta = OVERLAP) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.experiment_id = record.id
        self.state = record.state
        self._driver = record.driver
        self._looked = False
        self.driven = not is_free(record.driver, record.driver_seen)
        """Whether another program drove it at the last look (its owner keeps this), at
        first as ``record`` says."""
        self._trials = {trial.id: trial for trial in trials}
        self._overlap = overlap
        self._newest = max((t.updated_at for t in trials if t.updated_at is not None),
                           default=None)
        """The latest ``updated_at`` seen; None: read every trial at the next look."""
        self._counts: dict[tuple[int, str], int] = dict(shown)
        self._marks: dict[int, int] = {}
        """Per trial, the number of the last stored point read (see ``metrics_since_many``)."""

    def absorb(self, event: RunnerEvent) -> None:
        """Take note of an event a runner of this program published (already shown)."""
        if event.experiment_id != self.experiment_id:
            return
        with self._lock:
            if event.trial is not None:
                self._trials[event.trial.id] = event.trial
            for point in event.metrics:
                key = (point.trial_id, point.name)
                self._counts[key] = self._counts.get(key, 0) + 1
                self._marks.pop(point.trial_id, None)  # counted now, not marked
            if event.kind is RunnerEventKind.EXPERIMENT and event.state is not None:
                self.state = event.state
            if event.change is None:  # a run's event: this program drives it now
                self.driven = False

    def poll(self) -> list[RunnerEvent]:
        """The changes since the last poll: trials and points first, then the state."""
        with self._lock:
            return self._poll()

    def settled(self) -> bool:
        """Whether nothing need be read, while no program drives the experiment: it is not
        running, and (at the first look) the stored one has the state and driver shown.
        What is shown may be older than what was stored when the watching began (a run
        started, or ended, while the window read it): then one :meth:`poll` is due."""
        with self._lock:
            if self.state in ACTIVE:
                return False
            if self._looked:
                return True
            self._looked = True
            record = self._store.get_experiment(self.experiment_id)
            return (record.state, record.driver) == (self.state, self._driver)

    def _poll(self) -> list[RunnerEvent]:
        self._looked = True
        events: list[RunnerEvent] = []
        grown: list[int] = []
        since = self._newest - self._overlap if self._newest is not None else None
        for trial in self._store.list_trials(self.experiment_id, changed_since=since):
            if trial.updated_at is not None and (self._newest is None
                                                 or trial.updated_at > self._newest):
                self._newest = trial.updated_at
            known = self._trials.get(trial.id)
            if known == trial:
                continue
            self._trials[trial.id] = trial
            events.append(RunnerEvent(RunnerEventKind.TRIAL, self.experiment_id, trial=trial))
            if known is None or known.log_offset != trial.log_offset:
                grown.append(trial.id)
        if grown:  # one query for every grown trial's new points
            read = self._store.metrics_since_many({t: self._marks.get(t, 0) for t in grown})
            for trial_id in grown:
                fresh = self._fresh(trial_id, *read[trial_id])
                if fresh:
                    events.append(RunnerEvent(RunnerEventKind.METRICS, self.experiment_id,
                                              metrics=tuple(fresh)))
        events.extend(self._experiment_changes(self._store.get_experiment(self.experiment_id)))
        return events

    def _experiment_changes(self, record: ExperimentRecord) -> list[RunnerEvent]:
        """The event for the stored experiment ``record`` if it is not as last shown: its
        new state, or else its new driver (a run taken over, a lease let go) as a change,
        not a state (a second event of a final state would tell of the run's end twice)."""
        state_changed = record.state is not self.state
        driver_changed = record.driver != self._driver
        self.state, self._driver = record.state, record.driver
        if state_changed:
            return [RunnerEvent(RunnerEventKind.EXPERIMENT, self.experiment_id,
                                state=record.state, message="changed elsewhere")]
        if driver_changed:
            return [RunnerEvent.changed(self.experiment_id, ExperimentChange.DRIVER_CHANGED)]
        return []

    def _fresh(self, trial_id: int, points: list[MetricPoint], mark: int) -> list[MetricPoint]:
        """The points of ``trial_id`` stored since the last read (``mark``: the last one's
        number). The first read of a trial takes all of them, in stored order, and
        leaves out per metric as many as were already shown (those were stored first);
        later reads take only what was stored since."""
        first = trial_id not in self._marks
        self._marks[trial_id] = mark
        shown = {} if not first else {
            name: count for (trial, name), count in self._counts.items() if trial == trial_id}
        fresh: list[MetricPoint] = []
        for point in points:
            key = (trial_id, point.name)
            if shown.get(point.name, 0) > 0:
                shown[point.name] -= 1
                continue
            fresh.append(point)
            self._counts[key] = self._counts.get(key, 0) + 1
        return fresh


def point_counts(points: Iterable[MetricPoint]) -> dict[tuple[int, str], int]:
    """How many of ``points`` each (trial, metric) has (what a :class:`Follower` was shown)."""
    counts: dict[tuple[int, str], int] = {}
    for point in points:
        key = (point.trial_id, point.name)
        counts[key] = counts.get(key, 0) + 1
    return counts


class Watcher:
    """The shown experiment's :class:`Follower`, and the list of experiments, read back
    for what other programs change.

    Args:
        store: the database.
        publish: hands an event to the views (as a runner's events are).
        is_running: whether this program drives an experiment (then nothing is read).
        driven_elsewhere: whether another live program drives it.
    """

    def __init__(self, store: _Reads, publish: Callable[[RunnerEvent], None],
                 is_running: Callable[[int], bool],
                 driven_elsewhere: Callable[[int], bool]) -> None:
        self._store = store
        self._publish = publish
        self._is_running = is_running
        self._driven_elsewhere = driven_elsewhere
        self._follower: Follower | None = None
        self._known_ids: set[int] | None = None
        self._lock = threading.Lock()
        """Held by each method: the views call them on their thread, the runner
        :meth:`absorb` on its own, and :meth:`poll` runs on a polling thread."""

    def known(self, ids: set[int]) -> None:
        """The experiments the views list now (new ones are announced from here on)."""
        with self._lock:
            self._known_ids = set(ids)

    def follow(self, record: ExperimentRecord, trials: Sequence[TrialRecord],
               shown: Mapping[tuple[int, str], int]) -> None:
        """Watch the shown experiment, as shown (``shown``: its points per trial and
        metric); replaces the one watched before."""
        follower = Follower(self._store, record, trials, shown)
        with self._lock:
            self._follower = follower

    def absorb(self, event: RunnerEvent) -> None:
        """Take note of an event this program's runner published (already shown)."""
        with self._lock:
            if self._follower is not None:
                self._follower.absorb(event)

    def seen_driven_elsewhere(self, experiment_id: int) -> bool:
        """Whether another live program drove the experiment at the last look, which
        reads nothing (the views ask at every click and keystroke): only the watched
        experiment is looked at, every poll; any other is taken as nobody else's (a
        start is still refused then, by the lease). A change of it is published as
        :attr:`ExperimentChange.DRIVER_CHANGED`. No lock: a poll holding it may be
        reading the store."""
        follower = self._follower
        return (follower is not None and follower.experiment_id == experiment_id
                and follower.driven and not self._is_running(experiment_id))

    def poll(self) -> int:
        """Publish what other programs stored since the last poll; returns how many events.

        The watched experiment is read only while another program drives it, or until
        its state settles after; experiments created or deleted elsewhere are
        published as such.
        """
        with self._lock:
            return self._poll()

    def _poll(self) -> int:
        count = self._poll_ids()
        follower = self._follower
        if follower is None or self._is_running(follower.experiment_id):
            return count
        driven = self._driven_elsewhere(follower.experiment_id)
        # one more look after the driver let go: its last writes came before that
        was_driven, follower.driven = follower.driven, driven
        try:
            if not driven and not was_driven and follower.settled():
                return count
            events = follower.poll()
        except NotFound:  # deleted by another program meanwhile
            self._follower = None
            return count
        if driven != was_driven and not any(e.kind is RunnerEventKind.EXPERIMENT
                                            for e in events):
            # told of no state or driver: its lease ran out, or its program died
            events.append(RunnerEvent.changed(follower.experiment_id,
                                              ExperimentChange.DRIVER_CHANGED))
        for event in events:
            self._publish(event)
        return count + len(events)

    def _poll_ids(self) -> int:
        ids = self._store.experiment_ids()
        known, self._known_ids = self._known_ids, ids
        if known is None or known == ids:
            return 0
        for gone in known - ids:
            self._publish(RunnerEvent.changed(gone, ExperimentChange.DELETED))
        for new in ids - known:
            self._publish(RunnerEvent.changed(new, ExperimentChange.CREATED))
        return len(ids ^ known)


class PollingThread:
    """Calls ``poll`` every ``interval`` seconds on a thread of its own, so that reading
    the store never holds up the caller's (the GUI's) thread. A poll that fails with
    StoreError (the database busy or gone for a moment) is logged; the next one tries
    again.

    Args:
        poll: what to call (:meth:`Watcher.poll`); it publishes what it finds.
        interval: seconds between the end of one poll and the start of the next.
    """

    def __init__(self, poll: Callable[[], object], interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self._poll = poll
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="follow runs elsewhere",
                                        daemon=True)

    def start(self) -> None:
        """Start polling (once)."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Poll no more; wait up to ``timeout`` s for a poll in progress to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._poll()
            except StoreError:
                log.debug("reading back what other programs stored failed", exc_info=True)
