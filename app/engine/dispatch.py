"""What runs next, and where: the runner's trial creation and submission.

Re-runs go first (a user's "Re-run with these params", a retry, a trial lost with its
host), then the searcher's suggestions until max trials. Each new trial is stored
QUEUED before it is submitted to the executor with the most free room relative to
its size (balanced load); the executor calls back with the trial's host and folder
before its process starts, and they are stored with it (the launch intent a resume
after a crash looks at, see :class:`~app.engine.records.LaunchClaim`). A trial the
executor then has no room for after all (another program took the place meanwhile, a
server went away) waits, stored QUEUED, and is submitted first when room comes back.

Suggestions are drawn ahead (:mod:`app.engine.search.ahead`) when the searcher can:
once a suggestion is submitted, the next is drawn on a worker while the trials run,
so a slot that frees takes it at once instead of waiting for the searcher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from app.engine.balance import most_room
from app.engine.crashpoint import CrashPoint, crash_point
from app.engine.experiment import ExperimentConfig
from app.engine.journal import Journal
from app.engine.live import LiveTrial
from app.engine.orders import now
from app.engine.pbt import Segment
from app.engine.ports import CannotRun, Executor, NoRoom, TrialRepository
from app.engine.records import Snapshot, TrialRecord, TrialSpec
from app.engine.reruns import Rerun, RerunQueue
from app.engine.search.ahead import suggest_ahead
from app.engine.search.base import Searcher
from app.engine.space.sampling import ParamsMismatch
from app.engine.trial import EarlyStopping, TrialState


class Dispatcher:
    """Creates trials (re-runs first, then suggestions) and submits them.

    Args:
        searcher: what to try next; wrapped to suggest ahead when it can (see
            :attr:`searcher`), from :meth:`start` to :meth:`close`.
        existing: the experiment's stored trials, to number on from and count.
        reruns: the runner's queue of params to run again.
        log: writes one line of the experiment's history.
    """

    def __init__(self, repo: TrialRepository, experiment_id: int, config: ExperimentConfig,
                 executors: Sequence[Executor], searcher: Searcher, snapshot: Snapshot,
                 journal: Journal, reruns: RerunQueue, existing: Sequence[TrialRecord],
                 log: Callable[[str, int | None], None]) -> None:
        self._repo = repo
        self._experiment_id = experiment_id
        self._config = config
        self._executors = list(executors)
        self._ahead = suggest_ahead(searcher)
        self.searcher: Searcher = self._ahead if self._ahead is not None else searcher
        """The searcher to tell results to: the one given, or it drawing ahead."""
        self._snapshot = snapshot
        self._journal = journal
        self._reruns = reruns
        self._log = log
        self.created = sum(1 for trial in existing if trial.rerun_of is None)
        """The searcher's trials so far (what max trials counts)."""
        self.exhausted = False
        """The searcher has nothing left to suggest."""
        self.untold: set[int] = set()
        """Re-runs whose params the searcher refused: their results are not told."""
        self._next_number = max((trial.number for trial in existing), default=0) + 1
        self.waiting: list[tuple[TrialRecord, tuple[str, ...]]] = []
        """Stored trials an executor had no room for after all, submitted first."""
        self._said_busy = ""
        """Why nothing could start, as last logged ("": nothing waits)."""

    def start(self) -> None:
        """Start drawing the next suggestion ahead (the run begins)."""
        if self._ahead is not None:
            self._ahead.start(f"suggest-ahead-{self._experiment_id}")
            self._prepare()

    def close(self) -> None:
        """Stop drawing ahead (the run ended)."""
        if self._ahead is not None:
            self._ahead.close()

    def _prepare(self) -> None:
        """Have the next suggestion drawn now, if one will be asked for."""
        if (self._ahead is not None and not self.exhausted
                and self.created < self._config.limits.max_trials):
            self._ahead.prepare(self._next_number)

    def fill(self, live: dict[int, LiveTrial]) -> None:
        """Start trials while slots, max parallel and max trials allow; adds them to ``live``."""
        limits = self._config.limits
        while len(live) < limits.max_parallel:
            executor = self._pick_executor()
            if executor is None:
                if not live and self._has_work():
                    self._say_busy()
                return
            avoid: tuple[str, ...] = ()
            if self.waiting:
                record, avoid = self.waiting.pop(0)
            elif self._reruns:
                rerun = self._reruns.pop()
                avoid = rerun.avoid_hosts
                record = self._rerun(rerun)
            elif not self.exhausted and self.created < limits.max_trials:
                suggested = self.searcher.suggest(self._next_number)
                if suggested is None:
                    self.exhausted = True
                    return
                record = self._new_trial(suggested, None)
                self.created += 1
            else:
                return
            try:
                live[record.id] = self._submit(record, executor, avoid)
                self._said_busy = ""
                self._prepare()  # after the submission: off this slot's path
            except NoRoom as exc:
                self.waiting.insert(0, (record, avoid))
                self._log(f"trial {record.number} waits for room: {exc}", record.id)
                return
            except CannotRun as exc:  # the run ends: leave no trial QUEUED behind
                self._repo.update_trial(record.id, state=TrialState.FAILED, error=str(exc),
                                        ended_at=now())
                raise

    def _has_work(self) -> bool:
        limits = self._config.limits
        return bool(self.waiting or self._reruns or (
            not self.exhausted and self.created < limits.max_trials))

    def _say_busy(self) -> None:
        """Nothing runs and no host has room: say why in the log (once per reason), so
        a run that sits still explains itself (a server offline, its GPUs taken)."""
        why = "; ".join(executor.busy_reason() for executor in self._executors)
        if why != self._said_busy:
            self._said_busy = why
            self._log(f"waiting for room: {why}", None)

    def take_back(self, record: TrialRecord, host: str, why: str) -> None:
        """A host gave back a trial it had not started: submit it first, elsewhere first."""
        self.waiting.insert(0, (record, (host,)))
        self._log(f"trial {record.number} goes to another host: {why}", record.id)

    def _rerun(self, rerun: Rerun) -> TrialRecord:
        record = self._new_trial(rerun.params, rerun.of, rerun.early_stopping)
        if rerun.early_stopping is EarlyStopping.EXEMPT:
            self._log(f"trial {record.number} repeats trial {rerun.of} and runs to its end: "
                      "early stopping does not apply to it", record.id)
        try:
            self.searcher.restore(record.number, rerun.params, None, TrialState.QUEUED)
        except ParamsMismatch as exc:
            self.untold.add(record.number)
            self._log(f"trial {record.number} repeats trial {rerun.of}, whose params no "
                      f"longer fit the space ({exc}): the searcher ignores it", record.id)
        return record

    def _pick_executor(self) -> Executor | None:
        """The executor with the most free room relative to its size (balanced load)."""
        return most_room(self._executors)

    def _new_trial(self, params: dict[str, Any], rerun_of: int | None,
                   early_stopping: EarlyStopping = EarlyStopping.SCHEDULED) -> TrialRecord:
        number = self._next_number
        record = self._repo.create_trial(self._experiment_id, params, TrialState.QUEUED,
                                         rerun_of=rerun_of, early_stopping=early_stopping)
        if record.number != number:
            raise RuntimeError(f"store numbered trial {record.number}, expected {number}")
        self._next_number += 1
        crash_point(CrashPoint.TRIAL_STORED)
        return record

    def _launching(self, trial_id: int, host: str, trial_dir: str) -> None:
        """The launch intent (an executor's thread): where the trial's process is about
        to start, stored before it starts."""
        self._repo.update_trial(trial_id, host=host, trial_dir=trial_dir)
        crash_point(CrashPoint.INTENT_STORED)

    def _spec(self, record: TrialRecord, on_launch: Callable[[str, str], None],
              **fields: Any) -> TrialSpec:
        config = self._config
        return TrialSpec(
            trial_id=record.id,
            experiment_id=self._experiment_id,
            command=config.command,
            params=fields.pop("params", record.params),
            snapshot=self._snapshot,
            env=config.env,
            gpus=config.gpus_per_trial,
            max_epochs=config.limits.max_epochs,
            on_launch=on_launch,
            **fields,
        )

    def _submit(self, record: TrialRecord, executor: Executor,
                avoid: tuple[str, ...]) -> LiveTrial:
        spec = self._spec(record, partial(self._launching, record.id), avoid_hosts=avoid)
        live = LiveTrial(record, executor, self._config.kpi)
        executor.submit(spec)
        self._journal.trial(record)
        return live

    def submit_segment(self, live: LiveTrial, segment: Segment, host: str | None,
                       on_launch: Callable[[str, str], None]) -> None:
        """Population-based training: submit a running trial again as its next segment
        (its params, start step and the donor's checkpoint to copy, on the donor's
        ``host``) to the executor it ran on; ``on_launch`` stores the segment's folder
        (see :class:`~app.engine.population.Population`).

        Raises:
            NoRoom: no room there now (another program took the place).
        """
        live.executor.submit(self._spec(
            live.record, on_launch, params=segment.params, segment=segment.index,
            start_step=segment.start_step, restore_from=segment.restore_from,
            restore_host=host))
