"""Growing numpy buffers of metric points, per trial and metric name (no Qt).

Charts read a trial's steps and values as two numpy views and redraw only what
changed since they last looked, which they learn from version counters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from app.engine.records import MetricPoint

INITIAL_CAPACITY = 16
CHANGE_LOG = 512  # calls remembered by touched_since()


class _Series:
    """Steps and values of one metric of one trial; capacity doubles when full."""

    __slots__ = ("_steps", "_values", "size", "version")

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self._steps = np.empty(capacity, dtype=np.float64)
        self._values = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.version = 0

    def extend(self, steps: Sequence[float] | np.ndarray,
               values: Sequence[float] | np.ndarray) -> None:
        count = len(values)
        needed = self.size + count
        if needed > len(self._values):
            capacity = len(self._values)
            while capacity < needed:
                capacity *= 2
            self._steps = _grown(self._steps, capacity, self.size)
            self._values = _grown(self._values, capacity, self.size)
        self._steps[self.size:needed] = steps
        self._values[self.size:needed] = values
        self.size = needed
        self.version += 1

    @property
    def capacity(self) -> int:
        return len(self._values)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        steps = self._steps[:self.size]
        values = self._values[:self.size]
        steps.flags.writeable = False
        values.flags.writeable = False
        return steps, values


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty(capacity, dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


_EMPTY = np.empty(0, dtype=np.float64)
_EMPTY.flags.writeable = False


class MetricBuffers:
    """Every metric point the GUI has seen, as growing arrays per (trial, metric name).

    Points keep their arrival order. A point without a step gets its index in its
    series as step. Not thread safe: the GUI thread owns it (points reach it
    through queued signals).

    ``version`` grows by one with every call that changes anything;
    :meth:`trial_version` grows whenever one of a trial's series grows, so a chart
    can ask "has trial 7's data changed since I drew it?" in O(1), and
    :meth:`touched_since` lists the trials that changed since a version, so a
    chart's refresh costs what changed rather than what is stored.
    """

    def __init__(self) -> None:
        self._series: dict[int, dict[str, _Series]] = {}
        self._trial_versions: dict[int, int] = {}
        self._names: dict[str, None] = {}
        self._log: deque[tuple[int, set[int] | None]] = deque(maxlen=CHANGE_LOG)
        self.version = 0

    def touched_since(self, version: int) -> set[int] | None:
        """Ids of the trials that got points after ``version``.

        None when that cannot be told (points were removed or cleared since, or
        ``version`` is older than the last :data:`CHANGE_LOG` changes): look at
        everything then.
        """
        if version >= self.version:
            return set()
        if not self._log or self._log[0][0] > version + 1:
            return None
        touched: set[int] = set()
        for logged, ids in reversed(self._log):
            if logged <= version:
                break
            if ids is None:
                return None
            touched |= ids
        return touched

    def add(self, points: Sequence[MetricPoint]) -> set[int]:
        """Append points; returns the ids of the trials that got new points."""
        grouped: dict[tuple[int, str], tuple[list[float], list[float | None]]] = {}
        for point in points:
            key = (point.trial_id, point.name)
            group = grouped.get(key)
            if group is None:
                group = grouped[key] = ([], [])
            group[0].append(point.value)
            group[1].append(point.step)
        for (trial_id, name), (values, raw_steps) in grouped.items():
            series = self._series_for(trial_id, name)
            steps = [float(series.size + i) if step is None else float(step)
                     for i, step in enumerate(raw_steps)]
            series.extend(steps, values)
        touched = {trial_id for trial_id, _ in grouped}
        self._touch(touched)
        return touched

    def extend(self, trial_id: int, name: str, steps: np.ndarray | Sequence[float],
               values: np.ndarray | Sequence[float]) -> None:
        """Append many points of one series at once (loading history).

        Raises:
            ValueError: when steps and values differ in length.
        """
        if len(steps) != len(values):
            raise ValueError(f"trial {trial_id} metric {name!r}: {len(steps)} steps "
                             f"but {len(values)} values")
        self.extend_many([(trial_id, name, steps, values)])

    def extend_many(self, series: Iterable[tuple[int, str, np.ndarray | Sequence[float],
                                                 np.ndarray | Sequence[float]]]) -> None:
        """:meth:`extend` for many series (trial id, name, steps, values) as one change:
        one entry of the change log for a whole batch of loaded history, so the
        :data:`CHANGE_LOG` entries a chart looks back on are not used up by the series
        of a few batches (then it redrew every trial).

        Raises:
            ValueError: when steps and values differ in length (nothing is added).
        """
        batch = list(series)
        for trial_id, name, steps, values in batch:
            if len(steps) != len(values):
                raise ValueError(f"trial {trial_id} metric {name!r}: {len(steps)} steps "
                                 f"but {len(values)} values")
        touched: set[int] = set()
        for trial_id, name, steps, values in batch:
            if len(values):  # a new series gets room for its history at once
                self._series_for(trial_id, name, len(values)).extend(steps, values)
                touched.add(trial_id)
        if touched:
            self._touch(touched)

    def series(self, trial_id: int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Read-only views of (steps, values); empty arrays when nothing was reported."""
        series = self._series.get(trial_id, {}).get(name)
        if series is None:
            return _EMPTY, _EMPTY
        return series.arrays()

    def size(self, trial_id: int, name: str) -> int:
        """How many points the series holds."""
        series = self._series.get(trial_id, {}).get(name)
        return 0 if series is None else series.size

    def capacity(self, trial_id: int, name: str) -> int:
        """The allocated length of the series' arrays (0 when absent)."""
        series = self._series.get(trial_id, {}).get(name)
        return 0 if series is None else series.capacity

    def trial_version(self, trial_id: int) -> int:
        """Grows whenever any series of the trial grows; 0 for an unknown trial."""
        return self._trial_versions.get(trial_id, 0)

    def trial_ids(self) -> list[int]:
        """The trials with at least one point, in the order they first reported."""
        return list(self._series)

    def names(self) -> list[str]:
        """Metric names seen so far, in first-seen order."""
        return list(self._names)

    def remove(self, trial_ids: Iterable[int]) -> None:
        """Forget the given trials' points."""
        changed = False
        for trial_id in trial_ids:
            changed |= self._series.pop(trial_id, None) is not None
            self._trial_versions.pop(trial_id, None)
        if changed:
            self.version += 1
            self._log.append((self.version, None))

    def clear(self) -> None:
        """Forget everything (another experiment was selected)."""
        self._series.clear()
        self._trial_versions.clear()
        self._names.clear()
        self.version += 1
        self._log.append((self.version, None))

    def _series_for(self, trial_id: int, name: str, room: int = INITIAL_CAPACITY) -> _Series:
        per_trial = self._series.setdefault(trial_id, {})
        series = per_trial.get(name)
        if series is None:
            series = per_trial[name] = _Series(max(room, INITIAL_CAPACITY))
            self._names.setdefault(name, None)
        return series

    def _touch(self, trial_ids: set[int]) -> None:
        for trial_id in trial_ids:
            self._trial_versions[trial_id] = self._trial_versions.get(trial_id, 0) + 1
        self.version += 1
        self._log.append((self.version, trial_ids))
