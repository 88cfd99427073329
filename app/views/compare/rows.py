"""What the compare dialog's table says, without Qt: one row per fact, one cell per trial.

Summary rows (state, KPI, duration, start and end, host, GPUs) come first, then
one row per dotted parameter any of the trials has; a parameter row *differs*
when the trials do not all have the same value (a missing parameter, a branch
not taken, differs from any value).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from app.engine.best import best_trial
from app.engine.params import flatten
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.views.trials.text import (
    MISSING,
    duration_seconds,
    format_duration,
    format_gpus,
    format_time,
    format_value,
)

Series = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
"""Steps and values of one metric of one trial."""
TrialSeries = Mapping[int, Mapping[str, Series]]
"""trial id -> metric name -> series."""
_ABSENT = object()


class RowKind(str, Enum):
    """Which part of the table a row belongs to."""

    SUMMARY = "summary"
    PARAM = "param"


@dataclass(frozen=True)
class CompareRow:
    """One line of the comparison.

    Attributes:
        label: what the row shows (``state``, the KPI's name, a dotted parameter).
        cells: the text per trial, in the trials' order.
        kind: summary or parameter.
        differs: for a parameter, whether the trials' values are not all the same.
        best: the index of the best cell (the KPI row only), or None.
    """

    label: str
    cells: tuple[str, ...]
    kind: RowKind
    differs: bool = False
    best: int | None = None


def compare_rows(records: Sequence[TrialRecord], kpi_name: str = "KPI",
                 goal: Goal = Goal.MIN) -> list[CompareRow]:
    """The summary rows, then one row per dotted parameter in first-seen order."""
    summary = summary_facts(kpi_name)
    rows = [CompareRow(label, tuple(fact(r) for r in records), RowKind.SUMMARY)
            for label, fact in summary]
    kpi_row = next(i for i, (label, _) in enumerate(summary) if label == kpi_name)
    rows[kpi_row] = CompareRow(kpi_name, rows[kpi_row].cells, RowKind.SUMMARY,
                               best=best_index(records, goal))
    flats = [flatten(r.params) for r in records]
    names: dict[str, None] = {}
    for flat in flats:
        names.update(dict.fromkeys(flat))
    for name in names:
        values = [flat.get(name, _ABSENT) for flat in flats]
        cells = tuple(MISSING if v is _ABSENT else format_value(v) for v in values)
        differs = any(not _same(values[0], v) for v in values[1:])
        rows.append(CompareRow(name, cells, RowKind.PARAM, differs))
    return rows


def summary_facts(kpi_name: str) -> list[tuple[str, Callable[[TrialRecord], str]]]:
    """(label, record -> text) for each summary row."""
    return [
        ("state", lambda r: r.state.value),
        (kpi_name, lambda r: format_value(r.kpi)),
        ("duration", lambda r: format_duration(duration_seconds(r))),
        ("started", lambda r: format_time(r.started_at)),
        ("ended", lambda r: format_time(r.ended_at)),
        ("host", lambda r: r.host or MISSING),
        ("GPUs", lambda r: format_gpus(r.gpus)),
    ]


def best_index(records: Sequence[TrialRecord], goal: Goal) -> int | None:
    """The index of the best of ``records`` by the one rule
    (:func:`app.engine.best.best_trial`: a pruned or stopped trial's KPI does not
    compete), or None."""
    best = best_trial(records, goal)
    return None if best is None else next(i for i, r in enumerate(records) if r is best)


def series_from_points(points: Iterable[MetricPoint]) -> dict[int, dict[str, Series]]:
    """Metric points grouped by trial and name, sorted by step (a point without a step
    takes its index in its series)."""
    grouped: dict[int, dict[str, list[tuple[float, float]]]] = {}
    for point in points:
        series = grouped.setdefault(point.trial_id, {}).setdefault(point.name, [])
        step = float(point.step) if point.step is not None else float(len(series))
        series.append((step, point.value))
    out: dict[int, dict[str, Series]] = {}
    for trial_id, by_name in grouped.items():
        out[trial_id] = {}
        for name, pairs in by_name.items():
            pairs.sort(key=lambda pair: pair[0])
            out[trial_id][name] = (np.array([p[0] for p in pairs], dtype=np.float64),
                                   np.array([p[1] for p in pairs], dtype=np.float64))
    return out


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
