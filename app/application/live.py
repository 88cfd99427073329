"""The live state of the experiment a front end shows: :class:`LiveExperiment`.

One object per shown experiment holds everything its panels show about the run (the
trials, how they add up, the best one, each trial's progress and whether a stop is
under way) and the rules that update it. It is fed two ways only:

- :meth:`LiveExperiment.load` with the experiment's stored trials and points (one
  call per load, from whatever thread read them: the caller hands the records over);
- :meth:`LiveExperiment.apply` with each :class:`~app.engine.events.RunnerEvent`, and
  :meth:`LiveExperiment.request_stop` when the user asks a trial or the run to stop.

Each returns a :class:`LiveChange` saying what changed, so a thin adapter (Qt's is
:class:`app.views.live.LiveView`) tells its panels once per change; every panel reads
counts, best and progress here rather than computing its own. Counts and best follow
the one rule of :mod:`app.engine.best`.

Not thread-safe: one thread (the GUI's) owns it. Records are frozen, so they may be
read on another thread before they are handed to :meth:`load`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

from app.engine.best import TrialCounts, best_trial, count_trials
from app.engine.events import ExperimentChange, RunnerEvent, RunnerEventKind
from app.engine.experiment import Kpi
from app.engine.records import ExperimentRecord, MetricPoint, MetricSeries, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import ExperimentState, TrialState

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

STOPPING = "stopping…"
"""What a trial, or the run, is shown as from the request to stop until it has ended."""
ACTIVE = (ExperimentState.RUNNING, ExperimentState.PAUSED)
"""The experiment states in which a run is under way."""


class Activity(str, Enum):
    """What a trial's process is doing, as every view says it."""

    WAITING = "waiting"
    """Created or queued: no process yet."""
    RUNNING = "running"
    STOPPING = "stopping"
    """A stop was asked for (the user, or the whole run) and the trial has not ended."""
    ENDED = "ended"
    """Finished, whatever its end: the process is gone."""


def progress_fraction(step: int | None, total: int | None) -> float | None:
    """How far a trial has come, in [0, 1], when its step and total are known (the one
    rule of the tiles, the table and the tooltips), else None."""
    if step is None or not total:
        return None
    return min(max(step / total, 0.0), 1.0)


@dataclass(frozen=True)
class Progress:
    """How far a trial has come: ``step`` of ``total`` (either may be unknown).

    ``total`` is what the trial reported (``sweeplab.progress(step, total)``), else the
    experiment's max epochs.
    """

    step: int | None = None
    total: int | None = None

    @property
    def fraction(self) -> float | None:
        """Progress in [0, 1] when step and total are known, else None."""
        return progress_fraction(self.step, self.total)

    def describe(self) -> str:
        """``step 7 of 20``, ``step 7`` without a total, ``—`` before any step."""
        if self.step is None:
            return "—"
        return f"step {self.step}" + (f" of {self.total}" if self.total else "")


@dataclass(frozen=True)
class LiveChange:
    """What one load, event or request changed.

    Attributes:
        reset: everything (another experiment, or its records loaded again): redraw all.
        trials: trials added or changed (their newest records).
        points: new metric points of the shown experiment's trials.
        progress: trials whose :class:`Progress` changed.
        stopping: trials that began or ended stopping (also in ``trials`` when their
            record changed).
        summary: the experiment's record, state, counts, best or run-level stopping
            changed.
        log: lines for the experiment's log.
    """

    reset: bool = False
    trials: tuple[TrialRecord, ...] = ()
    points: tuple[MetricPoint, ...] = ()
    progress: frozenset[int] = frozenset()
    stopping: frozenset[int] = frozenset()
    summary: bool = False
    log: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.reset or self.trials or self.points or self.progress
                    or self.stopping or self.summary or self.log)

    def merged(self, other: LiveChange) -> LiveChange:
        """This change followed by ``other``, as one (later records win)."""
        if other.reset:
            return other
        newest = {t.id: t for t in (*self.trials, *other.trials)}
        return LiveChange(
            reset=self.reset, trials=tuple(newest.values()),
            points=self.points + other.points, progress=self.progress | other.progress,
            stopping=self.stopping | other.stopping, summary=self.summary or other.summary,
            log=self.log + other.log)


