"""The K best trials by KPI, aware of the goal (no Qt): what "Top K" filters keep.

Which trials compete, and in which order, is the one rule of :mod:`app.engine.best`
(completed trials with a finite KPI; ties: the lower trial number first).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from app.engine.best import competing_kpi, ranked
from app.engine.records import TrialRecord
from app.engine.search.base import Goal


def ranked_result(record: TrialRecord) -> float | None:
    """The KPI a trial competes with (:func:`app.engine.best.competing_kpi`), else None."""
    return competing_kpi(record)


def top_k_mask(kpis: npt.NDArray[np.float64], eligible: npt.NDArray[np.bool_], goal: Goal,
               k: int) -> npt.NDArray[np.bool_]:
    """Which entries are among the ``k`` best eligible finite KPIs.

    Args:
        kpis: one KPI per trial (NaN where there is none).
        eligible: which trials may compete (e.g. the completed ones).
        goal: whether lower or higher is better.
        k: how many to keep.

    Raises:
        ValueError: when ``k`` is below 1 or the arrays differ in length.
    """
    if k < 1:
        raise ValueError(f"top K needs K >= 1, got {k}")
    if kpis.shape != eligible.shape:
        raise ValueError(f"{len(kpis)} KPIs but {len(eligible)} eligibility flags")
    candidates = np.flatnonzero(eligible & np.isfinite(kpis))
    mask = np.zeros(len(kpis), dtype=bool)
    if len(candidates):
        order = np.argsort(goal.sign * kpis[candidates], kind="stable")
        mask[candidates[order[:k]]] = True
    return mask


def best_trial_ids(records: Iterable[TrialRecord], goal: Goal, k: int) -> list[int]:
    """Ids of the ``k`` best completed trials, best first (fewer when fewer qualify).

    Raises:
        ValueError: when ``k`` is below 1.
    """
    if k < 1:
        raise ValueError(f"top K needs K >= 1, got {k}")
    return [record.id for record in ranked(records, goal)[:k]]
