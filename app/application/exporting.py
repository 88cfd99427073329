"""Trials as CSV or JSON (one row per trial, every parameter as a dotted column), and
the best trial's parameters as a ready ``params.json``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from app.engine import best as best_rule
from app.engine.params import flatten, params_document
from app.engine.records import TrialRecord
from app.engine.search.base import Goal


class ExportFormat(str, Enum):
    """The file formats trials are exported to."""

    CSV = "csv"
    JSON = "json"


FIXED_COLUMNS = ["id", "state", "host", "gpus", "started", "ended", "duration_s", "kpi",
                 "commit", "error"]


def duration(trial: TrialRecord) -> float | None:
    """Seconds from start to end (None until both are known)."""
    if trial.started_at is None or trial.ended_at is None:
        return None
    return (trial.ended_at - trial.started_at).total_seconds()


def export_rows(trials: Sequence[TrialRecord]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows: the fixed columns, then each dotted param in first-seen order."""
    param_columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for trial in trials:
        flat = flatten(trial.params)
        param_columns.extend(k for k in flat if k not in param_columns)
        seconds = duration(trial)
        error_lines = (trial.error or "").splitlines()
        rows.append({
            "id": trial.number, "state": trial.state.value, "host": trial.host or "",
            "gpus": ",".join(map(str, trial.gpus)),
            "started": trial.started_at.isoformat() if trial.started_at else "",
            "ended": trial.ended_at.isoformat() if trial.ended_at else "",
            "duration_s": "" if seconds is None else round(seconds, 3),
            "kpi": "" if trial.kpi is None else trial.kpi,
            "commit": trial.commit or "", "error": error_lines[0] if error_lines else "",
            **flat,
        })
    return FIXED_COLUMNS + param_columns, rows


def export_text(trials: Sequence[TrialRecord], fmt: str) -> str:
    """The trials as ``csv`` or ``json`` text."""
    columns, rows = export_rows(trials)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_export(trials: Sequence[TrialRecord], path: Path, fmt: str) -> None:
    """Write an export file; CSV with a BOM so spreadsheets read non-ASCII text right."""
    path.write_text(export_text(trials, fmt), encoding="utf-8-sig" if fmt == "csv" else "utf-8")


def best_trial(trials: Sequence[TrialRecord], goal: Goal) -> TrialRecord:
    """The best trial by the one rule (:func:`app.engine.best.best_trial`).

    Raises:
        ValueError: no trial completed with a finite KPI yet.
    """
    best = best_rule.best_trial(trials, goal)
    if best is None:
        raise ValueError("no trial has completed with a KPI value yet, so there is no best "
                         "trial to export")
    return best


def best_params_text(trials: Sequence[TrialRecord], goal: Goal) -> tuple[TrialRecord, str]:
    """The best completed trial and its ``params.json`` text, in the form every trial
    receives (``{"nested": ..., "dotted": ...}``), so a script reads it unchanged.

    Raises:
        ValueError: no trial completed with a finite KPI yet.
    """
    trial = best_trial(trials, goal)
    return trial, json.dumps(params_document(trial.params), indent=2) + "\n"


def write_best_params(trials: Sequence[TrialRecord], goal: Goal, path: Path) -> TrialRecord:
    """Write the best completed trial's ``params.json`` to ``path``; returns that trial.

    Raises:
        ValueError: no trial completed with a finite KPI yet.
        OSError: the file cannot be written.
    """
    trial, text = best_params_text(trials, goal)
    path.write_text(text, encoding="utf-8")
    return trial
