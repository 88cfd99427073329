"""Analyses of an experiment's finished trials (no Qt): ranking and parameter importance.

Pure Python over frozen :class:`~app.engine.records.TrialRecord` snapshots, so a
view can run them on a worker thread and the terminal can run them without Qt.
"""

from __future__ import annotations

from app.application.analysis.importance import (
    MIN_TRIALS,
    ImportanceError,
    ImportanceResult,
    NotEnoughTrials,
    ParamImportance,
    ParamKind,
    ParamTable,
    param_table,
    parameter_importance,
)
from app.application.analysis.ranking import best_trial_ids, ranked_result, top_k_mask

__all__ = [
    "MIN_TRIALS",
    "ImportanceError",
    "ImportanceResult",
    "NotEnoughTrials",
    "ParamImportance",
    "ParamKind",
    "ParamTable",
    "best_trial_ids",
    "param_table",
    "parameter_importance",
    "ranked_result",
    "top_k_mask",
]
