"""The Trials tab: a live grid of tiles, a sortable and filterable table, a trial's detail.

The names below are imported from their modules when first asked for (a module
``__getattr__``, PEP 562): importing one light module of this package (the Log tab's
view, the column choices) does not load numpy and pyqtgraph with the table and the
detail's curves, which the window builds after its first paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.engine.lazy import lazy_names

if TYPE_CHECKING:
    from app.views.trials.columns import ColumnChoices
    from app.views.trials.detail import TrialDetail
    from app.views.trials.grid import TrialGrid
    from app.views.trials.legend import TrialGridView, TrialLegend
    from app.views.trials.log_view import LogView, read_log_tail
    from app.views.trials.panel import TrialsPanel
    from app.views.trials.table import COMPARE_MAX, COMPARE_MIN, TrialFilterBar, TrialTable
    from app.views.trials.table_model import TRIAL_ID_ROLE, TrialTableModel
    from app.views.trials.topk import TOP_K_CHOICES, TopKBox

_MODULES = {
    "ColumnChoices": "columns", "TrialDetail": "detail", "TrialGrid": "grid",
    "TrialGridView": "legend", "TrialLegend": "legend", "LogView": "log_view",
    "read_log_tail": "log_view", "TrialsPanel": "panel", "COMPARE_MAX": "table",
    "COMPARE_MIN": "table", "TrialFilterBar": "table", "TrialTable": "table",
    "TRIAL_ID_ROLE": "table_model", "TrialTableModel": "table_model",
    "TOP_K_CHOICES": "topk", "TopKBox": "topk",
}
"""Each name this package hands on, and the module of this package that defines it."""

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


__getattr__ = lazy_names(globals(), __name__, _MODULES)
