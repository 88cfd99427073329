"""The runner: one background thread per running experiment.

Loop: fill free slots (re-runs first, then suggestions), consume process events,
persist them, stop trials that reach a limit, tell the searcher, publish events.
Orders (pause, resume, stop, stop one trial, re-run params) arrive through a queue
from any thread.

Max trials counts the searcher's trials only. A re-run (the user's "Re-run with these
params", or a trial requeued because its host was lost) is stored with ``rerun_of``
and runs on top of that budget, so a lost trial is never counted twice.

Events:
    Every change is published as a :class:`~app.engine.events.RunnerEvent` to the
    callbacks given to :meth:`Runner.subscribe`, called on the runner thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from app.engine.best import count_trials, run_outcome
from app.engine.dispatch import Dispatcher
from app.engine.events import RunnerEvent, RunnerEventKind, Subscriber
from app.engine.experiment import ExperimentConfig
from app.engine.failing import FailingStart, first_line
from app.engine.journal import Journal
from app.engine.lease import Lease
from app.engine.live import LiveTrial, StopReason
from app.engine.orders import STOP_SEEN, Command, Order, now
from app.engine.pbt import SegmentRepository
from app.engine.population import Population
from app.engine.ports import CannotRun, Executor, StoreError, TrialRepository
from app.engine.records import (
    ProcessEvent,
    Snapshot,
    TrialRecord,
)
from app.engine.reruns import Rerun, RerunQueue
from app.engine.resume import build_scheduler
from app.engine.schedulers import PbtScheduler, Scheduler
from app.engine.search.base import Searcher
from app.engine.trial import EarlyStopping, ExperimentState, TrialState
from app.engine.trial_events import TrialEvents

log = logging.getLogger(__name__)

EXTERNAL_CHECK_SECONDS = 1.0
__all__ = ["Command", "Runner"]


class Runner:
    """Runs one experiment to its end on the given executors.

    The runner owns the run's state (running, paused, stopping, failed) and the loop;
    what to start next is its :class:`~app.engine.dispatch.Dispatcher`'s, what each
    process event means for its trial its :class:`~app.engine.trial_events.TrialEvents`'.

    Args:
        repo: where trials, metrics and events are stored.
        experiment_id: the stored experiment this runner drives.
        config: its validated definition.
        executors: where trials may run; each trial goes to the one with most free slots.
        searcher: already told every stored result (see ``app.engine.resume``).
        snapshot: the code every trial runs.
        scheduler: decides from each KPI value whether a trial goes on (early stopping);
            by default the one ``config`` names, fed the stored results
            (``app.engine.resume.build_scheduler``).
        grace: seconds between SIGINT, SIGTERM and SIGKILL when stopping a trial.
        poll_interval: the longest the loop waits for process events.
        reruns: trials to run again first (see :class:`~app.engine.reruns.Rerun`).
        waiting: stored QUEUED trials of an earlier run that never ran (it was killed
            before their process started); each starts first, as itself.
        attached: RUNNING trials of an earlier run that ``executor`` follows again
            (re-attach after a crash); their stored KPI values are taken up.
        lease: this process's hold on the experiment, renewed from the loop and
            released at the end; once another program takes it over, the runner
            stops driving and leaves the trials running for it.
        paused: start paused (re-attaching to a run that was paused): running trials
            are followed, none is started until :meth:`resume`.
        segments: where a PBT run stores its trials' segments (``scheduler: pbt``
            needs it; see :class:`~app.engine.population.Population`).
    """

    def __init__(
        self,
        repo: TrialRepository,
        experiment_id: int,
        config: ExperimentConfig,
        executors: Sequence[Executor],
        searcher: Searcher,
        snapshot: Snapshot,
        *,
        grace: float = 5.0,
        poll_interval: float = 0.1,
        scheduler: Scheduler | None = None,
        reruns: Sequence[Rerun] = (),
        waiting: Sequence[TrialRecord] = (),
        attached: Sequence[tuple[TrialRecord, Executor]] = (),
        lease: Lease | None = None,
        paused: bool = False,
        segments: SegmentRepository | None = None,
    ) -> None:
        if not executors:
            raise ValueError("a runner needs at least one executor")
        self._repo = repo
        self._experiment_id = experiment_id
        self._config = config
        self._executors = list(executors)
        self._scheduler = (scheduler if scheduler is not None
                           else build_scheduler(config, repo, experiment_id))
        self._snapshot = snapshot
        self._grace = grace
        self._poll = poll_interval
        self._commands: queue.Queue[Order] = queue.Queue()
        self._journal = Journal(repo, experiment_id, config.kpi.name)
        self._thread: threading.Thread | None = None
        # an Event, not Thread.join: a join interrupted by Ctrl-C may report a live
        # thread as ended (CPython gh-90882)
        self._done = threading.Event()
        self._live: dict[int, LiveTrial] = {}
        self._state = ExperimentState.PAUSED if paused else ExperimentState.RUNNING
        self._lease = lease
        self._taken_over = False
        self._leaving = False
        self._stopping = False
        self._budget_spent = False
        self._started = 0.0
        self._next_check = 0.0
        existing = repo.list_trials(experiment_id)
        self._failing = FailingStart(armed=not any(
            t.state in (TrialState.COMPLETED, TrialState.PRUNED) for t in existing))
        self._failure: str | None = None
        self._reruns = RerunQueue(config.retries, existing, reruns)
        self._dispatch = Dispatcher(repo, experiment_id, config, executors, searcher,
                                    snapshot, self._journal, self._reruns, existing, self._log)
        self._dispatch.waiting.extend((record, ()) for record in waiting)
        self._events = TrialEvents(repo, config, self._journal, self._dispatch.searcher,
                                   self._scheduler, snapshot, self._live, self._reruns,
                                   self._dispatch, self._stop_trial, grace)
        self._population = self._make_population(segments)
        for record, executor in attached:
            self._attach(record, executor)

    def _make_population(self, segments: SegmentRepository | None) -> Population | None:
        """PBT's exploits with processes, under ``scheduler: pbt`` (else None)."""
        if not isinstance(self._scheduler, PbtScheduler):
            return None
        if segments is None:
            raise ValueError("scheduler pbt needs a store for its segments")
        population = Population(
            self._repo, segments, self._config, self._scheduler, self._journal, self._live,
            self._stop_trial, lambda: not (self._stopping or self._budget_spent),
            self._experiment_id)
        population.connect(self._dispatch.submit_segment)
        self._events.population = population
        return population

    def _attach(self, record: TrialRecord, executor: Executor) -> None:
        """Take up a trial an earlier run started (or left waiting in a batch queue): its
        KPI so far, its running time."""
        live = LiveTrial(record, executor, self._config.kpi)
        if record.state is TrialState.QUEUED:  # its STARTED event is still to come
            self._live[record.id] = live
            return
        elapsed = (now() - record.started_at).total_seconds() if record.started_at else 0.0
        live.started = time.monotonic() - max(0.0, elapsed)
        for count, point in enumerate(self._repo.get_metrics(record.id, self._config.kpi.name),
                                      start=1):
            live.add_kpi(point.value)
            step = point.step if point.step is not None else count
            live.step = max(live.step or 0, step)
            if record.early_stopping is EarlyStopping.SCHEDULED:
                self._scheduler.on_result(record.number, step, point.value)
        self._live[record.id] = live
        if self._population is not None:
            self._population.attached(live)

    # --- public API: any thread ------------------------------------------------

    @property
    def taken_over(self) -> bool:
        """Another program took the experiment over; this runner stopped driving it."""
        return self._taken_over

    @property
    def handed_over(self) -> bool:
        """This runner stopped driving and left the trials running: taken over, or
        told to :meth:`leave`."""
        return self._taken_over or self._leaving

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event; returns a function that unsubscribes."""
        return self._journal.subscribe(callback)

    def start(self) -> None:
        """Run the loop on a new background thread."""
        if self._thread is not None:
            raise RuntimeError("this runner has already been started")
        self._thread = threading.Thread(
            target=self.run, name=f"runner-{self._experiment_id}", daemon=True
        )
        self._thread.start()

    def command(self, command: Command | Order) -> None:
        """Queue an order; the loop acts on it within one poll interval."""
        self._commands.put(command if isinstance(command, Order) else Order(command))

    def pause(self) -> None:
        """Start no new trials; running ones go on."""
        self.command(Command.PAUSE)

    def resume(self) -> None:
        """Start trials again after a pause."""
        self.command(Command.RESUME)

    def stop(self) -> None:
        """Stop every running trial (SIGINT, then escalating) and end the experiment."""
        self.command(Command.STOP)

    def leave(self) -> None:
        """Stop driving and leave every trial running, the stored state as it is; the
        lease is released, so the next start takes the trials up (re-attach)."""
        self.command(Command.LEAVE)

    def stop_trial(self, trial_id: int) -> None:
        """Stop one running trial (it ends STOPPED); the experiment goes on."""
        self.command(Order(Command.STOP_TRIAL, trial_id=trial_id))

    def rerun(self, params: dict[str, Any], of: int,
              early_stopping: EarlyStopping = EarlyStopping.SCHEDULED) -> None:
        """Run ``params`` again as a new trial repeating trial number ``of``, before
        the next suggestion and on top of max trials; ``EarlyStopping.EXEMPT``: the
        scheduler never prunes it."""
        self.command(Order(Command.RERUN, params=params, of=of,
                           early_stopping=early_stopping))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the loop to end; True if it has."""
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    @property
    def state(self) -> ExperimentState:
        """The experiment's state as this runner sees it."""
        return self._state

    # --- the loop: runner thread -----------------------------------------------

    def run(self) -> ExperimentState:
        """The loop itself (blocking); returns the experiment's final state."""
        try:
            return self._run()
        finally:
            self._dispatch.close()
            self._let_go()
            self._done.set()

    def _let_go(self) -> None:
        """Release the experiment's lease (once): called before the run's end is
        published, so that whoever acts on the end at once (the window's Requeue or
        Start, a terminal's ``sweeplab resume``) finds the experiment free instead of
        "being run by another program"; again, harmlessly, when the loop is left."""
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            lease.release()
        except StoreError:
            log.warning("could not release experiment %s", self._experiment_id)

    def _fail_outright(self, message: str) -> ExperimentState:
        """Stop every running trial and end the experiment FAILED with ``message``."""
        for live in list(self._live.values()):
            live.executor.stop(live.record.id, self._grace)
        self._end_run(ExperimentState.FAILED, message)
        return self._state

    def _run(self) -> ExperimentState:
        self._started = time.monotonic()
        self._dispatch.start()
        if self._state is ExperimentState.PAUSED:
            self._set_state(ExperimentState.PAUSED, "paused: following the running trials, "
                                                    "no new trial starts until resumed")
        else:
            self._set_state(ExperimentState.RUNNING, "started")
        try:
            while not self._finished():
                self._handle_commands()
                self._check_outside()
                self._check_time_limits()
                if self._state is ExperimentState.RUNNING and not self._stopping:
                    self._fill_slots()
                self._handle_events(self._poll_executors())
        except CannotRun as exc:  # known before any trial could start: plain words
            return self._fail_outright(str(exc))
        except Exception as exc:  # a bug must not leave trials running unwatched
            log.exception("runner of experiment %s failed", self._experiment_id)
            return self._fail_outright(f"the runner failed: {exc}")
        if self._taken_over:
            return self._hand_over("another program took this experiment over; this one "
                                   "stopped driving it", persist=False)
        if self._leaving:
            self._events.flush()
            return self._hand_over("left running: the window closed without stopping the "
                                   "trials; the next start takes them up", persist=True)
        self._end_waiting()
        if self._failure is not None:
            final, message = ExperimentState.FAILED, self._failure
        elif self._stopping:
            final, message = ExperimentState.STOPPED, "stopped"
        elif self._state is ExperimentState.PAUSED:
            final, message = ExperimentState.PAUSED, self._end_message()
        else:
            trials = self._repo.list_trials(self._experiment_id)
            final = run_outcome(count_trials(trials))
            message = (self._end_message() if final is ExperimentState.COMPLETED
                       else _failed_message(trials))
        self._end_run(final, message)
        return final

    def _finished(self) -> bool:
        if self._taken_over or self._leaving:
            return True
        if self._live:
            return False
        if self._stopping:
            return True
        if self._dispatch.waiting and not self._budget_spent:
            return False
        if self._state is ExperimentState.PAUSED or (self._reruns and not self._budget_spent):
            return False
        return (
            self._dispatch.exhausted
            or self._budget_spent
            or self._dispatch.created >= self._config.limits.max_trials
        )

    def _end_message(self) -> str:
        if self._budget_spent:
            return "finished: the time budget ran out"
        if self._dispatch.exhausted:
            return "finished: the searcher has nothing left to try"
        return f"finished: {self._dispatch.created} trials"

    def _handle_commands(self) -> None:
        try:
            if self._idle():
                command = self._commands.get(timeout=self._poll)
            else:
                command = self._commands.get_nowait()
        except queue.Empty:
            return
        kind = command.command
        if kind is Command.STOP:
            self._stop_all(StopReason.USER)
        elif kind is Command.LEAVE:
            self._leaving = True
        elif kind is Command.PAUSE and self._state is ExperimentState.RUNNING:
            self._set_state(ExperimentState.PAUSED, "paused: no new trials start")
        elif kind is Command.RESUME and self._state is ExperimentState.PAUSED:
            self._set_state(ExperimentState.RUNNING, "resumed")
        elif kind is Command.STOP_TRIAL and command.trial_id is not None:
            live = self._live.get(command.trial_id)
            if live is not None:
                self._stop_trial(live, StopReason.USER)
        elif kind is Command.RERUN and command.params is not None and command.of is not None:
            self._reruns.add(Rerun(command.params, command.of,
                                   early_stopping=command.early_stopping))
            self._log(f"trial {command.of}: queued again with the same params")

    def _check_outside(self) -> None:
        """Keep the lease; act on ``sweeplab stop`` from another process.

        That stop marks the stored experiment STOPPED.
        """
        if self._lease is not None and not self._lease.renew():
            self._taken_over = True
            return
        if self._stopping or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + EXTERNAL_CHECK_SECONDS
        if self._repo.get_experiment(self._experiment_id).state is ExperimentState.STOPPED:
            self._log(STOP_SEEN)
            self._stop_all(StopReason.USER)

    def _check_time_limits(self) -> None:
        limits = self._config.limits
        clock = time.monotonic()
        if (
            limits.max_seconds is not None
            and not self._budget_spent
            and clock - self._started >= limits.max_seconds
        ):
            self._budget_spent = True
            self._log("the experiment's time budget ran out: stopping running trials")
            for live in list(self._live.values()):
                self._stop_trial(live, StopReason.BUDGET)
        if limits.max_trial_seconds is None:
            return
        for live in list(self._live.values()):
            if live.started is not None and clock - live.started >= limits.max_trial_seconds:
                self._stop_trial(live, StopReason.MAX_TIME)

    def _stop_all(self, reason: StopReason) -> None:
        self._stopping = True
        for live in list(self._live.values()):
            self._stop_trial(live, reason)

    def _end_waiting(self) -> None:
        """Trials stored but never placed (no room after all) end STOPPED with the run."""
        for record, _ in self._dispatch.waiting:
            self._journal.ended(record, {"state": TrialState.STOPPED, "ended_at": now(),
                                         "error": "never started: the run ended first"})
        self._dispatch.waiting.clear()

    def _poll_executors(self) -> list[ProcessEvent]:
        if not self._live:
            return []
        events: list[ProcessEvent] = []
        if self._population is not None:
            events.extend(self._population.ended_waiting())
        share = self._poll / len(self._executors)
        for executor in self._executors:
            events.extend(executor.poll(share))
        return events

    def _idle(self) -> bool:
        """Nothing runs and nothing can start now: the loop may wait for a command."""
        if self._live:
            return False
        if self._state is ExperimentState.PAUSED or self._stopping:
            return True
        return not any(e.free_slots() > 0 for e in self._executors)

    def _handle_events(self, events: list[ProcessEvent]) -> None:
        endings = self._events.handle(events)
        for ending in endings:  # before any next trial starts
            reason = self._failing.observe(ending.state, ending.error,
                                           rerun=ending.live.record.rerun_of is not None)
            if reason is not None and not self._stopping:
                self._fail_run(reason)
        try:
            if endings and self._state is ExperimentState.RUNNING and not self._stopping:
                # The searcher knows the results already: start the next trials first
                # and write the finished ones after (each with its last output, in one
                # transaction), off the path from one trial to the next.
                self._fill_slots()
        finally:  # a run that cannot go on still stores how its trials ended
            self._events.store(endings, retry=not self._stopping)

    def _fail_run(self, reason: str) -> None:
        """End the run FAILED with ``reason``: the trials still running are stopped."""
        self._failure = reason
        self._log(reason)
        self._stopping = True
        for live in list(self._live.values()):
            self._stop_trial(live, StopReason.FAILING_START)

    def _stop_trial(self, live: LiveTrial, reason: StopReason) -> None:
        if live.stop_reason is not None and (live.stop_reason is not StopReason.EXPLOIT
                                             or reason is StopReason.EXPLOIT):
            return  # a stop for any other reason overrides a PBT exploit under way
        live.stop_reason = reason
        live.executor.stop(live.record.id, self._grace)
        self._log(f"trial {live.number}: {reason.value}, stopping it", live.record.id)

    def _fill_slots(self) -> None:
        if self._population is not None:
            self._population.tick()
        if not self._budget_spent:
            self._dispatch.fill(self._live)

    # --- helpers ---------------------------------------------------------------

    def _log(self, message: str, trial_id: int | None = None) -> None:
        self._journal.log(message, trial_id)

    def _hand_over(self, message: str, *, persist: bool) -> ExperimentState:
        """Stop driving without touching a trial: the program that took over, or the
        next start, follows them. ``persist``: the message goes to the stored log too."""
        self._journal.log(message, persist=persist)
        state = self._repo.get_experiment(self._experiment_id).state
        self._state = state
        self._let_go()
        self._journal.publish(RunnerEvent(RunnerEventKind.EXPERIMENT, self._experiment_id,
                                          state=state, message=message))
        return state

    def _set_state(self, state: ExperimentState, message: str) -> None:
        self._state = state
        self._journal.set_state(state, message)

    def _end_run(self, state: ExperimentState, message: str) -> None:
        """The run's last state: stored and logged, the lease released, then published."""
        self._state = state
        self._journal.set_state(state, message, before_publish=self._let_go)


def _failed_message(trials: Sequence[TrialRecord]) -> str:
    """Why a run that ended by itself failed: no trial completed; the last failure's cause."""
    failed = [t for t in trials if t.state is TrialState.FAILED]
    last = max(failed, key=lambda t: (t.ended_at is not None, t.ended_at or t.created_at,
                                      t.number))
    return (f"failed: no trial completed; {len(failed)} failed, the last with: "
            f"{first_line(last.error)}")
