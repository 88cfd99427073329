"""Opening an experiment without waiting for it: its trials, log and metric points read
on a worker thread, one query per kind, and handed over in parts as they arrive.

The window shows the trials first (the grid and the table), then the points in
batches (the curves fill in), while its own thread stays free. Opening another
experiment cancels the load in progress: it reads no further and hands over nothing
more. No Qt here: the front end turns the parts into whatever its thread needs
(``app/views/loading.py`` delivers them as queued signals).

Parts, in this order, each carrying the ticket :meth:`ExperimentLoader.load` returned:

- :class:`TrialsRead`: the experiment's trials and log (one query each, after a look
  at the experiment: one deleted meanwhile ends the load with that failure);
- :class:`BoundsRead` (when the load was given the KPI), at any point before
  :class:`LoadEnded`: the bounds of the KPI's points, from one aggregate read beside
  the rest on a thread of its own (the database does the work, the interpreter is
  free), so a chart can take its final range before the first curve arrives;
- :class:`PointsRead`: a batch of points of whole trials as series (a trial's
  points never span two batches, so a chart draws each trial once), from one
  streamed query, grouped on the worker thread;
- :class:`LoadEnded`: every point was read (or why not), with what was read per
  trial and metric (what :class:`~app.application.following.Follower` needs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from app.application.live import HistoryEnd, TrialsSummary, history_ends, summarise_trials
from app.engine.experiment import Kpi
from app.engine.ports import StoreError
from app.engine.records import EventRecord, ExperimentRecord, MetricSeries, TrialRecord

log = logging.getLogger(__name__)

BATCH_POINTS = 20_000
"""About how many points a :class:`PointsRead` holds (whole trials, so a few more)."""
TRIALS_PER_READ = 25
POINTS_PER_READ = 2_000
"""Trials, and points, read between two calls of the loader's ``pace`` (1–3 ms of the
interpreter each here; reading points 500 at a time cost the loader ~40 % more CPU)."""
BOUNDS_WAIT_S = 0.5
"""How long the points wait for the :class:`BoundsRead` to be delivered first (read
beside the trials, it is most often there before them)."""


class _Reads(Protocol):
    def get_experiment(self, key: int | str) -> ExperimentRecord: ...
    def trials_in_chunks(self, experiment_id: int, chunk: int) -> Iterator[list[TrialRecord]]: ...
    def list_events(self, experiment_id: int) -> list[EventRecord]: ...
    def experiment_series(self, experiment_id: int, chunk: int = ...
                          ) -> Iterator[list[MetricSeries]]: ...
    def series_bounds(self, experiment_id: int, name: str
                      ) -> tuple[float, float, float, float] | None: ...


@dataclass(frozen=True)
class TrialsRead:
    """The experiment's trials by number and its log, oldest first, and how the trials
    add up (best by the goal the load was given)."""

    ticket: int
    experiment_id: int
    trials: tuple[TrialRecord, ...]
    events: tuple[EventRecord, ...]
    summary: TrialsSummary


@dataclass(frozen=True)
class BoundsRead:
    """Step min, step max, value min and value max of the finite points of metric
    ``name`` over the experiment's trials (what a chart of its curves spans once all
    are drawn); None when unknown (no finite point, or one without a step)."""

    ticket: int
    experiment_id: int
    name: str
    bounds: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class PointsRead:
    """Every stored point of some trials (each trial whole), one
    :class:`~app.engine.records.MetricSeries` per trial and metric, and where each
    trial's points end (:class:`~app.application.live.HistoryEnd`, KPI values when the
    load was given the KPI)."""

    ticket: int
    experiment_id: int
    series: tuple[MetricSeries, ...]
    ends: dict[int, HistoryEnd] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadEnded:
    """The load is over: ``failure`` None when everything was read, else why not (the
    parts handed over before stay valid). ``counts``: points read per (trial, metric);
    ``last_steps``: the newest step read per (trial, metric) that has one."""

    ticket: int
    experiment_id: int
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    failure: str | None = None
    last_steps: dict[tuple[int, str], int] = field(default_factory=dict)


LoadPart = TrialsRead | BoundsRead | PointsRead | LoadEnded
"""What :class:`ExperimentLoader` hands over."""


class ExperimentLoader:
    """Loads one experiment at a time on a worker thread.

    Args:
        store: where the experiment is.
        deliver: called on the worker threads with each part, in order (a load's
            :class:`BoundsRead` comes from a second thread); it must be thread safe and
            return quickly (hand the part to another thread). Nothing is delivered for a load
            once it is cancelled (a part being delivered at that instant may still
            arrive: compare its ticket with the current one).
        batch_points: about how many points each :class:`PointsRead` holds.
        pace: called on the worker thread after every few ms of reading (every
            :data:`TRIALS_PER_READ` trials and :data:`POINTS_PER_READ` points); it may
            wait, so that the front end's own thread has the interpreter to itself
            meanwhile (Python runs one thread at a time: a reader that never waits
            makes every call of the window's thread wait its turn).

    Thread safety: :meth:`load`, :meth:`cancel` and :meth:`close` may be called from
    any thread, but are meant for the front end's own.
    """

    def __init__(self, store: _Reads, deliver: Callable[[LoadPart], None], *,
                 batch_points: int = BATCH_POINTS,
                 pace: Callable[[], object] = lambda: None) -> None:
        if batch_points < 1:
            raise ValueError(f"batch_points must be >= 1, got {batch_points!r}")
        self._store = store
        self._deliver = deliver
        self._batch = batch_points
        self._pace = pace
        self._lock = threading.Lock()
        self._ticket = 0
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def ticket(self) -> int:
        """The ticket of the latest load (0 before the first)."""
        return self._ticket

    def load(self, experiment_id: int, kpi: Kpi | None = None) -> int:
        """Cancel the load in progress and start reading ``experiment_id``; returns the
        ticket its parts carry. ``kpi``: the experiment's, for the best trial of the
        :class:`TrialsRead` summary and the :class:`BoundsRead` of its points (neither
        without)."""
        with self._lock:
            self._cancel.set()
            self._ticket += 1
            ticket = self._ticket
            cancel = self._cancel = threading.Event()
            bounds = None if kpi is None else threading.Thread(
                target=self._read_bounds, args=(ticket, experiment_id, kpi.name, cancel),
                name=f"bounds of experiment {experiment_id}", daemon=True)
            thread = threading.Thread(target=self._run,
                                      args=(ticket, experiment_id, kpi, cancel, bounds),
                                      name=f"load experiment {experiment_id}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads += [t for t in (thread, bounds) if t is not None]
        if bounds is not None:
            bounds.start()
        thread.start()
        return ticket

    def cancel(self) -> None:
        """Stop the load in progress: it reads no further and delivers nothing more."""
        with self._lock:
            self._cancel.set()

    def close(self, timeout: float = 5.0) -> None:
        """Cancel, and wait up to ``timeout`` s in all for the workers to let go of the
        store."""
        self.cancel()
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, ticket: int, experiment_id: int, kpi: Kpi | None,
             cancel: threading.Event, bounds: threading.Thread | None) -> None:
        read = _SeriesRead(ticket, experiment_id, kpi)
        self._pace()  # before the first read too
        try:
            self._store.get_experiment(experiment_id)  # NotFound: deleted meanwhile
            trials = self._read_trials(experiment_id, cancel)
            events = self._store.list_events(experiment_id)
            if cancel.is_set():
                return
            # here, not on the GUI thread
            summary = summarise_trials(trials, None if kpi is None else kpi.goal)
            self._deliver(TrialsRead(ticket, experiment_id, tuple(trials), tuple(events),
                                     summary))
            if bounds is not None:  # the first curves then come with their final range
                bounds.join(BOUNDS_WAIT_S)
            if trials:
                self._read_points(read, cancel)
        except StoreError as exc:  # NotFound included: deleted meanwhile
            log.debug("loading experiment %s failed", experiment_id, exc_info=True)
            failure: str | None = str(exc)
        else:
            failure = None
        if bounds is not None:
            bounds.join()  # its part, if any, comes before the end
        if not cancel.is_set():
            self._deliver(LoadEnded(ticket, experiment_id, read.counts, failure,
                                    read.last_steps))

    def _read_bounds(self, ticket: int, experiment_id: int, name: str,
                     cancel: threading.Event) -> None:
        """The second worker: the bounds of the KPI's points (:class:`BoundsRead`)."""
        try:
            bounds = self._store.series_bounds(experiment_id, name)
        except StoreError:  # the load itself tells why (or reads on without them)
            log.debug("reading the bounds of experiment %s failed", experiment_id,
                      exc_info=True)
            return
        if not cancel.is_set():
            self._deliver(BoundsRead(ticket, experiment_id, name, bounds))

    def _read_trials(self, experiment_id: int, cancel: threading.Event) -> list[TrialRecord]:
        """Every trial, read a chunk at a time with a pace between (what a cancel
        leaves read is never delivered)."""
        trials: list[TrialRecord] = []
        stream = self._store.trials_in_chunks(experiment_id, TRIALS_PER_READ)
        try:
            for chunk in stream:
                trials.extend(chunk)
                if cancel.is_set():
                    break
                self._pace()
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return trials

    def _read_points(self, read: _SeriesRead, cancel: threading.Event) -> None:
        """Stream the series; hand them over in batches of whole trials."""
        pending: list[MetricSeries] = []
        size = 0
        stream = self._store.experiment_series(read.experiment_id,
                                               min(self._batch, POINTS_PER_READ))
        try:
            for chunk in stream:
                if cancel.is_set():
                    return
                self._pace()
                size += read.count(chunk)
                pending.extend(chunk)
                if size < self._batch:
                    continue
                # hold back the last trial: its next series may be in the next chunk
                last = pending[-1].trial_id
                cut = len(pending)
                while cut > 0 and pending[cut - 1].trial_id == last:
                    cut -= 1
                if cut == 0:
                    continue
                self._deliver(read.batch(pending[:cut]))
                pending = pending[cut:]
                size = sum(len(one.values) for one in pending)
            if pending and not cancel.is_set():
                self._deliver(read.batch(pending))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()


class _SeriesRead:
    """What one load has read of the points: counts and newest steps per series (for
    :class:`LoadEnded`), and each batch as its :class:`PointsRead`."""

    def __init__(self, ticket: int, experiment_id: int, kpi: Kpi | None) -> None:
        self.ticket = ticket
        self.experiment_id = experiment_id
        self.kpi = kpi
        self.counts: dict[tuple[int, str], int] = {}
        self.last_steps: dict[tuple[int, str], int] = {}

    def count(self, chunk: list[MetricSeries]) -> int:
        """Tally a chunk's series; returns its number of points."""
        size = 0
        for one in chunk:
            key = (one.trial_id, one.name)
            self.counts[key] = len(one.values)
            size += len(one.values)
            step = one.last_step
            if step is not None:
                self.last_steps[key] = step
        return size

    def batch(self, series: list[MetricSeries]) -> PointsRead:
        """These series (whole trials) as the part handed over, with their trials' ends
        (worked out here, on the loader's thread)."""
        return PointsRead(self.ticket, self.experiment_id, tuple(series),
                          history_ends(series, self.kpi))
