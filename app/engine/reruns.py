"""Trials to run again before the next suggestion: :class:`RerunQueue`.

A re-run repeats the params of an earlier trial as a new trial stored with
``rerun_of`` (so max trials counts the suggestion once): the user's "Re-run with these
params", a queued or lost trial of an interrupted run, or a retry of a failed trial
(the experiment's ``retries``, on another host first).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.engine.records import TrialRecord
from app.engine.trial import TrialState


@dataclass(frozen=True)
class Rerun:
    """One trial to run again: its params, the number of the trial it repeats, and the
    hosts to use only when no other has room."""

    params: dict[str, Any]
    of: int
    avoid_hosts: tuple[str, ...] = ()


class RerunQueue:
    """Pending re-runs in order, and the retry policy for failed trials.

    Args:
        retries: how often a failed trial runs again.
        existing: the experiment's stored trials (failures so far count).
        initial: ``(params, number)`` pairs queued first.
    """

    def __init__(self, retries: int, existing: Sequence[TrialRecord],
                 initial: Iterable[tuple[dict[str, Any], int]] = ()) -> None:
        self._retries = retries
        self._queue: deque[Rerun] = deque(Rerun(params, of) for params, of in initial)
        self._failures = Counter(trial.rerun_of or trial.number for trial in existing
                                 if trial.state is TrialState.FAILED)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, params: dict[str, Any], of: int, avoid_hosts: tuple[str, ...] = ()) -> None:
        """Queue a re-run of trial number ``of``."""
        self._queue.append(Rerun(params, of, avoid_hosts))

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
        self.add(record.params, original, (host,) if host else ())
        where = f", on another host than {host} if one has room" if host else ""
        return f"trial {original} failed: retry {used} of {self._retries} queued{where}"


def failed_to_requeue(trials: Sequence[TrialRecord]) -> list[tuple[dict[str, Any], int]]:
    """``(params, number)`` of every trial whose params only ever failed ("Re-queue all
    failed"): no attempt of them completed, was pruned, or is still to come."""
    settled: set[int] = set()
    failed: dict[int, dict[str, Any]] = {}
    for trial in trials:
        origin = trial.rerun_of or trial.number
        if trial.state is TrialState.FAILED:
            failed.setdefault(origin, trial.params)
        elif trial.state in (TrialState.COMPLETED, TrialState.PRUNED, TrialState.RUNNING,
                             TrialState.QUEUED, TrialState.CREATED):
            settled.add(origin)
    return [(params, origin) for origin, params in sorted(failed.items())
            if origin not in settled]
