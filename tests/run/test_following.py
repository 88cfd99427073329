"""Follower: another program's stored changes, read back as runner events, each point
once, and (after the first look at a trial) only what was stored since."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from app.application.following import Follower, Watcher, point_counts
from app.engine.events import ExperimentChange, RunnerEvent, RunnerEventKind
from app.engine.records import ExperimentRecord, MetricPoint, TrialRecord
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import store_experiment


class CountingStore:
    """The real store, counting the points each ``metrics_since_many`` call reads and
    the trials each ``list_trials`` call reads."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.read: list[int] = []
        self.listed: list[int] = []

    def list_trials(self, experiment_id: int, *,
                    changed_since: datetime | None = None) -> list[TrialRecord]:
        trials = self._store.list_trials(experiment_id, changed_since=changed_since)
        self.listed.append(len(trials))
        return trials

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def metrics_since_many(self, marks: Mapping[int, int]
                           ) -> dict[int, tuple[list[MetricPoint], int]]:
        read = self._store.metrics_since_many(marks)
        self.read.append(sum(len(points) for points, _ in read.values()))
        return read


def sent(events: list[RunnerEvent]) -> list[tuple[str, float]]:
    return [(p.name, p.value) for e in events if e.kind is RunnerEventKind.METRICS
            for p in e.metrics]


