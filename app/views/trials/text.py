"""How the Trials tab writes a trial's facts as text (no Qt: shared by grid, table and detail).

Every function here is pure, so the same words appear in a tile's tooltip, a table
cell and the detail dialog, and tests can check them without a window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.application.live import STOPPING, progress_fraction
from app.engine.best import budget_cut
from app.engine.failing import first_line
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.trial import TrialState

MISSING = "—"


@dataclass(frozen=True)
class LiveFacts:
    """What is known about a trial beyond its record: progress and KPI values so far.

    Attributes:
        step: the last step reported (None: none yet).
        total: the number of steps the trial will run, when known.
        current_kpi: the KPI's last reported value.
        best_kpi: the best KPI value reported so far.
    """

    step: int | None = None
    total: int | None = None
    current_kpi: float | None = None
    best_kpi: float | None = None

    @property
    def fraction(self) -> float | None:
        """Progress in [0, 1] when step and total are known, else None."""
        return progress_fraction(self.step, self.total)


def format_value(value: Any) -> str:
    """A parameter or metric value, short: floats to 6 significant digits."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def duration_seconds(record: TrialRecord, now: datetime | None = None) -> float | None:
    """Seconds the trial ran (until now while it runs); None before it started."""
    if record.started_at is None:
        return None
    end = record.ended_at or now or datetime.now(UTC)
    return max((_aware(end) - _aware(record.started_at)).total_seconds(), 0.0)


def format_duration(seconds: float | None) -> str:
    """``42.0 s``, ``3 min 05 s``, ``2 h 07 min``; a dash for None."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {(whole % 3600) // 60:02d} min"


def format_time(moment: datetime | None) -> str:
    """A local wall-clock time ``2024-05-06 11:00:03``; a dash for None."""
    if moment is None:
        return MISSING
    return f"{_aware(moment).astimezone():%Y-%m-%d %H:%M:%S}"


def format_clock(moment: datetime) -> str:
    """A local wall-clock time of day ``11:00:03`` (a naive time is taken as UTC)."""
    return f"{_aware(moment).astimezone():%H:%M:%S}"


def format_gpus(gpus: tuple[int, ...]) -> str:
    """``0,1``; a dash when the trial has none."""
    return ",".join(str(g) for g in gpus) if gpus else MISSING


def format_progress(facts: LiveFacts) -> str:
    """``step 37 of 100 (37%)``, ``step 37`` without a total, a dash before any step."""
    if facts.step is None:
        return MISSING
    fraction = facts.fraction
    if fraction is None:
        return f"step {facts.step}"
    return f"step {facts.step} of {facts.total} ({fraction:.0%})"


def state_label(record: TrialRecord) -> str:
    """A trial's state as the table and tooltips show it: ``stopped (time budget)`` for a
    trial the experiment's time budget cut (:func:`app.engine.best.budget_cut`)."""
    return record.state.value + (" (time budget)" if budget_cut(record) else "")


def note_line(record: TrialRecord) -> str:
    """``error: <cause>`` for a failed trial, ``note: <why>`` for another with a message
    (stopped, waiting): the message's first line, which names the cause."""
    label = "error" if record.state is TrialState.FAILED else "note"
    return f"{label}: {first_line(record.error)}"


def tooltip_text(record: TrialRecord, kpi_name: str, facts: LiveFacts,
                 now: datetime | None = None, *, stopping: bool = False) -> str:
    """Everything hovering a trial shows, one fact a line, then every dotted parameter.

    Args:
        record: the trial.
        kpi_name: the experiment's KPI name, used as the label of the KPI lines.
        facts: live progress and KPI values (a default :class:`LiveFacts` when unknown).
        now: the time a running trial's duration is measured to (default: now).
        stopping: a stop was asked for and the trial has not ended (shown as its state).
    """
    current = facts.current_kpi if facts.current_kpi is not None else record.kpi
    lines = [
        f"Trial {record.number} — {STOPPING if stopping else state_label(record)}",
        f"progress: {format_progress(facts)}",
        f"host: {record.host or MISSING}   GPU: {format_gpus(record.gpus)}",
        f"started: {format_time(record.started_at)}",
        f"duration: {format_duration(duration_seconds(record, now))}",
        f"{kpi_name}: {format_value(current)}   best: {format_value(facts.best_kpi)}",
    ]
    flat = flatten(record.params)
    if flat:
        lines.append("")
        lines.extend(f"{name} = {format_value(value)}" for name, value in flat.items())
    if record.error:
        lines += ["", note_line(record)]
    return "\n".join(lines)


def params_json(params: Mapping[str, Any]) -> str:
    """The nested params as pretty JSON (what the detail shows and the user copies)."""
    return json.dumps(params, indent=2, sort_keys=False, default=str)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes from the store are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
