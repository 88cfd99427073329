"""The TrialRepository contract, run against SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.engine.ports import NotFound, StoreError, TrialRepository
from app.engine.records import MetricPoint
from app.engine.trial import ExperimentState, InvalidTransition, TrialState
from app.store.store import Store

DEFINITION = {"space": {"lr": {"type": "number", "min": 1e-5, "max": 0.1}}, "kpi": "acc"}


def _experiment_with_trial(store: Store, name: str = "exp") -> tuple[int, int]:
    experiment = store.create_experiment(name, DEFINITION)
    trial = store.create_trial(experiment.id, {"lr": 0.01})
    return experiment.id, trial.id


class TestStoreContract:
    """One class, every backend: the behaviour the engine relies on."""

    def test_is_a_trial_repository(self, store: Store) -> None:
        repository: TrialRepository = store
        assert repository.list_experiments() == []

    def test_create_get_list_experiments(self, store: Store) -> None:
        first = store.create_experiment("alpha", DEFINITION)
        second = store.create_experiment("42", {"n": [1, 2.5, "x", None, True]})
        assert first.state is ExperimentState.DRAFT
        assert first.definition == DEFINITION
        assert first.created_at.tzinfo is not None
        assert first.created_at.utcoffset() == timedelta(0)
        assert store.get_experiment(first.id) == first
        assert store.get_experiment("alpha") == first
        # a name made of digits is a name first, then an id
        assert store.get_experiment("42") == second
        assert store.get_experiment(str(first.id)) == first
        assert store.get_experiment(second.id).definition == {"n": [1, 2.5, "x", None, True]}
        assert [e.name for e in store.list_experiments()] == ["alpha", "42"]

    def test_duplicate_and_rename_collision(self, store: Store) -> None:
        store.create_experiment("alpha", {})
        beta = store.create_experiment("beta", {})
        with pytest.raises(StoreError, match="an experiment named 'alpha' already exists"):
            store.create_experiment("alpha", {})
        with pytest.raises(StoreError, match="an experiment named 'alpha' already exists"):
            store.rename_experiment(beta.id, "alpha")
        assert store.get_experiment(beta.id).name == "beta"
        renamed = store.rename_experiment(beta.id, "gamma")
        assert renamed.name == "gamma"
        assert store.get_experiment("gamma").id == beta.id
        with pytest.raises(NotFound):
            store.get_experiment("beta")

    def test_bad_names_and_definitions(self, store: Store) -> None:
        with pytest.raises(ValueError, match="experiment name '  ': it is only spaces"):
            store.create_experiment("  ", {})
        with pytest.raises(ValueError, match="over the limit of 255"):
            store.create_experiment("x" * 256, {})
        with pytest.raises(ValueError, match=r"holds '\\n' at position 1, which is not printable"):
            store.create_experiment("a\nb", {})
        with pytest.raises(ValueError, match="starts with '-'"):
            store.rename_experiment(store.create_experiment("a", {}).id, "-rf")
        assert [e.name for e in store.list_experiments()] == ["a"]
        with pytest.raises(ValueError, match="definition of experiment 'a' cannot be stored"):
            store.create_experiment("a", {"bad": object()})
        with pytest.raises(ValueError, match="get_experiment: key must be an id or a name"):
            store.get_experiment(1.5)  # type: ignore[arg-type]

    def test_update_experiment_changes_given_fields_only(self, store: Store) -> None:
        created = store.create_experiment("alpha", DEFINITION)
        updated = store.update_experiment(
            created.id, state=ExperimentState.RUNNING, snapshot_hash="abc", dirty=True
        )
        assert updated.state is ExperimentState.RUNNING
        assert (updated.snapshot_hash, updated.dirty, updated.commit) == ("abc", True, None)
        assert updated.definition == DEFINITION
        assert updated.updated_at >= created.updated_at
        assert store.get_experiment(created.id) == updated
        with pytest.raises(ValueError, match=r"update_experiment\(\d+\): state must be one of"):
            store.update_experiment(created.id, state="sleeping")  # type: ignore[arg-type]

    def test_delete_experiment_removes_everything(self, store: Store) -> None:
        experiment_id, trial_id = _experiment_with_trial(store)
        store.add_metrics([MetricPoint(trial_id, "loss", 1.0, 1, 0.0)])
        store.add_event(experiment_id, "state", "started", trial_id=trial_id)
        other_id, other_trial = _experiment_with_trial(store, "other")
        store.delete_experiment(experiment_id)
        with pytest.raises(NotFound, match=f"no experiment with id {experiment_id}"):
            store.get_experiment(experiment_id)
        with pytest.raises(NotFound):
            store.get_trial(trial_id)
        with pytest.raises(NotFound):
            store.delete_experiment(experiment_id)
        assert [t.id for t in store.list_trials(other_id)] == [other_trial]

    def test_trial_numbering(self, store: Store) -> None:
        a = store.create_experiment("a", {}).id
        b = store.create_experiment("b", {}).id
        numbers_a = [store.create_trial(a, {"i": i}).number for i in range(3)]
        numbers_b = [store.create_trial(b, {}).number for _ in range(2)]
        assert (numbers_a, numbers_b) == ([1, 2, 3], [1, 2])
        trials = store.list_trials(a)
        assert [t.params["i"] for t in trials] == [0, 1, 2]
        assert trials[0].state is TrialState.QUEUED
        store.delete_trials(a)
        assert store.list_trials(a) == []
        assert store.create_trial(a, {}, TrialState.CREATED).number == 1
        assert len(store.list_trials(b)) == 2
        with pytest.raises(NotFound):
            store.create_trial(9999, {})

    def test_transitions_and_immutable_finished_trials(self, store: Store) -> None:
        _, trial_id = _experiment_with_trial(store)
        started = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        running = store.update_trial(
            trial_id, state=TrialState.RUNNING, pid=4242, host="gpu1", started_at=started
        )
        assert running.state is TrialState.RUNNING
        assert running.started_at == started
        assert running.started_at is not None and running.started_at.tzinfo == UTC
        done = store.update_trial(trial_id, state=TrialState.COMPLETED, kpi=0.93, exit_code=0)
        assert (done.state, done.kpi, done.exit_code) == (TrialState.COMPLETED, 0.93, 0)
        with pytest.raises(InvalidTransition, match="finished trials are immutable"):
            store.update_trial(trial_id, state=TrialState.RUNNING)
        with pytest.raises(InvalidTransition, match="finished trials are immutable"):
            store.update_trial(trial_id, kpi=0.1)
        assert store.get_trial(trial_id) == done

    def test_bad_transition_rolls_back(self, store: Store) -> None:
        experiment_id, _ = _experiment_with_trial(store)
        created = store.create_trial(experiment_id, {}, TrialState.CREATED)
        with pytest.raises(InvalidTransition, match="cannot go from created to completed"):
            store.update_trial(created.id, state=TrialState.COMPLETED, kpi=1.0)
        assert store.get_trial(created.id) == created
        assert store.update_trial(created.id, state="queued").state is TrialState.QUEUED

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"colour": "red"}, r"unknown field\(s\) colour"),
            ({"number": 3}, "number cannot be changed"),
            ({"state": "sleeping"}, "state must be one of"),
            ({"kpi": "high"}, "kpi must be a number"),
            ({"gpus": [0, -1]}, "gpus must hold GPU indices"),
            ({"gpus": "0,1"}, "gpus must be a sequence"),
            ({"pid": True}, "pid must be an integer"),
            ({"started_at": datetime(2024, 1, 1)}, "started_at must be timezone-aware"),
            ({"log_offset": -5}, "log_offset must be an integer >= 0"),
            ({"params": {"x": math.nan}}, "params cannot be stored as JSON"),
            ({"dirty": "yes"}, "dirty must be True, False or None"),
        ],
    )
    def test_update_trial_rejects_bad_fields(
        self, store: Store, fields: dict[str, object], message: str
    ) -> None:
        _, trial_id = _experiment_with_trial(store)
        before = store.get_trial(trial_id)
        with pytest.raises(ValueError, match=rf"update_trial\({trial_id}\).*{message}"):
            store.update_trial(trial_id, **fields)
        assert store.get_trial(trial_id) == before

    def test_params_and_gpus_round_trip(self, store: Store) -> None:
        params = {
            "lr": 0.001234, "layers": [64, 128], "name": "réseau ✓",
            "optimizer": {"_name": "adam", "beta1": 0.9, "nested": {"flag": False}},
        }
        experiment_id = store.create_experiment("json", {}).id
        trial = store.create_trial(experiment_id, params)
        updated = store.update_trial(
            trial.id, gpus=(0, 3), trial_dir="/runs/t1", log_offset=2**40, commit="c0ffee",
            dirty=False,
        )
        fetched = store.get_trial(trial.id)
        assert fetched == updated
        assert fetched.params == params
        assert fetched.gpus == (0, 3)
        assert (fetched.log_offset, fetched.commit, fetched.dirty) == (2**40, "c0ffee", False)

    def test_trials_changed_since_a_time(self, store: Store) -> None:
        experiment_id, first = _experiment_with_trial(store)
        second, third = (store.create_trial(experiment_id, {}) for _ in range(2))
        assert third.updated_at is not None and second.updated_at is not None
        assert third.updated_at > second.updated_at
        mark = third.updated_at
        assert [t.id for t in store.list_trials(experiment_id, changed_since=mark)] == [third.id]
        updated = store.update_trial(first, state=TrialState.RUNNING)
        assert updated.updated_at is not None and updated.updated_at > mark
        assert store.get_trial(first) == updated
        output = store.add_output(second.id, [MetricPoint(second.id, "loss", 1.0, 1, 1.0)],
                                  10, None)
        assert output.updated_at is not None and output.updated_at > updated.updated_at
        assert [t.id for t in store.list_trials(experiment_id, changed_since=mark)] == [
            first, second.id, third.id]
        assert store.list_trials(experiment_id, changed_since=output.updated_at) == [output]
        with pytest.raises(ValueError, match=r"list_trials: changed_since must be "
                           r"timezone-aware .*, got 2026-01-01 00:00:00"):
            store.list_trials(experiment_id, changed_since=datetime(2026, 1, 1))

    def test_metrics_round_trip_special_values(self, store: Store) -> None:
        _, trial_id = _experiment_with_trial(store)
        values = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.1]
        store.add_metrics(
            [MetricPoint(trial_id, "loss", v, step, 100.0 + step) for step, v in enumerate(values)]
        )
        got = store.get_metrics(trial_id, "loss")
        assert [p.step for p in got] == list(range(len(values)))
        assert math.isnan(got[0].value)
        assert [p.value for p in got[1:]] == values[1:]
        assert all(isinstance(p.value, float) for p in got)
        assert [p.time for p in got] == [100.0 + s for s in range(len(values))]

    def test_kpi_nan_and_inf_round_trip(self, store: Store) -> None:
        experiment_id, trial_id = _experiment_with_trial(store)
        other = store.create_trial(experiment_id, {}).id
        assert math.isnan(store.update_trial(trial_id, kpi=math.nan).kpi or 0.0)
        assert math.isnan(store.get_trial(trial_id).kpi or 0.0)
        store.update_trial(other, kpi=-math.inf)
        assert store.get_trial(other).kpi == -math.inf

    def test_metrics_ordering_and_filter(self, store: Store) -> None:
        _, trial_id = _experiment_with_trial(store)
        points = [
            MetricPoint(trial_id, "loss", 3.0, 2, 5.0),
            MetricPoint(trial_id, "acc", 0.5, 1, 4.0),
            MetricPoint(trial_id, "loss", 1.0, None, 9.0),
            MetricPoint(trial_id, "loss", 2.0, 1, 7.0),
            MetricPoint(trial_id, "loss", 2.5, 1, 6.0),
        ]
        store.add_metrics(points)
        ordered = store.get_metrics(trial_id)
        assert [(p.name, p.step, p.time) for p in ordered] == [
            ("acc", 1, 4.0), ("loss", None, 9.0), ("loss", 1, 6.0), ("loss", 1, 7.0),
            ("loss", 2, 5.0),
        ]
        assert [p.value for p in store.get_metrics(trial_id, "acc")] == [0.5]
        assert store.get_metrics(trial_id, "nothing") == []

    def test_metrics_since_reads_only_what_is_new_in_stored_order(self, store: Store) -> None:
        experiment_id, trial_id = _experiment_with_trial(store)
        other = store.create_trial(experiment_id, {}).id
        assert store.metrics_since_many({trial_id: 0}) == {trial_id: ([], 0)}
        first = [MetricPoint(trial_id, "loss", 2.0, 2, 1.0),
                 MetricPoint(trial_id, "acc", 0.1, 1, 1.0)]
        theirs = MetricPoint(other, "loss", 9.0, 1, 1.0)
        store.add_metrics([*first, theirs])
        read = store.metrics_since_many({trial_id: 0, other: 0, 424242: 0})
        (points, mark), (their_points, their_mark) = read[trial_id], read[other]
        assert points == first and mark > 0 and their_points == [theirs] and their_mark > mark
        assert read[424242] == ([], 0), "a trial deleted meanwhile has no points"
        assert store.metrics_since_many({trial_id: mark}) == {trial_id: ([], mark)}
        later = [MetricPoint(trial_id, "loss", 1.0, 1, 2.0)]  # a lower step, stored later
        store.add_output(trial_id, later, 10, None)
        read = store.metrics_since_many({trial_id: mark, other: their_mark})
        assert read[trial_id][0] == later and read[trial_id][1] > mark
        assert read[other] == ([], their_mark)

    def test_metrics_since_many_reads_hundreds_of_trials(self, store: Store) -> None:
        experiment_id, _ = _experiment_with_trial(store)
        trials = [store.create_trial(experiment_id, {}).id for _ in range(450)]
        store.add_metrics([MetricPoint(t, "loss", float(t), 1, 1.0) for t in trials])
        read = store.metrics_since_many(dict.fromkeys(trials, 0))
        assert [read[t][0][0].value for t in trials] == [float(t) for t in trials]

    def test_metrics_batch_is_atomic(self, store: Store) -> None:
        _, trial_id = _experiment_with_trial(store)
        batch = [MetricPoint(trial_id, "loss", 1.0, 1, 0.0), MetricPoint(999_999, "x", 1, 1, 0)]
        with pytest.raises(NotFound, match="add_metrics: no trial with id 999999"):
            store.add_metrics(batch)
        with pytest.raises(ValueError, match=r"add_metrics: point 1 \('loss'\): value must be"):
            store.add_metrics([batch[0], MetricPoint(trial_id, "loss", "1.0", 2, 0.0)])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="add_metrics: point 0 is a tuple"):
            store.add_metrics([(trial_id, "loss", 1.0, 1, 0.0)])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="step must be an int or None"):
            store.add_metrics([MetricPoint(trial_id, "loss", 1.0, 1.5, 0.0)])  # type: ignore[arg-type]
        assert store.get_metrics(trial_id) == []
        store.add_metrics([])
        with pytest.raises(NotFound, match="no trial with id 424242"):
            store.get_metrics(424242)

    def test_events(self, store: Store) -> None:
        experiment_id, trial_id = _experiment_with_trial(store)
        first = store.add_event(experiment_id, "state", "experiment started")
        second = store.add_event(experiment_id, "trial", "trial 1 started", trial_id=trial_id)
        assert first.time.tzinfo == UTC and first.trial_id is None
        assert store.list_events(experiment_id) == [first, second]
        other_id, other_trial = _experiment_with_trial(store, "other")
        with pytest.raises(ValueError, match=f"trial {other_trial} belongs to experiment"):
            store.add_event(experiment_id, "trial", "wrong", trial_id=other_trial)
        with pytest.raises(ValueError, match="kind must be a string of 1 to 32"):
            store.add_event(experiment_id, "", "empty kind")
        with pytest.raises(NotFound):
            store.add_event(9999, "state", "nobody")
        assert store.list_events(other_id) == []
        store.delete_trials(experiment_id)
        kept = store.list_events(experiment_id)
        assert [e.message for e in kept] == ["experiment started", "trial 1 started"]
        assert kept[1].trial_id is None

    def test_delete_trials_drops_metrics(self, store: Store) -> None:
        experiment_id, trial_id = _experiment_with_trial(store)
        _, other_trial = _experiment_with_trial(store, "other")
        store.add_metrics([MetricPoint(t, "loss", 1.0, 1, 0.0) for t in (trial_id, other_trial)])
        store.delete_trials(experiment_id)
        with pytest.raises(NotFound):
            store.get_metrics(trial_id)
        assert len(store.get_metrics(other_trial)) == 1
        assert store.get_experiment(experiment_id).name == "exp"
        with pytest.raises(NotFound):
            store.delete_trials(9999)

    def test_list_trials_by_state(self, store: Store) -> None:
        experiment_id, first = _experiment_with_trial(store)
        second = store.create_trial(experiment_id, {}).id
        store.update_trial(second, state=TrialState.RUNNING)
        running = store.list_trials(experiment_id, [TrialState.RUNNING])
        assert [t.id for t in running] == [second]
        both = store.list_trials(experiment_id, [TrialState.RUNNING, TrialState.QUEUED])
        assert [t.id for t in both] == [first, second]
        assert store.list_trials(experiment_id, []) == []

    def test_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound, match="no experiment named 'ghost'"):
            store.get_experiment("ghost")
        with pytest.raises(NotFound, match="no experiment with id 77"):
            store.get_experiment(77)
        with pytest.raises(NotFound, match="no trial with id 5"):
            store.get_trial(5)
        with pytest.raises(NotFound, match="no trial with id 5"):
            store.update_trial(5, state=TrialState.RUNNING)
        with pytest.raises(NotFound):
            store.list_trials(77)
        with pytest.raises(NotFound):
            store.list_events(77)
        with pytest.raises(NotFound):
            store.update_experiment(77, state=ExperimentState.RUNNING)

    def test_concurrent_writes_lose_nothing(self, store: Store) -> None:
        experiment_id = store.create_experiment("busy", {}).id
        errors: list[BaseException] = []
        per_thread = 10

        def work(worker: int) -> None:
            try:
                for i in range(per_thread):
                    trial = store.create_trial(experiment_id, {"worker": worker, "i": i})
                    store.add_metrics(
                        [MetricPoint(trial.id, "loss", float(s), s, float(s)) for s in range(50)]
                    )
                    store.add_event(experiment_id, "trial", f"{worker}/{i}", trial_id=trial.id)
                    store.update_trial(trial.id, state=TrialState.RUNNING)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        trials = store.list_trials(experiment_id)
        assert [t.number for t in trials] == list(range(1, 4 * per_thread + 1))
        assert {(t.params["worker"], t.params["i"]) for t in trials} == {
            (w, i) for w in range(4) for i in range(per_thread)
        }
        assert all(t.state is TrialState.RUNNING for t in trials)
        assert all(len(store.get_metrics(t.id)) == 50 for t in trials)
        assert len(store.list_events(experiment_id)) == 4 * per_thread

    def test_closed_store_refuses(self, store_url: str) -> None:
        opened = Store(store_url)
        opened.create_experiment("kept", {})
        opened.close()
        with pytest.raises(StoreError, match="is closed"):
            opened.list_experiments()
        with Store(store_url) as reopened:
            assert [e.name for e in reopened.list_experiments()] == ["kept"]

    def test_add_output_stores_points_offset_and_kpi_together(self, store: Store) -> None:
        _, trial_id = _experiment_with_trial(store)
        store.update_trial(trial_id, state=TrialState.RUNNING)
        points = [MetricPoint(trial_id, "loss", 0.5, 1, 1.0),
                  MetricPoint(trial_id, "loss", 0.25, 2, 2.0)]
        record = store.add_output(trial_id, points, 120, 0.25)
        assert (record.log_offset, record.kpi) == (120, 0.25)
        assert [p.value for p in store.get_metrics(trial_id)] == [0.5, 0.25]
        other = store.create_trial(store.get_trial(trial_id).experiment_id, {"lr": 0.1})
        with pytest.raises(ValueError, match="must belong to trial"):
            store.add_output(trial_id, [MetricPoint(other.id, "loss", 1.0, 3, 3.0)], 200, 1.0)
        with pytest.raises(ValueError, match="log_offset"):
            store.add_output(trial_id, [], -1, None)
        assert store.get_trial(trial_id).log_offset == 120, "a refused call changes nothing"
        assert len(store.get_metrics(trial_id)) == 2
        store.update_trial(trial_id, state=TrialState.COMPLETED)
        with pytest.raises(InvalidTransition, match="has finished"):
            store.add_output(trial_id, points, 300, 0.1)
        with pytest.raises(NotFound):
            store.add_output(999_999, [], 0, None)
