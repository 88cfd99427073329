"""The experiments on the left: name, state, best KPI and trial counts.

An experiment whose stored definition no longer validates is still listed, marked
broken with the reason, so that it can be seen, exported or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.application.definitions import BrokenExperiment
from app.application.live import LiveExperiment
from app.engine.best import TrialCounts, TrialTally, best_trial, count_trials
from app.engine.experiment import ExperimentConfig
from app.engine.records import ExperimentRecord, TrialRecord

Index = QModelIndex | QPersistentModelIndex
ID_ROLE = Qt.ItemDataRole.UserRole + 1
_BROKEN_COLOUR = QColor(180, 30, 30)
_REASON_CHARS = 70


@dataclass
class ExperimentRow:
    """What the list shows of one experiment."""

    record: ExperimentRecord
    kpi_name: str
    goal_sign: int
    counts: TrialCounts
    best: float | None
    problem: str | None = None
    """Why the stored definition is unusable (``definition invalid: ...``); None if fine."""

    @property
    def text(self) -> str:
        if self.problem is not None:
            reason = self.problem if len(self.problem) <= _REASON_CHARS else (
                self.problem[:_REASON_CHARS - 1] + "…")
            return f"{self.record.name}\nbroken · {reason}"
        running, done, failed = self.counts.running, self.counts.done, self.counts.failed
        best = "—" if self.best is None else f"{self.best:.4g}"
        parts = [f"{done} done"]
        if running:
            parts.append(f"{running} running")
        if failed:
            parts.append(f"{failed} failed")
        return (f"{self.record.name}\n{self.record.state.value} · {', '.join(parts)} · "
                f"best {self.kpi_name} {best}")


def summarise(record: ExperimentRecord, config: ExperimentConfig,
              trials: list[TrialRecord]) -> ExperimentRow:
    """Counts per state and the best trial's KPI, by the one rule (:mod:`app.engine.best`)."""
    best = best_trial(trials, config.kpi.goal)
    return ExperimentRow(record, config.kpi.name, config.kpi.goal.sign, count_trials(trials),
                         None if best is None else best.kpi)


def summarise_live(model: LiveExperiment, kpi_name: str) -> ExperimentRow:
    """The row of the shown experiment from its live model (the status bar's numbers)."""
    best = model.best()
    sign = model.kpi.goal.sign if model.kpi is not None else 1
    return ExperimentRow(model.record, kpi_name, sign, model.counts(),
                         None if best is None else best.kpi)


def summarise_any(record: ExperimentRecord, config: ExperimentConfig | BrokenExperiment,
                  trials: list[TrialRecord]) -> ExperimentRow:
    """:func:`summarise`, or for a broken definition a row that says why (no best KPI:
    without a valid definition there is no goal to rank by)."""
    if not isinstance(config, BrokenExperiment):
        return summarise(record, config, trials)
    return ExperimentRow(record, "", 1, count_trials(trials), None, problem=config.reason)


def summarise_tally(record: ExperimentRecord, config: ExperimentConfig | BrokenExperiment,
                    tally: TrialTally) -> ExperimentRow:
    """:func:`summarise_any` from the store's aggregate of the trials (no trial read)."""
    if isinstance(config, BrokenExperiment):
        return ExperimentRow(record, "", 1, tally.counts, None, problem=config.reason)
    return ExperimentRow(record, config.kpi.name, config.kpi.goal.sign, tally.counts,
                         tally.best_kpi(config.kpi.goal))


class ExperimentListModel(QAbstractListModel):
    """Rows of :class:`ExperimentRow`; the id is under ``ID_ROLE``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ExperimentRow] = []

    def set_rows(self, rows: list[ExperimentRow]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def update_row(self, row: ExperimentRow) -> None:
        """Replace the row of the same experiment (or append it)."""
        for i, existing in enumerate(self._rows):
            if existing.record.id == row.record.id:
                self._rows[i] = row
                index = self.index(i)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])
                return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()

    def row_of(self, experiment_id: int) -> int | None:
        """The row showing that experiment."""
        return next((i for i, r in enumerate(self._rows) if r.record.id == experiment_id), None)

    def experiment_row(self, row: int) -> ExperimentRow:
        """The data behind a row."""
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        if role == ID_ROLE:
            return row.record.id
        if role == Qt.ItemDataRole.ToolTipRole:
            created = (f"{row.record.name} (id {row.record.id}), created "
                       f"{row.record.created_at:%Y-%m-%d %H:%M}")
            return created if row.problem is None else f"{created}\nbroken: {row.problem}"
        if role == Qt.ItemDataRole.ForegroundRole and row.problem is not None:
            return _BROKEN_COLOUR
        return None
