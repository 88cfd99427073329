"""Point arrays for the PBT charts (numpy only): every pair handed to pyqtgraph is of
equal length, built here in one place (mismatched x and y arrays crashed a chart once)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.application.lineage import Lineage, Schedule


def staircase(starts: Sequence[float], values: Sequence[float],
              end: float) -> tuple[np.ndarray, np.ndarray]:
    """A step function's outline: each value from its start to the next start (the
    last to ``end``), as x and y arrays of equal length (two points per step)."""
    if len(starts) != len(values):
        raise ValueError(f"{len(starts)} starts for {len(values)} values")
    if not len(starts):
        return np.zeros(0), np.zeros(0)
    stops = [*starts[1:], max(end, starts[-1])]
    xs = np.column_stack([np.asarray(starts, float), np.asarray(stops, float)]).ravel()
    ys = np.repeat(np.asarray(values, float), 2)
    return xs, ys


def schedule_lines(schedule: Schedule, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The staircase of parameter ``name`` over the schedule's steps."""
    starts, values = schedule.steps(name)
    numbers = [float(v) if isinstance(v, int | float) else np.nan for v in values]
    return staircase(starts, numbers, schedule.end)


def last_step(found: Lineage) -> int:
    """The furthest step any segment reached (an unfinished segment: its start)."""
    return max((s.end if s.end is not None else s.start for s in found.spans), default=0)


def copy_edges(found: Lineage) -> tuple[np.ndarray, np.ndarray]:
    """Each copy as a vertical pair of points, donor's row to the copier's row (for
    ``connect="pairs"``): x and y of equal length, two points per copy."""
    xs = np.repeat(np.asarray([c.step for c in found.copies], float), 2)
    ys = np.asarray([row for c in found.copies for row in (c.donor, c.trial)], float)
    return xs, ys


def log_scaled(values: Sequence[float]) -> bool:
    """True when positive values span more than a factor of 10: drawn on a log axis."""
    finite = [v for v in values if np.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10
