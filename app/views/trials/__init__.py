"""The Trials tab: a live grid of tiles, a sortable and filterable table, a trial's detail."""

from __future__ import annotations

from app.views.trials.columns import ColumnChoices
from app.views.trials.detail import TrialDetail
from app.views.trials.grid import TrialGrid
from app.views.trials.legend import TrialGridView, TrialLegend
from app.views.trials.log_view import LogView, read_log_tail
from app.views.trials.panel import TrialsPanel
from app.views.trials.table import COMPARE_MAX, COMPARE_MIN, TrialFilterBar, TrialTable
from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel
from app.views.trials.topk import TOP_K_CHOICES, TopKBox

__all__ = [
    "COMPARE_MAX",
    "COMPARE_MIN",
    "TOP_K_CHOICES",
    "TRIAL_ID_ROLE",
    "ColumnChoices",
    "LogView",
    "TopKBox",
    "TrialDetail",
    "TrialFilterBar",
    "TrialGrid",
    "TrialGridView",
    "TrialLegend",
    "TrialTable",
    "TrialTableModel",
    "TrialsPanel",
    "read_log_tail",
]
