"""Trials as CSV or JSON (one row per trial, every parameter as a dotted column), and
the best trial's parameters as a ready ``params.json``.

The app's File → Export and ``sweeplab export`` write the same file through
:func:`experiment_export`: UTF-8 without a byte-order mark, the KPI column named after
the experiment's KPI (:func:`kpi_column`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from app.engine import best as best_rule
from app.engine.params import flatten, params_document
from app.engine.records import ExperimentRecord, TrialRecord
from app.engine.search.base import Goal


class ExportFormat(str, Enum):
    """The file formats trials are exported to."""

    CSV = "csv"
    JSON = "json"


FIXED_COLUMNS = ["id", "state", "host", "gpus", "started", "ended", "duration_s", "kpi",
                 "commit", "error"]
"""The columns before the parameters; ``kpi`` stands for :func:`kpi_column`'s name."""
KPI_PREFIX = "kpi:"
"""Put before the KPI's name when that name is taken by another column. A parameter's
dotted name is made of identifiers and dots, so it never holds a ``:``."""
PARAM_PREFIX = "param:"
"""Put before a parameter named like a fixed column (a parameter ``host``)."""


def duration(trial: TrialRecord) -> float | None:
    """Seconds from start to end (None until both are known)."""
    if trial.started_at is None or trial.ended_at is None:
        return None
    return (trial.ended_at - trial.started_at).total_seconds()


def kpi_column(kpi_name: str | None, taken: Collection[str]) -> str:
    """The KPI column's name: the KPI's own name (``val_acc``), ``kpi:val_acc`` when a
    fixed column or a parameter has that name, ``kpi`` when the name is unknown (an
    experiment whose stored definition no longer reads)."""
    if not kpi_name:
        return "kpi"
    fixed = set(FIXED_COLUMNS) - {"kpi"}
    return f"{KPI_PREFIX}{kpi_name}" if kpi_name in fixed or kpi_name in taken else kpi_name


def kpi_name_of(definition: Mapping[str, Any]) -> str | None:
    """The KPI's name a stored definition gives, read even when the rest is invalid."""
    kpi = definition.get("kpi")
    name = kpi.get("name") if isinstance(kpi, Mapping) else None
    return name if isinstance(name, str) and name else None


def export_rows(trials: Sequence[TrialRecord],
                kpi_name: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows: the fixed columns (the KPI's named by :func:`kpi_column`), then
    each dotted param in first-seen order (``param:host`` for a param named like a fixed
    column, so no value hides another)."""
    param_columns: list[str] = []
    flats: list[dict[str, Any]] = []
    fixed = set(FIXED_COLUMNS)
    for trial in trials:
        flat = {(PARAM_PREFIX + k if k in fixed else k): v
                for k, v in flatten(trial.params).items()}
        param_columns.extend(k for k in flat if k not in param_columns)
        flats.append(flat)
    kpi = kpi_column(kpi_name, param_columns)
    rows: list[dict[str, Any]] = []
    for trial, flat in zip(trials, flats, strict=True):
        seconds = duration(trial)
        error_lines = (trial.error or "").splitlines()
        rows.append({
            **flat,  # no key in common with the fixed columns (PARAM_PREFIX)
            "id": trial.number, "state": trial.state.value, "host": trial.host or "",
            "gpus": ",".join(map(str, trial.gpus)),
            "started": trial.started_at.isoformat() if trial.started_at else "",
            "ended": trial.ended_at.isoformat() if trial.ended_at else "",
            "duration_s": "" if seconds is None else round(seconds, 3),
            kpi: "" if trial.kpi is None else trial.kpi,
            "commit": trial.commit or "", "error": error_lines[0] if error_lines else "",
        })
    columns = [kpi if column == "kpi" else column for column in FIXED_COLUMNS]
    return columns + param_columns, rows


def export_text(trials: Sequence[TrialRecord], fmt: str, kpi_name: str | None) -> str:
    """The trials as ``csv`` or ``json`` text (see :func:`export_rows`)."""
    columns, rows = export_rows(trials, kpi_name)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def experiment_export(record: ExperimentRecord, trials: Sequence[TrialRecord],
                      fmt: str) -> str:
    """The experiment's trials as ``csv`` or ``json`` text, the KPI column named after
    its KPI: what File → Export and ``sweeplab export`` write."""
    return export_text(trials, fmt, kpi_name_of(record.definition))


def write_experiment_export(record: ExperimentRecord, trials: Sequence[TrialRecord],
                            path: Path, fmt: str) -> None:
    """Write :func:`experiment_export` to ``path`` as UTF-8 without a byte-order mark
    (a BOM shows as stray characters in tools other than spreadsheets, and every
    spreadsheet that matters reads UTF-8 CSV).

    Raises:
        OSError: the file cannot be written.
    """
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(experiment_export(record, trials, fmt))


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