def test_points_are_sent_once_and_a_growing_trial_is_read_from_where_it_was(
        tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store_experiment(store, tmp_path, "pass\n")
        trial = store.create_trial(experiment, {"x": 1.0})
        store.update_trial(trial.id, state=TrialState.RUNNING)
        shown = [MetricPoint(trial.id, "loss", 1.0, 1, 1.0),
                 MetricPoint(trial.id, "acc", 0.1, 1, 1.0)]
        store.add_output(trial.id, shown, 10, None)
        counting = CountingStore(store)
        follower = Follower(counting, store.get_experiment(experiment),
                            [store.get_trial(trial.id)],
                            point_counts(store.get_metrics(trial.id)))
        assert follower.poll() == []  # nothing changed since it was shown

        store.add_output(trial.id, [MetricPoint(trial.id, "loss", 0.5, 2, 2.0)], 20, None)
        assert sent(follower.poll()) == [("loss", 0.5)]
        store.add_output(trial.id, [MetricPoint(trial.id, "loss", 0.7, 0, 3.0),  # lower step
                                    MetricPoint(trial.id, "acc", 0.2, 2, 3.0)], 30, None)
        assert sent(follower.poll()) == [("loss", 0.7), ("acc", 0.2)]
        assert counting.read == [3, 2], "the first look reads all; later ones what is new"

        # this program's own runner showed a point: it is not sent again
        mine = MetricPoint(trial.id, "loss", 0.4, 3, 4.0)
        store.add_output(trial.id, [mine], 40, None)
        follower.absorb(RunnerEvent(RunnerEventKind.METRICS, experiment, metrics=(mine,)))
        store.add_output(trial.id, [MetricPoint(trial.id, "loss", 0.3, 4, 5.0)], 50, None)
        assert sent(follower.poll()) == [("loss", 0.3)]
        store.update_trial(trial.id, log_offset=60)
        assert sent(follower.poll()) == []


def test_each_look_reads_only_the_trials_changed_since_the_last(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store_experiment(store, tmp_path, "pass\n")
        trials = [store.create_trial(experiment, {"x": float(i)}) for i in range(30)]
        counting = CountingStore(store)
        follower = Follower(counting, store.get_experiment(experiment), trials, {},
                            overlap=timedelta(0))
        assert follower.poll() == []
        changed = store.update_trial(trials[4].id, state=TrialState.RUNNING)
        added = store.create_trial(experiment, {"x": 99.0})
        events = follower.poll()
        assert [e.trial for e in events if e.kind is RunnerEventKind.TRIAL] == [changed, added]
        assert follower.poll() == []
        assert max(counting.listed) <= 3, f"read {counting.listed} trials, not all 31"

        store.update_trial(trials[0].id, kpi=0.5)  # one more change is still seen
        (event,) = follower.poll()
        assert event.trial is not None and event.trial.kpi == 0.5


def test_experiments_created_and_deleted_elsewhere_are_published_as_changes(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store, Store(url) as elsewhere:
        events: list[RunnerEvent] = []
        watcher = Watcher(store, events.append, lambda _id: False, lambda _id: False)
        watcher.known(store.experiment_ids())
        made = store_experiment(elsewhere, tmp_path, "pass\n")
        assert watcher.poll() == 1
        elsewhere.delete_experiment(made)
        assert watcher.poll() == 1
    assert [(e.kind, e.experiment_id, e.state, e.change, e.message) for e in events] == [
        (RunnerEventKind.EXPERIMENT, made, None, ExperimentChange.CREATED, "created"),
        (RunnerEventKind.EXPERIMENT, made, None, ExperimentChange.DELETED, "deleted")]


def test_polling_thread_looks_on_its_own_thread_until_stopped_and_survives_store_errors(
        ) -> None:
    import threading

    from app.application.following import PollingThread
    from app.engine.ports import StoreError

    looks: list[int] = []
    third = threading.Event()

    def poll() -> None:
        looks.append(threading.get_ident())
        if len(looks) == 1:
            raise StoreError("database is locked")  # the next look tries again
        if len(looks) >= 3:
            third.set()

    polling = PollingThread(poll, 0.01)
    polling.start()
    assert third.wait(10), "it went on after a StoreError"
    polling.stop()
    seen = len(looks)
    assert threading.get_ident() not in looks
    assert not polling._thread.is_alive() and len(looks) == seen


def _watching(store: Store, shown: ExperimentRecord, driven: list[bool]
              ) -> tuple[Watcher, list[RunnerEvent]]:
    """A watcher of ``shown`` (as the window shows it, no trials) that publishes into the
    returned list; ``driven[0]`` says whether another program drives it."""
    events: list[RunnerEvent] = []
    watcher = Watcher(store, events.append, lambda _id: False, lambda _id: driven[0])
    watcher.follow(shown, [], {})
    return watcher, events


def test_the_first_look_publishes_a_run_started_after_what_is_shown_was_read(
        tmp_path: Path) -> None:
    """The window read the experiment before a terminal's run took it and started it;
    the watcher began after that: the status must still learn who drives it."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store, Store(url) as elsewhere:
        experiment = store_experiment(store, tmp_path, "pass\n")
        shown = store.get_experiment(experiment)  # created, no driver
        assert elsewhere.claim_experiment(experiment, "t0 4242@lab-pc sweeplab run", None)
        elsewhere.update_experiment(experiment, state=ExperimentState.RUNNING)
        watcher, events = _watching(store, shown, [True])
        watcher.poll()
        assert [(e.state, e.change) for e in events] == [(ExperimentState.RUNNING, None)]
        assert watcher.poll() == 0, "told once"


def test_a_run_that_ended_before_the_watching_began_is_still_published(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store, Store(url) as elsewhere:
        experiment = store_experiment(store, tmp_path, "pass\n")
        shown = store.get_experiment(experiment)
        elsewhere.update_experiment(experiment, state=ExperimentState.COMPLETED)
        watcher, events = _watching(store, shown, [False])  # nobody drives it now
        watcher.poll()
        assert [e.state for e in events] == [ExperimentState.COMPLETED]
        assert watcher.poll() == 0, "a settled experiment is not read again"


def test_a_new_driver_of_a_running_experiment_is_a_change_not_a_second_state(
        tmp_path: Path) -> None:
    """A window takes up a run a killed terminal left (same state, new driver), then lets
    go after the run ended: each is published once, as a driver change."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store, Store(url) as elsewhere:
        experiment = store_experiment(store, tmp_path, "pass\n")
        first = "t0 4242@lab-pc sweeplab run"
        assert elsewhere.claim_experiment(experiment, first, None)
        elsewhere.update_experiment(experiment, state=ExperimentState.RUNNING)
        driven = [True]
        watcher, events = _watching(store, store.get_experiment(experiment), driven)
        assert watcher.poll() == 0
        assert elsewhere.claim_experiment(experiment, "t1 4343@lab-pc Sweeplab window", first)
        watcher.poll()
        assert [(e.state, e.change) for e in events] == [
            (None, ExperimentChange.DRIVER_CHANGED)]
        elsewhere.update_experiment(experiment, state=ExperimentState.COMPLETED)
        elsewhere.release_experiment(experiment, "t1 4343@lab-pc Sweeplab window")
        driven[0] = False
        watcher.poll()
        assert [(e.state, e.change) for e in events[1:]] == [
            (ExperimentState.COMPLETED, None)], "the end told once, with its driver"


def test_a_settled_experiment_as_shown_costs_one_look_at_its_record(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store_experiment(store, tmp_path, "pass\n")
        for i in range(5):
            store.create_trial(experiment, {"x": float(i)})
        store.update_experiment(experiment, state=ExperimentState.COMPLETED)
        counting = CountingStore(store)
        events: list[RunnerEvent] = []
        watcher = Watcher(counting, events.append, lambda _id: False, lambda _id: False)
        watcher.follow(store.get_experiment(experiment), store.list_trials(experiment), {})
        assert watcher.poll() == 0 and watcher.poll() == 0
        assert events == [] and counting.listed == [], "no trial read"


class NoReads:
    """A store that must not be read (what the views' buttons may cost: nothing)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the store was read: {name}")


def test_who_drives_the_shown_experiment_is_known_without_a_read_and_its_end_is_told(
        tmp_path: Path) -> None:
    """The window's buttons ask at every click and keystroke; the answer is what the last
    look saw, at first what the shown record says. A lease that runs out (its program
    died: nothing in the store changes) is published as a driver change, once."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store, Store(url) as elsewhere:
        experiment = store_experiment(store, tmp_path, "pass\n")
        other = store_experiment(store, tmp_path, "pass\n", name="other")
        assert elsewhere.claim_experiment(experiment, "t0 4242@lab-pc sweeplab run", None)
        elsewhere.update_experiment(experiment, state=ExperimentState.RUNNING)
        shown = store.get_experiment(experiment)
        driven = [True]
        events: list[RunnerEvent] = []
        watcher = Watcher(NoReads(), events.append, lambda _id: False,  # type: ignore[arg-type]
                          lambda _id: driven[0])
        assert not watcher.seen_driven_elsewhere(experiment), "nothing watched yet"
        watcher.follow(shown, [], {})
        assert watcher.seen_driven_elsewhere(experiment), "as the record says"
        assert not watcher.seen_driven_elsewhere(other), "only the shown one is known"
        here = Watcher(NoReads(), events.append, lambda _id: True,  # type: ignore[arg-type]
                       lambda _id: False)
        here.follow(shown, [], {})
        assert not here.seen_driven_elsewhere(experiment), "run by this program"
        watcher = Watcher(store, events.append, lambda _id: False, lambda _id: driven[0])
        watcher.follow(shown, [], {})
        assert watcher.poll() == 0
        driven[0] = False  # the lease ran out
        assert watcher.poll() == 1 and not watcher.seen_driven_elsewhere(experiment)
        assert [(e.state, e.change) for e in events] == [
            (None, ExperimentChange.DRIVER_CHANGED)]
        assert watcher.poll() == 0, "told once"


def test_a_run_of_this_program_ends_the_driver_seen_elsewhere_before(tmp_path: Path) -> None:
    """A terminal's run ended and this program started the experiment before the next
    look: its own run's events say who drives it, so once that run ends the buttons do
    not wait for a look to see the experiment free."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Store(url) as store:
        experiment = store_experiment(store, tmp_path, "pass\n")
        assert store.claim_experiment(experiment, "t0 4242@lab-pc sweeplab run", None)
        store.update_experiment(experiment, state=ExperimentState.RUNNING)
        watcher = Watcher(NoReads(), lambda _event: None,  # type: ignore[arg-type]
                          lambda _id: False, lambda _id: True)
        watcher.follow(store.get_experiment(experiment), [], {})
        assert watcher.seen_driven_elsewhere(experiment)
        watcher.absorb(RunnerEvent.changed(experiment, ExperimentChange.RENAMED))
        assert watcher.seen_driven_elsewhere(experiment), "a change is no run"
        watcher.absorb(RunnerEvent(RunnerEventKind.EXPERIMENT, experiment,
                                   state=ExperimentState.COMPLETED, message="done"))
        assert not watcher.seen_driven_elsewhere(experiment)
