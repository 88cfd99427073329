"""PBT's lineage and the best trial's schedule, from segments (app.application.lineage)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.application.lineage import (
    Span,
    best_schedule,
    lineage,
    lineage_text,
    mutated_names,
    schedule_of,
    schedule_text,
    segment_points,
)
from app.engine.pbt import Segment
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def Seg(trial: int, index: int, start_step: int, end_step: int | None,
        params: dict[str, Any], donor: int | None = None,
        checkpoint_step: int | None = None) -> Segment:
    """A stored segment; a trial's number is its id's last digit (id 11 is trial 1)."""
    return Segment(trial, trial % 10, index, start_step, end_step, params, donor,
                   None if donor is None else donor % 10, checkpoint_step, NOW)


def _trial(trial_id: int, number: int, kpi: float | None) -> TrialRecord:
    return TrialRecord(id=trial_id, experiment_id=1, number=number,
                       state=TrialState.COMPLETED, params={"lr": 0.0, "units": 8},
                       created_at=NOW, kpi=kpi)


def _population() -> tuple[list[Seg], list[TrialRecord]]:
    """Trial 1 (id 11) trains 0-8 at lr 1.0; trial 2 (id 12) trains 0-4 at lr 0.1, copies
    trial 1 at step 4 (lr 0.8) and trains to 8; trial 1 then copies trial 2 at step 8
    (lr 0.64) and trains to 12; trial 2 goes on to 12 at 0.8."""
    segments = [
        Seg(11, 0, 0, 8, {"lr": 1.0, "units": 8}),
        Seg(12, 0, 0, 4, {"lr": 0.1, "units": 8}),
        Seg(12, 1, 4, 12, {"lr": 0.8, "units": 8}, donor=11, checkpoint_step=4),
        Seg(11, 1, 8, 12, {"lr": 0.64, "units": 8}, donor=12, checkpoint_step=8),
    ]
    return segments, [_trial(11, 1, 0.9), _trial(12, 2, 0.8)]


def test_the_schedule_follows_the_weights_back_through_the_donors() -> None:
    segments, trials = _population()
    schedule = best_schedule(segments, trials, Goal.MAX)
    assert schedule.trial == 1 and schedule.kpi == 0.9 and schedule.mutated == ["lr"]
    assert [(p.start, p.end, p.trial, p.params["lr"]) for p in schedule.pieces] == [
        (0, 4, 1, 1.0), (4, 8, 2, 0.8), (8, 12, 1, 0.64)]
    assert schedule.steps("lr") == ([0, 4, 8], [1.0, 0.8, 0.64])
    assert schedule.end == 12


def test_a_resumed_segment_continues_its_own_history() -> None:
    """A segment that starts from the trial's own checkpoint (a resume) has no donor."""
    segments = [Seg(5, 0, 0, 6, {"lr": 0.5}), Seg(5, 1, 6, 10, {"lr": 0.5})]
    schedule = schedule_of(5, segments, [_trial(5, 1, 0.7)])
    assert [(p.start, p.end) for p in schedule.pieces] == [(0, 6), (6, 10)]
    assert schedule.steps("lr") == ([0], [0.5])


def test_a_cycle_in_damaged_data_ends_the_walk() -> None:
    segments = [Seg(1, 0, 4, 8, {"lr": 1.0}, donor=2, checkpoint_step=4),
                Seg(2, 0, 4, 8, {"lr": 2.0}, donor=1, checkpoint_step=4)]
    schedule = schedule_of(1, segments, [])
    assert schedule.pieces[-1].params == {"lr": 1.0} and len(schedule.pieces) <= 3


def test_no_segment_or_no_best_is_a_clear_error() -> None:
    segments, _ = _population()
    with pytest.raises(ValueError, match="trial 7 has no PBT segment"):
        schedule_of(99, segments, [_trial(99, 7, 0.5)])
    with pytest.raises(ValueError, match="no trial has completed"):
        best_schedule(segments, [_trial(11, 1, None)], Goal.MAX)


