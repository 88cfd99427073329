"""The Trials tab: a live grid of tiles, a sortable and filterable table, a trial's detail."""

from __future__ import annotations

from app.views.trials.detail import TrialDetail
from app.views.trials.grid import TrialGrid
from app.views.trials.legend import TrialGridView, TrialLegend
from app.views.trials.log_view import LogView, read_log_tail
from app.views.trials.panel import TrialsPanel
from app.views.trials.table import TrialFilterBar, TrialTable
from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel

__all__ = [
    "TRIAL_ID_ROLE",
    "LogView",
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
