"""Trials to run again before the next suggestion: :class:`RerunQueue`.

A re-run repeats the params of an earlier trial as a new trial stored with
``rerun_of`` (so max trials counts the suggestion once): the user's "Re-run with these
params", a queued or lost trial of an interrupted run, or a retry of a failed trial
(the experiment's ``retries``, on another host first). The user may exempt their re-run
from early stopping (:attr:`~app.engine.trial.EarlyStopping.EXEMPT`); a trial run again
for any other reason keeps the choice of the trial it repeats.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.engine.records import TrialRecord
from app.engine.trial import EarlyStopping, TrialState


@dataclass(frozen=True)
class Rerun:
    """One trial to run again: its params, the number of the trial it repeats, the
    hosts to use only when no other has room, and whether early stopping may prune it."""

    params: dict[str, Any]
    of: int
    avoid_hosts: tuple[str, ...] = ()
    early_stopping: EarlyStopping = EarlyStopping.SCHEDULED

    @staticmethod
    def of_trial(trial: TrialRecord, avoid_hosts: tuple[str, ...] = ()) -> Rerun:
        """``trial`` once more: its params, its origin, its early-stopping choice."""
        return Rerun(trial.params, trial.rerun_of or trial.number, avoid_hosts,
                     trial.early_stopping)


class RerunQueue:
    """Pending re-runs in order, and the retry policy for failed trials.

    Args:
        retries: how often a failed trial runs again.
        existing: the experiment's stored trials (failures so far count).
        initial: re-runs queued first.
    """

    def __init__(self, retries: int, existing: Sequence[TrialRecord],
                 initial: Iterable[Rerun] = ()) -> None:
        self._retries = retries
        self._queue: deque[Rerun] = deque(initial)
        self._failures = Counter(trial.rerun_of or trial.number for trial in existing
                                 if trial.state is TrialState.FAILED)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, rerun: Rerun) -> None:
        """Queue a re-run."""
        self._queue.append(rerun)

    def pop(self) -> Rerun:
        """The oldest pending re-run (IndexError when none)."""
        return self._queue.popleft()

    def after_failure(self, record: TrialRecord, host: str | None) -> str | None:
        """Count a failed trial; queue a retry while the policy allows one.

        Returns what was decided, for the experiment's log, or None without a policy.
        """
        if self._retries <= 0:
            return None
        original = record.rerun_of or record.number
        self._failures[original] += 1
        used = self._failures[original]
        if used > self._retries:
            return f"trial {original} failed {used} times: no retry left"
        self.add(Rerun.of_trial(record, (host,) if host else ()))
        where = f", on another host than {host} if one has room" if host else ""
        return f"trial {original} failed: retry {used} of {self._retries} queued{where}"


def failed_to_requeue(trials: Sequence[TrialRecord]) -> list[Rerun]:
    """A re-run of every trial whose params only ever failed ("Re-queue all failed"):
    no attempt of them completed, was pruned, or is still to come."""
    settled: set[int] = set()
    failed: dict[int, Rerun] = {}
    for trial in trials:
        origin = trial.rerun_of or trial.number
        if trial.state is TrialState.FAILED:
            failed.setdefault(origin, Rerun.of_trial(trial))
        elif trial.state in (TrialState.COMPLETED, TrialState.PRUNED, TrialState.RUNNING,
                             TrialState.QUEUED, TrialState.CREATED):
            settled.add(origin)
    return [rerun for origin, rerun in sorted(failed.items()) if origin not in settled]
