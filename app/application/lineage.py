"""What population-based training did, read from its stored segments: the lineage
(which trial copied which, at which step) and the best final trial's schedule (each
mutated parameter as a step function over training steps), as CSV or JSON.

A PBT trial trains in segments: its first from step 0 with its suggested parameters,
then, at each exploit, a new one that starts from a donor's checkpoint (the donor's
step) with the donor's parameters perturbed. The store keeps every segment
(:class:`app.engine.pbt.Segment`: trial, index, start and end step, params, donor,
checkpoint step).

The **schedule** of a trial is the history of the weights it ended with, not only its
own segments: before its last copy its weights were the donor's, so the schedule walks
back through the donors (:func:`schedule_of`). That is what a plain training run must
replay to reproduce the trial: step ranges, each with the parameters in force.

Everything here is pure: the workspace reads the segments, trials and metrics and
calls these functions; the window and ``sweeplab export --schedule | --lineage`` show or
write what they return.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.engine import best as best_rule
from app.engine.params import flatten
from app.engine.pbt import Segment
from app.engine.records import MetricPoint, TrialRecord
from app.engine.schedulers import SchedulerName
from app.engine.search.base import Goal

if TYPE_CHECKING:
    from app.application.workspace import Workspace
    from app.engine.experiment import ExperimentConfig

_NO_LIMIT = 2**62
"""An index above every segment's: a donor's whole history counts."""


class LineageFormat(str, Enum):
    """The file formats a lineage or a schedule is exported to."""

    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class Copy:
    """One exploit: ``trial`` took ``donor``'s checkpoint at ``step`` (its segment
    ``segment`` starts there), with parameters ``params`` (dotted, after explore)."""

    trial: int  # trial number, as the window shows it
    donor: int
    step: int
    segment: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Span:
    """One segment of one trial on the lineage view: steps ``start`` to ``end``."""

    trial: int  # trial number
    segment: int
    start: int
    end: int | None
    params: dict[str, Any]  # dotted
    donor: int | None  # trial number


@dataclass(frozen=True)
class Lineage:
    """The population over time: every trial's segments and every copy between them."""

    spans: list[Span]
    copies: list[Copy]
    mutated: list[str]  # the dotted parameters that changed between segments

    @property
    def trials(self) -> list[int]:
        """The trial numbers, in order."""
        return sorted({span.trial for span in self.spans})


@dataclass(frozen=True)
class Piece:
    """One step range of a schedule: steps ``start + 1`` to ``end`` trained with
    ``params``, in trial ``trial``'s segment ``segment``."""

    start: int
    end: int
    trial: int
    segment: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Schedule:
    """The parameters in force over the training of one trial's final weights."""

    trial: int  # trial number
    kpi: float | None
    pieces: list[Piece]
    mutated: list[str]

    def steps(self, name: str) -> tuple[list[int], list[Any]]:
        """``name``'s value as a step function: the steps it changes at (the first 0)
        and the value from each of them on (lists of equal length)."""
        starts: list[int] = []
        values: list[Any] = []
        for piece in self.pieces:
            value = piece.params.get(name)
            if not values or value != values[-1]:
                starts.append(piece.start)
                values.append(value)
        return starts, values

    @property
    def end(self) -> int:
        """The last trained step."""
        return self.pieces[-1].end if self.pieces else 0


@dataclass
class _Index:
    """Segments by trial id, in index order, and trial numbers by id."""

    by_trial: dict[int, list[Segment]] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)

    def number(self, trial_id: int) -> int:
        return self.numbers.get(trial_id, trial_id)


def _index(segments: Iterable[Segment], trials: Iterable[TrialRecord]) -> _Index:
    grouped: dict[int, list[Segment]] = defaultdict(list)
    for segment in segments:
        grouped[segment.trial_id].append(segment)
    for group in grouped.values():
        group.sort(key=lambda s: s.index)
    numbers = {t.id: t.number for t in trials}
    numbers.update((s.trial_id, s.number) for group in grouped.values() for s in group)
    return _Index(dict(grouped), numbers)


def mutated_names(segments: Iterable[Segment]) -> list[str]:
    """The dotted parameters whose value differs between any two segments, sorted."""
    seen: dict[str, Any] = {}
    changed: set[str] = set()
    for segment in segments:
        for name, value in flatten(dict(segment.params)).items():
            if name in seen and seen[name] != value:
                changed.add(name)
            seen.setdefault(name, value)
    return sorted(changed)


