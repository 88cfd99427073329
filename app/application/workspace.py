"""The workspace: the experiments of one database and the runs driving them.

The application layer's service for both front ends. No Qt here: views call these
methods and listen to the events through a bridge (``app/views/bridge.py``). Every
method returns quickly except :meth:`close`, :meth:`restart` (which waits for a running
experiment to stop) and the exports.

Events:
    Every :class:`RunnerEvent` of every runner, plus EXPERIMENT events with an
    :class:`ExperimentChange` (state None) when an experiment is created, renamed,
    edited, deleted, restarted or asked to stop elsewhere, go to the callbacks
    given to :meth:`Workspace.subscribe`, on whichever thread caused them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from app.application.exporting import write_experiment_export
from app.application.following import ACTIVE, PollingThread, Watcher
from app.application.loading import BATCH_POINTS, ExperimentLoader, LoadPart
from app.application.wiring import build_runner, config_of, keyring_secrets, store_new_experiment
from app.engine.best import TrialTally
from app.engine.events import (
    ExperimentChange,
    RunnerEvent,
    RunnerEventKind,
    Subscriber,
    Subscribers,
)
from app.engine.experiment import ExperimentConfig
from app.engine.lease import DrivenElsewhere, check_not_driven, is_free
from app.engine.names import check_name
from app.engine.orders import request_stop
from app.engine.pbt import Segment
from app.engine.records import EventRecord, ExperimentRecord, MetricPoint, TrialRecord
from app.engine.reruns import Rerun, failed_to_requeue
from app.engine.runner import Runner
from app.engine.search import searcher_problems
from app.engine.space.nodes import Space
from app.engine.trial import EarlyStopping, ExperimentState
from app.remote.pool import Pool
from app.remote.snapshot import Progress
from app.remote.ssh.profile import Secrets, ServerProfile
from app.store.store import Store

DRIVER = "the Sweeplab window"


class ActionRefused(ValueError):
    """An action that cannot be done now, said for a person (e.g. delete while running)."""


class NameTaken(ActionRefused):
    """A new experiment's name is held by another experiment of the database."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an experiment named {name!r} already exists")
        self.name = name


def check_new_name(store: Store, name: str) -> None:
    """The rule for a new experiment's name, for every front end: a valid name
    (:func:`~app.engine.names.check_name`, which the file check and the store apply too)
    that no experiment in ``store`` has.

    Raises:
        ActionRefused: the name is not valid.
        NameTaken: an experiment has it already.
    """
    try:
        check_name(name)
    except ValueError as exc:
        raise ActionRefused(str(exc)) from None
    if name in {e.name for e in store.list_experiments()}:
        raise NameTaken(name)


