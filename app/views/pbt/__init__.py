"""The PBT tab: lineage, the best trial's schedule, the KPI by segment."""

from app.views.pbt.panel import PbtPanel

__all__ = ["PbtPanel"]