@dataclass(frozen=True)
class TrialsSummary:
    """How some trials add up and the best of them, by the rule of
    :mod:`app.engine.best`: worked out where the trials were read (off the GUI thread)
    and handed to :meth:`LiveExperiment.load` with them."""

    counts: TrialCounts
    best: TrialRecord | None


def summarise_trials(trials: Sequence[TrialRecord], goal: Goal | None) -> TrialsSummary:
    """The :class:`TrialsSummary` of ``trials``; no best without a ``goal``."""
    return TrialsSummary(count_trials(trials),
                         None if goal is None else best_trial(trials, goal))


@dataclass(frozen=True)
class HistoryEnd:
    """Where one trial's stored points end, as the views that show its progress and
    KPI need it: its newest step over every metric (None: no point has one), and its
    KPI's last value and best finite value by the goal (None: no such point). Worked
    out where the points were read (off the GUI thread), a trial at a time."""

    step: int | None = None
    kpi: float | None = None
    best_kpi: float | None = None


def history_ends(series: Iterable[MetricSeries], kpi: Kpi | None) -> dict[int, HistoryEnd]:
    """The :class:`HistoryEnd` of every trial with points in ``series`` (each series
    whole: every stored point of its metric); no KPI values without a ``kpi``."""
    ends: dict[int, HistoryEnd] = {}
    for one in series:
        if not len(one.values):
            continue
        held = ends.get(one.trial_id, HistoryEnd())
        step = one.last_step
        if step is None or (held.step is not None and held.step >= step):
            step = held.step
        last, best = held.kpi, held.best_kpi
        if kpi is not None and one.name == kpi.name:
            last, best = float(one.values[-1]), _best_finite(one.values, kpi.goal)
        ends[one.trial_id] = HistoryEnd(step, last, best)
    return ends


def _best_finite(values: npt.NDArray[np.float64], goal: Goal) -> float | None:
    import numpy as np  # where points are read, after the window's first paint

    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    return float(finite.min() if goal is Goal.MIN else finite.max())


def newer_record(held: TrialRecord, read: TrialRecord) -> TrialRecord:
    """Of two records of one trial, the later one: a finished trial never changes
    again, so a finished record wins over an unfinished one; otherwise the one stored
    last (``updated_at``) wins, and ``read`` on a tie or when either time is unknown."""
    if held.state.is_finished() != read.state.is_finished():
        return held if held.state.is_finished() else read
    if held.updated_at is not None and read.updated_at is not None \
            and held.updated_at > read.updated_at:
        return held
    return read


@dataclass
class _Trial:
    record: TrialRecord
    step: int | None = None
    total: int | None = None
    stopping: bool = False