class Workspace:
    """Experiments in ``store`` and their runners; one runner per running experiment.

    Args:
        store: the open database.
        grace: seconds between the signals that stop a trial.
        secrets: where a run finds a server's password or passphrase.
        driver: who drives the runs started here, as the experiment's lease and log
            name it (the window, or ``sweeplab run`` in a terminal).
    """

    def __init__(self, store: Store, *, grace: float = 5.0,
                 secrets: Callable[[ServerProfile], Secrets] = keyring_secrets,
                 driver: str = DRIVER) -> None:
        self.store = store
        self.driver = driver
        self._grace = grace
        self.secrets = secrets
        """Where a run finds a server's password or passphrase (the GUI's keeper)."""
        self._lock = threading.Lock()
        self._runs: dict[int, tuple[Runner, Pool]] = {}
        self._subscribers = Subscribers()
        self.watcher = Watcher(store, self._subscribers.publish, self.is_running,
                               self.driven_elsewhere)
        """Reads back what other programs store (see :mod:`app.application.following`)."""

    # --- events ------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every event; returns a function that unsubscribes."""
        return self._subscribers.add(callback)

    def _publish(self, event: RunnerEvent) -> None:
        self.watcher.absorb(event)
        self._subscribers.publish(event)

    def _changed(self, experiment_id: int, change: ExperimentChange) -> None:
        self._publish(RunnerEvent.changed(experiment_id, change))

    # --- reading -----------------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment, oldest first (what the watcher compares with)."""
        records = self.store.list_experiments()
        self.watcher.known({record.id for record in records})
        return records

    def experiment(self, key: int | str) -> ExperimentRecord:
        """One experiment, by id or by name (raises NotFound)."""
        return self.store.get_experiment(key)

    def config(self, experiment_id: int) -> ExperimentConfig:
        """The experiment's validated definition."""
        return config_of(self.store.get_experiment(experiment_id))

    def trials(self, experiment_id: int) -> list[TrialRecord]:
        """The experiment's trials by number."""
        return self.store.list_trials(experiment_id)

    def metrics(self, trial_id: int) -> list[MetricPoint]:
        """Every metric point of a trial."""
        return self.store.get_metrics(trial_id)

    def segments(self, experiment_id: int) -> list[Segment]:
        """The segments of the experiment's trials under population-based training (by
        trial number, then index); empty for other schedulers."""
        return self.store.segments(experiment_id)

    def tallies(self) -> dict[int, TrialTally]:
        """Per experiment with trials, its counts and competing KPI range (one aggregate
        read, however many trials: the experiment list)."""
        return self.store.trial_tallies()

    def loader(self, deliver: Callable[[LoadPart], None], *,
               batch_points: int = BATCH_POINTS,
               pace: Callable[[], object] = lambda: None) -> ExperimentLoader:
        """A loader that reads experiments on a worker thread and hands their trials and
        points to ``deliver`` in parts, calling ``pace`` between reads (see
        :mod:`app.application.loading`)."""
        return ExperimentLoader(self.store, deliver, batch_points=batch_points, pace=pace)

    def follow_elsewhere(self, interval: float) -> PollingThread:
        """A started thread that reads back, every ``interval`` s, what other programs
        store (see :meth:`Watcher.poll`); its events reach the subscribers from there.
        Stop it before :meth:`close`."""
        polling = PollingThread(self.watcher.poll, interval)
        polling.start()
        return polling

    def events(self, experiment_id: int) -> list[EventRecord]:
        """The experiment's log."""
        return self.store.list_events(experiment_id)

    def is_running(self, experiment_id: int) -> bool:
        """A runner of this workspace drives the experiment now."""
        with self._lock:
            run = self._runs.get(experiment_id)
        return run is not None and not run[0].wait(0)

    # --- editing -----------------------------------------------------------------

    def create(self, config: ExperimentConfig) -> ExperimentRecord:
        """Store a new experiment (its name must be new)."""
        check_new_name(self.store, config.name)
        record = self.store.create_experiment(config.name, config.to_dict())
        self._changed(record.id, ExperimentChange.CREATED)
        return record

    def create_to_run(self, name: str, config: ExperimentConfig, *,
                      progress: Progress | None = None) -> ExperimentRecord:
        """Store ``config`` as a new experiment ``name`` once everything its first run
        needs is checked and its code is packed (``sweeplab run``): a refusal stores
        nothing. See :func:`~app.application.wiring.store_new_experiment`.

        Raises:
            ActionRefused: the name is not valid; NameTaken: it is in use.
            ExperimentError, ValueError, OSError: as ``store_new_experiment``.
        """
        check_new_name(self.store, name)
        record = store_new_experiment(self.store, name, config, progress)
        self._changed(record.id, ExperimentChange.CREATED)
        return record

    def update(self, experiment_id: int, config: ExperimentConfig) -> ExperimentRecord:
        """Replace an idle experiment's definition (the space editor saves through here)."""
        self._check_idle(experiment_id, "edit")
        current = self.store.get_experiment(experiment_id)
        if config.name != current.name:
            check_new_name(self.store, config.name)
            self.store.rename_experiment(experiment_id, config.name)
        record = self.store.update_experiment(experiment_id, definition=config.to_dict())
        self._changed(experiment_id, ExperimentChange.EDITED)
        return record

    def duplicate(self, experiment_id: int, name: str) -> ExperimentRecord:
        """A new experiment with the same definition and no trials."""
        definition = dict(self.store.get_experiment(experiment_id).definition, name=name)
        check_new_name(self.store, name)
        record = self.store.create_experiment(name, definition)
        self._changed(record.id, ExperimentChange.CREATED)
        return record

    def rename(self, experiment_id: int, name: str) -> ExperimentRecord:
        """Give an experiment a new, unused name."""
        check_new_name(self.store, name)
        record = self.store.rename_experiment(experiment_id, name)
        definition = dict(record.definition, name=name)
        record = self.store.update_experiment(experiment_id, definition=definition)
        self._changed(experiment_id, ExperimentChange.RENAMED)
        return record

    def delete(self, experiment_id: int) -> None:
        """Delete an idle experiment with its trials, metrics and log."""
        self._check_idle(experiment_id, "delete")
        self.store.delete_experiment(experiment_id)
        self._changed(experiment_id, ExperimentChange.DELETED)

    def _check_idle(self, experiment_id: int, action: str) -> None:
        if self.is_running(experiment_id):
            raise ActionRefused(f"stop the experiment before you {action} it")
        self.check_not_driven(experiment_id)

    def check_not_driven(self, experiment_id: int) -> None:
        """Refuse while another program (a ``sweeplab run`` in a terminal, a window)
        drives it.

        Raises:
            ActionRefused: who drives it, and how to stop it.
        """
        try:
            check_not_driven(self.store, experiment_id,
                             self.store.get_experiment(experiment_id).name)
        except DrivenElsewhere as exc:
            raise ActionRefused(str(exc)) from exc

    def seen_driven_elsewhere(self, experiment_id: int) -> bool:
        """Whether another live program drove the shown experiment at the watcher's last
        look, every 2 s (reads nothing: for the window's buttons;
        :meth:`Watcher.seen_driven_elsewhere`)."""
        return self.watcher.seen_driven_elsewhere(experiment_id)

    def driven_elsewhere(self, experiment_id: int) -> bool:
        """Another live program drives the experiment now (not this workspace); reads
        the store."""
        if self.is_running(experiment_id):
            return False
        holder, seen = self.store.experiment_driver(experiment_id)
        return not is_free(holder, seen)

    # --- running -----------------------------------------------------------------

    def start(self, experiment_id: int, *, progress: Progress | None = None,
              reruns: Sequence[Rerun] = (), paused: bool = False,
              fresh_snapshot: bool | None = None) -> None:
        """Start, or continue after a stop or a crash (trials so far are kept).

        The first start packs the code (``progress`` follows it), so call this from a
        worker thread where the code may be large. ``reruns`` run first; ``paused``
        follows the running trials without starting new ones; ``fresh_snapshot`` says
        whether to pack the code again (default: only when there is no trial yet).

        Raises:
            ActionRefused: this workspace or another program runs it already.
        """
        if self.is_running(experiment_id):
            raise ActionRefused("the experiment is running already")
        record = self.store.get_experiment(experiment_id)
        fresh = (not self.store.list_trials(experiment_id) if fresh_snapshot is None
                 else fresh_snapshot)
        try:
            runner, executor = build_runner(
                self.store, record, fresh_snapshot=fresh, grace=self._grace,
                progress=progress, reruns=reruns, secrets=self.secrets, driver=self.driver,
                paused=paused)
        except DrivenElsewhere as exc:
            raise ActionRefused(str(exc)) from exc
        # release the run before the views hear of its end, so that a view reacting
        # to the final state already sees the experiment as not running
        runner.subscribe(lambda event: self._on_runner_event(experiment_id, event))
        runner.subscribe(self._publish)
        with self._lock:
            self._runs[experiment_id] = (runner, executor)
        runner.start()

    def _on_runner_event(self, experiment_id: int, event: RunnerEvent) -> None:
        if event.kind is not RunnerEventKind.EXPERIMENT:
            return
        with self._lock:
            run = self._runs.get(experiment_id)
            if run is None or (event.state in (*ACTIVE, None) and not run[0].handed_over):
                return
            del self._runs[experiment_id]
        run[1].close()

    def stop(self, experiment_id: int) -> None:
        """Stop every running trial (SIGINT, escalating) and end the run.

        An experiment running or paused without a runner here (another program drives
        it, or drove it until it died) is asked to stop through the database, the
        window's Stop and ``sweeplab stop`` alike; a program driving it stops its trials.
        Neither running nor paused, nothing is done.
        """
        runner = self._runner(experiment_id)
        if runner is not None:
            runner.stop()
        elif self.store.get_experiment(experiment_id).state in ACTIVE:
            request_stop(self.store, experiment_id, self.driver)
            self._changed(experiment_id, ExperimentChange.STOP_REQUESTED)

    def orphans(self) -> list[ExperimentRecord]:
        """Experiments left running or paused by a program that is gone (a crash)."""
        return [record for record in self.store.list_experiments()
                if record.state in ACTIVE and not self.is_running(record.id)
                and is_free(record.driver, record.driver_seen)]

    def reattach(self, progress: Progress | None = None) -> list[str]:
        """Drive every orphan again: follow its running trials, re-run the lost ones.

        A paused one stays paused. Returns one line per experiment taken up or not
        (why); slow where servers must be reached, so call it from a worker thread.
        """
        lines = []
        for record in self.orphans():
            try:
                self.start(record.id, progress=progress,
                           paused=record.state is ExperimentState.PAUSED)
            except (ActionRefused, ValueError, OSError) as exc:
                lines.append(f"{record.name}: not taken up: {exc}")
            else:
                lines.append(f"{record.name}: taken up again ({record.state.value})")
        return lines

    def stop_trial(self, experiment_id: int, trial_id: int) -> None:
        """Stop one running trial (SIGINT, escalating); the experiment goes on."""
        runner = self._runner(experiment_id)
        if runner is None:
            raise ActionRefused("the experiment is not running, so none of its trials runs")
        runner.stop_trial(trial_id)

    def rerun(self, experiment_id: int, trial_id: int, *,
              early_stopping: EarlyStopping = EarlyStopping.EXEMPT,
              progress: Progress | None = None) -> None:
        """Run a trial's params again as a new trial (on top of max trials).

        A running experiment queues it before its next suggestion; an idle one is
        started for it (and goes on with its search if budget is left). By default it
        runs to its end: the early-stopping scheduler never prunes it
        (``EarlyStopping.SCHEDULED``: like any trial); the choice is stored with it.
        """
        trial = self.store.get_trial(trial_id)
        if trial.experiment_id != experiment_id:
            raise ActionRefused(f"trial {trial.number} belongs to another experiment")
        self._run_again(experiment_id,
                        [replace(Rerun.of_trial(trial), early_stopping=early_stopping)],
                        progress)

    def requeue_failed(self, experiment_id: int, *,
                       progress: Progress | None = None) -> int:
        """Run every trial whose params only ever failed once more; returns how many.

        A running experiment queues them before its next suggestion; an idle one is
        started for them.
        """
        reruns = self.failed_to_requeue(experiment_id)
        if reruns:
            self._run_again(experiment_id, reruns, progress)
        return len(reruns)

    def failed_to_requeue(self, experiment_id: int) -> list[Rerun]:
        """What :meth:`requeue_failed` runs again: every trial whose params only ever
        failed (:func:`~app.engine.reruns.failed_to_requeue`)."""
        return failed_to_requeue(self.store.list_trials(experiment_id))

    def _run_again(self, experiment_id: int, reruns: list[Rerun],
                   progress: Progress | None) -> None:
        """Queue re-runs on the running experiment, or start it for them."""
        runner = self._runner(experiment_id)
        if runner is not None and not runner.wait(0):
            for rerun in reruns:
                runner.rerun(rerun.params, rerun.of, rerun.early_stopping)
        else:
            self.start(experiment_id, progress=progress, reruns=reruns)

    def pause(self, experiment_id: int) -> None:
        """Start no new trials; running ones go on."""
        runner = self._runner(experiment_id)
        if runner is not None:
            runner.pause()

    def resume(self, experiment_id: int) -> None:
        """Continue a paused run, or start a stopped or interrupted experiment again."""
        runner = self._runner(experiment_id)
        if runner is not None:
            runner.resume()
        else:
            self.start(experiment_id)

    def restart(self, experiment_id: int, timeout: float = 60.0, *,
                progress: Progress | None = None, space: Space | None = None) -> None:
        """Drop every trial, take a new code snapshot, and start afresh; with ``space``
        (edited while the experiment ran), stored once the run has stopped.

        Raises:
            ActionRefused: the algorithm cannot search the space (grid search on a
                continuous number), checked before anything is stopped or dropped.
        """
        config = self.config(experiment_id)
        if space is not None:
            config = replace(config, space=space)
        problems = searcher_problems(config.algorithm, config.space)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ActionRefused(f"cannot restart with {config.algorithm.value} search: "
                               f"{problems[0]}{more}; no trial was dropped. Choose another "
                               "algorithm in Settings, or give the number a step")
        runner = self._runner(experiment_id)
        if runner is not None:
            runner.stop()
            if not runner.wait(timeout):
                raise ActionRefused("the running trials did not stop in time; try again")
        else:
            self.check_not_driven(experiment_id)
        if space is not None:
            self.update(experiment_id, config)
        self.store.delete_trials(experiment_id)
        self.store.update_experiment(experiment_id, state=ExperimentState.DRAFT)
        self.store.add_event(experiment_id, "log", "restarted: trials dropped, new snapshot")
        self._changed(experiment_id, ExperimentChange.RESTARTED)
        self.start(experiment_id, progress=progress)

    def wait(self, experiment_id: int, timeout: float | None = None) -> bool:
        """Wait for a run to end; True when none is running."""
        runner = self._runner(experiment_id)
        return runner is None or runner.wait(timeout)

    def _runner(self, experiment_id: int) -> Runner | None:
        with self._lock:
            run = self._runs.get(experiment_id)
        return run[0] if run is not None else None

    def export(self, experiment_id: int, path: Path, fmt: str = "csv", *,
               progress: Progress | None = None) -> int:
        """Write the experiment's trials to ``path``
        (:func:`~app.application.exporting.write_experiment_export`); returns how many."""
        record = self.store.get_experiment(experiment_id)
        trials = self.store.list_trials(experiment_id)
        if progress is not None:
            progress(0, len(trials))
        write_experiment_export(record, trials, path, fmt)
        if progress is not None:
            progress(len(trials), len(trials))
        return len(trials)

    def leave(self, timeout: float = 30.0) -> None:
        """Stop driving every run and leave its trials running (the window closes
        without stopping them): each stored state stays and each lease is released, so
        the next start takes the trials up (:meth:`reattach`). A runner that has not
        let go within ``timeout`` is left to :meth:`close`."""
        with self._lock:
            runners = [runner for runner, _ in self._runs.values()]
        for runner in runners:
            runner.leave()
        for runner in runners:
            runner.wait(timeout)

    def abandon(self) -> None:
        """Close the executor of every run without stopping or waiting for its runner
        (a terminal given up on with a second Ctrl-C): trials run on, detached, for a
        later resume to take up. Runs that ended have closed theirs already."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for _runner, executor in runs:
            executor.close()

    def close(self, timeout: float = 30.0) -> None:
        """Stop every run and wait for it (trials get SIGINT, escalating)."""
        with self._lock:
            runs = list(self._runs.values())
        for runner, _ in runs:
            runner.stop()
        for runner, executor in runs:
            runner.wait(timeout)
            executor.close()