def lineage(segments: Sequence[Segment], trials: Sequence[TrialRecord]) -> Lineage:
    """Every trial's segments and every exploit (a segment with a donor)."""
    index = _index(segments, trials)
    spans: list[Span] = []
    copies: list[Copy] = []
    for trial_id in sorted(index.by_trial, key=index.number):
        for segment in index.by_trial[trial_id]:
            params = flatten(dict(segment.params))
            donor = None if segment.donor_trial_id is None else index.number(segment.donor_trial_id)
            spans.append(Span(index.number(trial_id), segment.index, segment.start_step,
                              segment.end_step, params, donor))
            if donor is not None:
                step = (segment.checkpoint_step if segment.checkpoint_step is not None
                        else segment.start_step)
                copies.append(Copy(index.number(trial_id), donor, step, segment.index,
                                   params))
    copies.sort(key=lambda c: (c.step, c.trial, c.segment))
    return Lineage(spans, copies, mutated_names(segments))


def schedule_of(trial_id: int, segments: Sequence[Segment], trials: Sequence[TrialRecord],
                mutated: Sequence[str] | None = None) -> Schedule:
    """The parameters that trained trial ``trial_id``'s final weights, step by step.

    From its last segment back: a segment that starts at step 0 ends the walk; one that
    starts from a donor's checkpoint at step s continues with the donor's history up to
    s (the donor's segment that covered s with the highest index); one that starts from
    the trial's own checkpoint (a resume) continues with its own earlier segments.

    Args:
        trial_id: The trial (its id).
        segments: Every segment of the experiment.
        trials: The experiment's trials (for numbers and the KPI).
        mutated: The parameters to show; by default those that changed
            (:func:`mutated_names`).

    Raises:
        ValueError: the trial has no segment.
    """
    index = _index(segments, trials)
    own = index.by_trial.get(trial_id)
    if not own:
        raise ValueError(f"trial {index.number(trial_id)} has no PBT segment (was the "
                         f"experiment run with scheduler: pbt?)")
    last = own[-1]
    end = last.end_step if last.end_step is not None else last.start_step
    pieces = _history(index, trial_id, end, last.index + 1, budget=len(segments) + 1)
    record = next((t for t in trials if t.id == trial_id), None)
    names = list(mutated) if mutated is not None else mutated_names(segments)
    return Schedule(index.number(trial_id), None if record is None else record.kpi,
                    pieces, names)


def _history(index: _Index, trial_id: int, upto: int, below: int, budget: int) -> list[Piece]:
    """The pieces that led trial ``trial_id``'s weights to step ``upto``, looking only at
    its segments with an index below ``below``; ``budget`` bounds the walk (a cycle in
    damaged data ends it instead of looping)."""
    if budget <= 0 or upto <= 0:
        return []
    candidates = [s for s in index.by_trial.get(trial_id, []) if s.index < below
                  and s.start_step < upto
                  and (s.end_step is None or s.end_step >= upto)]
    if not candidates:
        candidates = [s for s in index.by_trial.get(trial_id, []) if s.index < below
                      and s.start_step < upto]
    if not candidates:
        return []
    segment = candidates[-1]
    piece = Piece(segment.start_step, upto, index.number(trial_id), segment.index,
                  flatten(dict(segment.params)))
    start = segment.start_step
    if start <= 0:
        before: list[Piece] = []
    elif segment.donor_trial_id is not None and segment.donor_trial_id != trial_id:
        before = _history(index, segment.donor_trial_id, start, _NO_LIMIT, budget - 1)
    else:
        before = _history(index, trial_id, start, segment.index, budget - 1)
    return [*before, piece]


def best_schedule(segments: Sequence[Segment], trials: Sequence[TrialRecord], goal: Goal,
                  mutated: Sequence[str] | None = None) -> Schedule:
    """The schedule of the best trial (the one rule, :func:`app.engine.best.best_trial`).

    Raises:
        ValueError: no trial has completed with a KPI, or the best has no segment.
    """
    best = best_rule.best_trial(trials, goal)
    if best is None:
        raise ValueError("no trial has completed with a KPI value yet, so there is no best "
                         "trial's schedule")
    return schedule_of(best.id, segments, trials, mutated)