@dataclass
class LiveExperiment:
    """The live state of one shown experiment.

    Args:
        record: the experiment as stored.
        kpi: its KPI (name and goal), None for one whose definition cannot be read.
        default_total: the steps a trial runs when it reports no total (max epochs).
    """

    record: ExperimentRecord
    kpi: Kpi | None = None
    default_total: int | None = None
    stopping: bool = False
    """The whole run was asked to stop and has not ended yet."""
    _trials: dict[int, _Trial] = field(default_factory=dict)
    _counts: TrialCounts | None = None
    _best: tuple[TrialRecord | None] | None = None
    _by_number: list[TrialRecord] | None = None

    # --- feeding ------------------------------------------------------------------------

    @property
    def experiment_id(self) -> int:
        """The experiment shown."""
        return self.record.id

    def load(self, trials: Sequence[TrialRecord], points: Iterable[MetricPoint] = (), *,
             summary: TrialsSummary | None = None) -> LiveChange:
        """Take these stored records and their points as the trials (a reset).

        ``summary``: :func:`summarise_trials` of ``trials`` by this model's KPI goal,
        worked out by the reader; taken as the counts and best unless events changed
        the trials meanwhile (then they are worked out here, when first asked).

        The records were read while events went on arriving (a run may start while its
        experiment loads): a trial an event told of after the read stays, and of two
        records of one trial the newer (:func:`newer_record`) wins, so a load never
        takes the model back in time. Points of other experiments' trials are ignored;
        a stop under way stays marked on the trials that have not ended.
        """
        seen = self._trials
        self._trials = {}
        as_read = True  # the trials are exactly the records read
        for record in trials:
            held = seen.pop(record.id, None)
            if held is None:
                self._trials[record.id] = _Trial(record)
            else:
                held.record = newer_record(held.record, record)
                as_read = as_read and held.record is record
                self._trials[record.id] = held
        as_read = as_read and not seen
        self._trials.update(seen)  # told of by events only: created after the read
        for held in self._trials.values():
            held.stopping = held.stopping and not held.record.state.is_finished()
        for point in points:
            self._see_step(point)
        self._dirty()
        if summary is not None and as_read:
            self._counts = summary.counts
            self._best = (summary.best if self.kpi is not None else None,)
        return LiveChange(reset=True, summary=True)

    def apply(self, event: RunnerEvent) -> LiveChange:
        """Take in one event; events of other experiments change nothing."""
        if event.experiment_id != self.record.id:
            return LiveChange()
        kind = event.kind
        if kind is RunnerEventKind.TRIAL and event.trial is not None:
            return self.update_trial(event.trial)
        if kind is RunnerEventKind.METRICS:
            change = LiveChange() if event.trial is None else self.update_trial(event.trial)
            mine = tuple(p for p in event.metrics if p.trial_id in self._trials)
            moved = frozenset(p.trial_id for p in mine if self._see_step(p))
            return change.merged(LiveChange(points=mine, progress=moved))
        if kind is RunnerEventKind.PROGRESS and event.progress is not None \
                and event.trial is not None:
            change = self.update_trial(event.trial)
            held = self._trials[event.trial.id]
            report = event.progress
            if (held.step, held.total) == (report.step, report.total):
                return change
            held.step, held.total = report.step, report.total
            return change.merged(LiveChange(progress=frozenset({event.trial.id})))
        if kind is RunnerEventKind.EXPERIMENT:
            return self._experiment_event(event)
        if kind is RunnerEventKind.LOG:
            return LiveChange(log=(event.message,))
        return LiveChange()

    def _experiment_event(self, event: RunnerEvent) -> LiveChange:
        if event.change is ExperimentChange.STOP_REQUESTED:
            return self.request_stop()
        if event.state is None:
            return LiveChange()
        self.record = replace(self.record, state=event.state)
        if event.state not in ACTIVE:
            self.stopping = False
        return LiveChange(summary=True)

    def set_record(self, record: ExperimentRecord) -> LiveChange:
        """The experiment as stored now (renamed, its state or driver changed)."""
        if record.id != self.record.id:
            raise ValueError(f"this shows experiment {self.record.id}, not {record.id}")
        if record == self.record:
            return LiveChange()
        self.record = record
        if record.state not in ACTIVE:
            self.stopping = False
        return LiveChange(summary=True)

    def update_trial(self, record: TrialRecord) -> LiveChange:
        """A trial was added or changed; a finished trial is no longer stopping."""
        if record.experiment_id != self.record.id:
            return LiveChange()
        held = self._trials.get(record.id)
        if held is None:
            held = self._trials[record.id] = _Trial(record, stopping=self.stopping
                                                    and not record.state.is_finished())
        elif held.record == record:
            return LiveChange()
        held.record = record
        ended = held.stopping and record.state.is_finished()
        if ended:
            held.stopping = False
        self._dirty()
        return LiveChange(trials=(record,), summary=True,
                          stopping=frozenset({record.id}) if ended else frozenset())

    def request_stop(self, trial_id: int | None = None) -> LiveChange:
        """A stop was asked for: of one trial, or (None) of the whole run. Its trials
        show :data:`STOPPING` until they have ended."""
        if trial_id is not None:
            held = self._trials.get(trial_id)
            if held is None or held.stopping or held.record.state.is_finished():
                return LiveChange()
            held.stopping = True
            return LiveChange(stopping=frozenset({trial_id}))
        marked = frozenset(tid for tid, t in self._trials.items()
                           if not t.stopping and not t.record.state.is_finished())
        for tid in marked:
            self._trials[tid].stopping = True
        was, self.stopping = self.stopping, self.record.state in ACTIVE or bool(marked)
        return LiveChange(stopping=marked, summary=was != self.stopping)

    def see_history(self, ends: Mapping[int, HistoryEnd]) -> LiveChange:
        """Where the stored points of some trials end, read while the experiment is
        opened after its trials were loaded: each trial's newest step, for its progress."""
        moved = frozenset(trial_id for trial_id, end in ends.items()
                          if self._see_step_of(trial_id, end.step))
        return LiveChange(progress=moved) if moved else LiveChange()

    def _see_step(self, point: MetricPoint) -> bool:
        return self._see_step_of(point.trial_id, point.step)

    def _see_step_of(self, trial_id: int, step: int | None) -> bool:
        held = self._trials.get(trial_id)
        if held is None or step is None or (held.step is not None and held.step >= step):
            return False
        held.step = step
        return True

    def _dirty(self) -> None:
        self._counts = None
        self._best = None
        self._by_number = None

    # --- reading ------------------------------------------------------------------------

    @property
    def state(self) -> ExperimentState:
        """The experiment's state as last told."""
        return self.record.state

    def trials(self) -> list[TrialRecord]:
        """Every trial, by number (a new list; sorted once per change)."""
        if self._by_number is None:
            self._by_number = sorted((t.record for t in self._trials.values()),
                                     key=lambda r: r.number)
        return list(self._by_number)

    def trial(self, trial_id: int) -> TrialRecord | None:
        """One trial's newest record, None when it is not one of the shown experiment's."""
        held = self._trials.get(trial_id)
        return None if held is None else held.record

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._trials

    def __len__(self) -> int:
        return len(self._trials)

    def counts(self) -> TrialCounts:
        """How the trials add up per state (:func:`app.engine.best.count_trials`)."""
        if self._counts is None:
            self._counts = count_trials(t.record for t in self._trials.values())
        return self._counts

    def best(self) -> TrialRecord | None:
        """The best trial by :func:`app.engine.best.best_trial`; None when none competes
        (or the KPI is unknown)."""
        if self.kpi is None:
            return None
        if self._best is None:
            self._best = (best_trial((t.record for t in self._trials.values()), self.kpi.goal),)
        return self._best[0]

    def progress(self, trial_id: int) -> Progress:
        """How far a trial has come; the total is its own, else :attr:`default_total`."""
        held = self._trials.get(trial_id)
        if held is None:
            return Progress()
        return Progress(held.step, held.total or self.default_total)

    def activity(self, trial_id: int) -> Activity:
        """What the trial's process is doing now."""
        held = self._trials.get(trial_id)
        if held is None or held.record.state.is_finished():
            return Activity.ENDED
        if held.stopping:
            return Activity.STOPPING
        if held.record.state is TrialState.RUNNING:
            return Activity.RUNNING
        return Activity.WAITING

    def is_stopping(self, trial_id: int) -> bool:
        """A stop of the trial was asked for and it has not ended."""
        return self.activity(trial_id) is Activity.STOPPING

    def stopping_ids(self) -> frozenset[int]:
        """The trials stopping now."""
        return frozenset(tid for tid, t in self._trials.items() if t.stopping)

    def shown_state(self, trial_id: int) -> str:
        """The trial's state as every view words it: :data:`STOPPING` while it stops."""
        held = self._trials.get(trial_id)
        if held is None:
            return ""
        return STOPPING if held.stopping else held.record.state.value

