"""Compare 2–5 trials side by side: parameters diffed, metric curves overlaid."""

from __future__ import annotations

from app.views.compare.dialog import CompareDialog, open_compare
from app.views.compare.rows import CompareRow, RowKind, compare_rows, series_from_points

__all__ = ["CompareDialog", "CompareRow", "RowKind", "compare_rows", "open_compare",
           "series_from_points"]