def segment_points(points: Sequence[MetricPoint],
                   spans: Sequence[Span]) -> list[list[MetricPoint]]:
    """One trial's points of one metric split by its segments (``spans``, in index order):
    a point at step k belongs to a segment that trains k; when k was trained twice (the
    trial went back to a donor's earlier step), its n-th report in time belongs to the
    n-th such segment. Points without a step, or past every segment, are left out."""
    ordered = sorted((p for p in points if p.step is not None), key=lambda p: p.time)
    parts: list[list[MetricPoint]] = [[] for _ in spans]
    taken: dict[int, int] = defaultdict(int)
    for point in ordered:
        step = point.step if point.step is not None else 0
        covering = [i for i, span in enumerate(spans)
                    if span.start < step and (span.end is None or step <= span.end)]
        if not covering:
            continue
        nth = min(taken[step], len(covering) - 1)
        taken[step] += 1
        parts[covering[nth]].append(point)
    for part in parts:
        part.sort(key=lambda p: (p.step or 0, p.time))
    return parts


def schedule_rows(schedule: Schedule) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the schedule's CSV: one row per step range, the mutated
    parameters as columns."""
    columns = ["from_step", "to_step", "trial", "segment", *schedule.mutated]
    rows = [{"from_step": p.start, "to_step": p.end, "trial": p.trial, "segment": p.segment,
             **{name: p.params.get(name, "") for name in schedule.mutated}}
            for p in schedule.pieces]
    return columns, rows


def schedule_text(schedule: Schedule, fmt: LineageFormat | str) -> str:
    """The schedule as CSV (:func:`schedule_rows`) or JSON: the trial, its KPI, each
    mutated parameter as ``[[from_step, value], ...]`` and the step ranges."""
    fmt = LineageFormat(fmt)
    if fmt is LineageFormat.JSON:
        document = {
            "trial": schedule.trial, "kpi": schedule.kpi, "end_step": schedule.end,
            "params": {name: [list(pair) for pair in zip(*schedule.steps(name), strict=True)]
                       for name in schedule.mutated},
            "ranges": [{"from_step": p.start, "to_step": p.end, "trial": p.trial,
                        "segment": p.segment, "params": p.params} for p in schedule.pieces],
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    return _csv(*schedule_rows(schedule))


def lineage_text(found: Lineage, fmt: LineageFormat | str) -> str:
    """The lineage as CSV (one row per segment: trial, segment, steps, donor, the mutated
    parameters) or JSON (the segments and the copies)."""
    fmt = LineageFormat(fmt)
    if fmt is LineageFormat.JSON:
        document = {
            "mutated": found.mutated,
            "segments": [{"trial": s.trial, "segment": s.segment, "from_step": s.start,
                          "to_step": s.end, "donor": s.donor, "params": s.params}
                         for s in found.spans],
            "copies": [{"trial": c.trial, "donor": c.donor, "step": c.step,
                        "segment": c.segment} for c in found.copies],
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    columns = ["trial", "segment", "from_step", "to_step", "donor", *found.mutated]
    rows = [{"trial": s.trial, "segment": s.segment, "from_step": s.start,
             "to_step": "" if s.end is None else s.end,
             "donor": "" if s.donor is None else s.donor,
             **{name: s.params.get(name, "") for name in found.mutated}}
            for s in found.spans]
    return _csv(columns, rows)


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass(frozen=True)
class SegmentCurve:
    """One segment of a trial's KPI curve, ready to draw: ``steps`` and ``values`` of
    equal length; after an exploit it begins with the donor's value at the step copied
    (``joined``), where the window puts a marker."""

    trial: int  # trial number
    segment: int
    steps: list[int]
    values: list[float]
    joined: bool
    donor: int | None


@dataclass(frozen=True)
class PbtPicture:
    """What the window's PBT tab shows of one experiment."""

    lineage: Lineage
    schedule: Schedule | None
    why_no_schedule: str  # when ``schedule`` is None
    curves: list[SegmentCurve]
    kpi_name: str


def segment_curves(found: Lineage, points: Mapping[int, Sequence[MetricPoint]]
                   ) -> list[SegmentCurve]:
    """Every trial's KPI curve split by segment (:func:`segment_points`), a segment that
    starts from a donor joined to the donor's value at the copied step.

    Args:
        found: The experiment's lineage.
        points: The KPI's points by trial number.
    """
    spans_of: dict[int, list[Span]] = defaultdict(list)
    for span in found.spans:
        spans_of[span.trial].append(span)
    parts = {trial: segment_points(points.get(trial, []), spans)
             for trial, spans in spans_of.items()}
    curves: list[SegmentCurve] = []
    for trial, spans in spans_of.items():
        for span, part in zip(spans, parts[trial], strict=True):
            steps = [p.step or 0 for p in part]
            values = [p.value for p in part]
            joined = False
            if span.donor is not None and span.donor in parts:
                value = _value_at(spans_of[span.donor], parts[span.donor], span.start)
                if value is not None:
                    steps, values, joined = [span.start, *steps], [value, *values], True
            curves.append(SegmentCurve(trial, span.segment, steps, values, joined, span.donor))
    return curves