def test_the_lineage_lists_segments_and_copies_by_trial_number() -> None:
    segments, trials = _population()
    found = lineage(segments, trials)
    assert found.trials == [1, 2] and found.mutated == ["lr"]
    assert [(c.trial, c.donor, c.step) for c in found.copies] == [(2, 1, 4), (1, 2, 8)]
    assert [(s.trial, s.segment, s.start, s.end, s.donor) for s in found.spans] == [
        (1, 0, 0, 8, None), (1, 1, 8, 12, 2), (2, 0, 0, 4, None), (2, 1, 4, 12, 1)]


def test_mutated_names_are_the_dotted_params_that_changed() -> None:
    segments = [Seg(1, 0, 0, 4, {"opt": {"lr": 1.0, "m": 0.9}, "units": 8}),
                Seg(1, 1, 4, 8, {"opt": {"lr": 0.8, "m": 0.9}, "units": 8})]
    assert mutated_names(segments) == ["opt.lr"]


def test_the_exports_read_back() -> None:
    segments, trials = _population()
    schedule = best_schedule(segments, trials, Goal.MAX)
    rows = list(csv.DictReader(io.StringIO(schedule_text(schedule, "csv"))))
    assert [(r["from_step"], r["to_step"], r["lr"]) for r in rows] == [
        ("0", "4", "1.0"), ("4", "8", "0.8"), ("8", "12", "0.64")]
    document = json.loads(schedule_text(schedule, "json"))
    assert document["params"]["lr"] == [[0, 1.0], [4, 0.8], [8, 0.64]]
    assert document["trial"] == 1 and document["end_step"] == 12
    lines = list(csv.DictReader(io.StringIO(lineage_text(lineage(segments, trials), "csv"))))
    assert [(r["trial"], r["donor"], r["from_step"]) for r in lines] == [
        ("1", "", "0"), ("1", "2", "8"), ("2", "", "0"), ("2", "1", "4")]
    copies = json.loads(lineage_text(lineage(segments, trials), "json"))["copies"]
    assert copies[0] == {"trial": 2, "donor": 1, "step": 4, "segment": 1}
    with pytest.raises(ValueError):
        schedule_text(schedule, "xml")


def test_points_split_by_segment_when_a_trial_goes_back_to_a_donors_step() -> None:
    """Trial trained 1-6, then copied a donor at step 4: steps 5 and 6 were trained
    twice; their first reports belong to the first segment, the later ones to the second."""
    spans = [Span(1, 0, 0, 6, {}, None), Span(1, 1, 4, 8, {}, 2)]
    points = [MetricPoint(1, "acc", 0.1 * s, s, float(s)) for s in range(1, 7)]
    points += [MetricPoint(1, "acc", 0.5 + 0.01 * s, s, 10.0 + s) for s in range(5, 9)]
    first, second = segment_points(points, spans)
    assert [p.step for p in first] == [1, 2, 3, 4, 5, 6]
    assert [p.step for p in second] == [5, 6, 7, 8]
    assert second[0].value == pytest.approx(0.55)


def test_a_segment_after_an_exploit_starts_at_the_donors_value() -> None:
    """Trial 2 copied trial 1 at step 4: its second segment's curve begins with trial
    1's value at step 4 (the join the window marks), then its own points from step 5."""
    from app.application.lineage import segment_curves

    segments, trials = _population()
    found = lineage(segments, trials)
    points = {
        1: [MetricPoint(11, "acc", 0.1 * s, s, float(s)) for s in range(1, 13)],
        2: [MetricPoint(12, "acc", 0.05 * s, s, float(s)) for s in range(1, 13)],
    }
    curves = {(c.trial, c.segment): c for c in segment_curves(found, points)}
    second = curves[2, 1]
    assert second.joined and second.donor == 1
    assert second.steps == [4, *range(5, 13)] and len(second.values) == len(second.steps)
    assert second.values[0] == pytest.approx(0.4)  # trial 1's value at step 4
    assert not curves[2, 0].joined and curves[2, 0].steps == [1, 2, 3, 4]
    assert curves[1, 1].steps[0] == 8 and curves[1, 1].values[0] == pytest.approx(0.4)
