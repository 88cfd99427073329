"""What every chart draws from: the experiment's KPI, its trials and their points (no Qt).

One :class:`ChartData` is shared by the four charts of a panel. Charts keep the
versions they last drew and redraw only when a version moved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from app.application.analysis.ranking import best_trial_ids, ranked_result
from app.engine.best import best_trial, is_better
from app.engine.params import flatten
from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.charts.buffers import CHANGE_LOG, MetricBuffers


class ChartData:
    """Trials by id, the KPI's name and goal, and the metric buffers.

    Attributes:
        buffers: every metric point seen, per trial and name.
        trials_version: grows whenever a trial record is added or changes.
        kpi_version: grows whenever the KPI name, the goal or the top-K filter changes
            (everything redraws).
        top_k: draw only the K completed trials with the best KPI (None: every trial);
            the KPI curves keep drawing the running ones.
    """

    def __init__(self, kpi_name: str = "", goal: Goal = Goal.MIN) -> None:
        self.kpi_name = kpi_name
        self.goal = goal
        self.buffers = MetricBuffers()
        self.trials: dict[int, TrialRecord] = {}
        self.trials_version = 0
        self.kpi_version = 0
        self._log: deque[tuple[int, int | None]] = deque(maxlen=CHANGE_LOG)
        self._best_id: int | None = None
        self._best_known = True
        self.top_k: int | None = None
        self._shown: tuple[int, set[int]] | None = None  # trials_version, top-K ids

    def set_experiment(self, kpi_name: str, goal: Goal) -> None:
        """Start afresh for another experiment: no trials, no points."""
        self.kpi_name = kpi_name
        self.goal = goal
        self.trials.clear()
        self.buffers.clear()
        self.kpi_version += 1
        self._changed(None)

    def set_trials(self, records: Iterable[TrialRecord]) -> None:
        """Replace all trial records (their points stay where ids persist)."""
        self.trials = {record.id: record for record in records}
        self._changed(None)

    def update_trial(self, record: TrialRecord) -> None:
        """Add or replace one trial record."""
        self.trials[record.id] = record
        if record.id == self._best_id:
            self._best_known = False  # the best got worse, or stopped counting
        elif self._best_known:
            best = self.trials.get(self._best_id) if self._best_id is not None else None
            if is_better(record, best, self.goal):
                self._best_id = record.id
        self.trials_version += 1
        self._log.append((self.trials_version, record.id))

    def trials_changed_since(self, version: int) -> set[int] | None:
        """Ids of the trial records added or changed after ``trials_version`` ``version``.

        None when that cannot be told (all records were replaced since, or the
        version is older than the change log): look at every trial then.
        """
        if version >= self.trials_version:
            return set()
        if not self._log or self._log[0][0] > version + 1:
            return None
        changed: set[int] = set()
        for logged, trial_id in reversed(self._log):
            if logged <= version:
                break
            if trial_id is None:
                return None
            changed.add(trial_id)
        return changed

    def _changed(self, trial_id: int | None) -> None:
        self.trials_version += 1
        self._log.append((self.trials_version, trial_id))
        self._best_known = False

    def set_top_k(self, k: int | None) -> None:
        """Draw only the ``k`` best completed trials (None: all); every chart redraws.

        Raises:
            ValueError: when ``k`` is below 1.
        """
        if k is not None and k < 1:
            raise ValueError(f"top K needs K >= 1 (or None for all), got {k}")
        if k != self.top_k:
            self.top_k = k
            self._shown = None
            self.kpi_version += 1

    def shown_ids(self) -> set[int] | None:
        """The ids of the top-K trials, or None when every trial is drawn."""
        if self.top_k is None:
            return None
        if self._shown is None or self._shown[0] != self.trials_version:
            ids = set(best_trial_ids(self.trials.values(), self.goal, self.top_k))
            self._shown = (self.trials_version, ids)
        return self._shown[1]

    def is_shown(self, trial_id: int) -> bool:
        """Whether the charts that honour the top-K filter draw this trial."""
        shown = self.shown_ids()
        return shown is None or trial_id in shown

    def add_points(self, points: Sequence[MetricPoint]) -> set[int]:
        """Buffer metric points; returns the ids of the trials that got new ones."""
        return self.buffers.add(points)

    def best_trial_id(self) -> int | None:
        """The best trial by the one rule (:func:`app.engine.best.best_trial`), or None."""
        if self._best_known:
            return self._best_id
        best = best_trial(self.trials.values(), self.goal)
        self._best_id, self._best_known = (None if best is None else best.id), True
        return self._best_id

    def describe_trial(self, trial_id: int, max_params: int = 12) -> str:
        """A tooltip text: number, id, state, KPI and the dotted params."""
        record = self.trials.get(trial_id)
        if record is None:
            return f"trial id {trial_id}"
        kpi = "—" if record.kpi is None else f"{record.kpi:.6g}"
        lines = [f"Trial #{record.number} (id {record.id}) · {record.state.value}",
                 f"{self.kpi_name or 'KPI'} = {kpi}"]
        if record.host:
            lines.append(f"host {record.host}" + (f" GPU {','.join(map(str, record.gpus))}"
                                                  if record.gpus else ""))
        flat = flatten(record.params)
        for name, value in list(flat.items())[:max_params]:
            lines.append(f"{name} = {_short(value)}")
        if len(flat) > max_params:
            lines.append(f"… {len(flat) - max_params} more")
        return "\n".join(lines)

    def is_pruned(self, trial_id: int) -> bool:
        """True when the trial was stopped early by the scheduler."""
        record = self.trials.get(trial_id)
        return record is not None and record.state is TrialState.PRUNED

    def is_finished(self, trial_id: int) -> bool:
        """True for trials in a final state; unknown trials count as running."""
        record = self.trials.get(trial_id)
        return record is not None and record.state.is_finished()


def _result(record: TrialRecord) -> float | None:
    """The KPI of a completed trial when finite: what competes for the best."""
    return ranked_result(record)


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"