def _value_at(spans: Sequence[Span], parts: Sequence[Sequence[MetricPoint]],
              step: int) -> float | None:
    """The value a trial reported at ``step`` in its last segment that trained it."""
    for span, part in reversed(list(zip(spans, parts, strict=True))):
        if span.start < step and (span.end is None or step <= span.end):
            for point in reversed(part):
                if point.step == step:
                    return point.value
    return None


class PictureSource(Protocol):
    """What :func:`read_picture` reads (the store)."""

    def segments(self, experiment_id: int) -> Sequence[Segment]: ...
    def list_trials(self, experiment_id: int) -> list[TrialRecord]: ...
    def get_metrics(self, trial_id: int, name: str | None = None) -> list[MetricPoint]: ...


def read_picture(source: PictureSource, experiment_id: int, kpi_name: str,
                 goal: Goal, mutated: Sequence[str] | None = None) -> PbtPicture:
    """The lineage, the best trial's schedule and the KPI curves by segment of one
    experiment, read from ``source`` (any thread: the window calls it off the GUI
    thread); ``mutated`` names the schedule's parameters (default: those that changed)."""
    segments = list(source.segments(experiment_id))
    trials = source.list_trials(experiment_id)
    found = lineage(segments, trials)
    schedule: Schedule | None = None
    why = ""
    try:
        schedule = best_schedule(segments, trials, goal, mutated)
    except ValueError as error:
        why = str(error)
    points = {t.number: source.get_metrics(t.id, kpi_name) for t in trials
              if t.number in set(found.trials)}
    return PbtPicture(found, schedule, why, segment_curves(found, points), kpi_name)


def format_for(path: Path) -> LineageFormat:
    """JSON for a ``.json`` file, else CSV."""
    return LineageFormat.JSON if path.suffix.lower() == ".json" else LineageFormat.CSV


def write_schedule(schedule: Schedule, path: Path) -> None:
    """Write :func:`schedule_text` to ``path`` (UTF-8), JSON or CSV by its suffix.

    Raises:
        OSError: the file cannot be written.
    """
    path.write_text(schedule_text(schedule, format_for(path)), encoding="utf-8")


def write_lineage(found: Lineage, path: Path) -> None:
    """Write :func:`lineage_text` to ``path`` (UTF-8), JSON or CSV by its suffix.

    Raises:
        OSError: the file cannot be written.
    """
    path.write_text(lineage_text(found, format_for(path)), encoding="utf-8")


def is_pbt(config: ExperimentConfig) -> bool:
    """True when the experiment trains by population-based training."""
    return config.scheduler.name is SchedulerName.PBT


def mutated_of(config: ExperimentConfig) -> list[str] | None:
    """The parameters the experiment's PBT settings mutate (None: not set)."""
    names = sorted(config.scheduler.pbt.mutation_map)
    return names or None


def experiment_picture(workspace: Workspace, experiment_id: int) -> PbtPicture:
    """:func:`read_picture` of a stored experiment, for its KPI (any thread)."""
    config = workspace.config(experiment_id)
    return read_picture(workspace.store, experiment_id, config.kpi.name, config.kpi.goal,
                        mutated_of(config))


class PbtExport(str, Enum):
    """What ``sweeplab export --schedule | --lineage`` writes."""

    SCHEDULE = "schedule"
    LINEAGE = "lineage"


def pbt_export_text(workspace: Workspace, experiment_id: int, what: PbtExport,
                    fmt: LineageFormat | str) -> str:
    """The best trial's schedule or the lineage of a stored experiment, as CSV or JSON.

    Raises:
        ValueError: the experiment has no PBT segment, no trial completed with a KPI,
            or its stored definition is invalid.
    """
    record = workspace.experiment(experiment_id)
    config = workspace.config(experiment_id)
    segments = workspace.segments(experiment_id)
    if not segments:
        raise ValueError(f"experiment {record.name!r} has no PBT segment: its "
                         f"{what.value} exists only for a run with scheduler: pbt")
    trials = workspace.trials(experiment_id)
    if what is PbtExport.SCHEDULE:
        return schedule_text(best_schedule(segments, trials, config.kpi.goal,
                                           mutated_of(config)), fmt)
    return lineage_text(lineage(segments, trials), fmt)
