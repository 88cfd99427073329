"""Parameter importance for the KPI (a tab of the Charts panel), computed off the GUI thread."""

from __future__ import annotations

from app.views.importance.chart import ImportanceChart, importance_note
from app.views.importance.worker import ImportanceWorker

__all__ = ["ImportanceChart", "ImportanceWorker", "importance_note"]
