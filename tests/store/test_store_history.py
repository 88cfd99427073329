"""The whole-experiment reads, part of the store contract: run against SQLite and
PostgreSQL (see conftest): an experiment's points in one streamed query, every
experiment's trial counts in one aggregate."""

from __future__ import annotations

import math
import random
import struct
import threading

import numpy as np
import pytest

from app.engine.best import best_trial, count_trials
from app.engine.live import StopReason
from app.engine.ports import NotFound
from app.engine.records import MetricPoint
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.store.store import Store
from tests.helpers import series_lists


class TestExperimentSeries:
    def test_every_point_of_the_experiment_by_trial_then_metric(self, store: Store) -> None:
        mine = store.create_experiment("mine", {})
        other = store.create_experiment("other", {})
        first = store.create_trial(mine.id, {}).id
        theirs = store.create_trial(other.id, {}).id
        second = store.create_trial(mine.id, {}).id
        store.add_metrics([
            MetricPoint(second, "loss", 3.0, 2, 5.0), MetricPoint(first, "loss", 2.0, 1, 7.0),
            MetricPoint(theirs, "loss", 9.0, 1, 1.0), MetricPoint(first, "acc", 0.5, 1, 4.0),
            MetricPoint(first, "loss", 1.0, None, 9.0), MetricPoint(second, "loss", math.nan,
                                                                    1, 6.0)])
        chunks = list(store.experiment_series(mine.id, chunk=2))
        assert len(chunks) >= 2, "streamed"
        series = [one for chunk in chunks for one in chunk]
        assert [(s.trial_id, s.name, series_lists(s)[0]) for s in series] == [
            (first, "acc", [1]), (first, "loss", [None, 1]), (second, "loss", [1, 2])]
        assert series_lists(series[1])[1] == [1.0, 2.0] and series[2].values[1] == 3.0
        assert math.isnan(series[2].values[0])
        assert all(s.steps.dtype == s.values.dtype == np.float64 for s in series)
        assert not series[0].values.flags.writeable, "read-only, as a record is"
        # the same points, in the same order, as get_metrics gives per trial
        assert [(p.name, p.step, p.value) for p in store.get_metrics(first)] == [
            (s.name, step, value) for s in series[:2]
            for step, value in zip(*series_lists(s), strict=True)]
        assert list(store.experiment_series(store.create_experiment("empty", {}).id)) == []

    def test_a_step_reported_twice_keeps_the_order_of_get_metrics(self, store: Store) -> None:
        """Points of one step (and points without a step) come by time, then id, as
        get_metrics gives them, even when stored out of time order: SQLite reads the
        index's id order and reads such a series again in the rule's order."""
        experiment = store.create_experiment("ties", {})
        tied, plain = (store.create_trial(experiment.id, {}).id for _ in range(2))
        store.add_metrics([MetricPoint(tied, "loss", 1.0, 1, 9.0),
                           MetricPoint(tied, "loss", 2.0, 1, 3.0),
                           MetricPoint(tied, "loss", 3.0, None, 8.0),
                           MetricPoint(tied, "loss", 4.0, None, 2.0),
                           MetricPoint(tied, "loss", 5.0, 0, 7.0),
                           MetricPoint(plain, "loss", 6.0, 2, 1.0),
                           MetricPoint(plain, "loss", 7.0, 1, 2.0)])
        series = [one for chunk in store.experiment_series(experiment.id, chunk=3)
                  for one in chunk]
        assert [(s.trial_id, *series_lists(s)) for s in series] == [
            (tied, [None, None, 0, 1, 1], [4.0, 3.0, 5.0, 2.0, 1.0]),
            (plain, [1, 2], [7.0, 6.0])]
        for one in series:
            assert [(p.step, p.value) for p in store.get_metrics(one.trial_id)] == list(
                zip(*series_lists(one), strict=True))

    def test_many_trials_in_one_streamed_query_never_split_a_series(
            self, store: Store) -> None:
        experiment = store.create_experiment("big", {})
        trials = [store.create_trial(experiment.id, {}).id for _ in range(300)]
        store.add_metrics([MetricPoint(t, "loss", float(step), step, 0.0)
                           for t in trials for step in range(20)])
        chunks = list(store.experiment_series(experiment.id, chunk=1000))
        assert len(chunks) >= 6
        series = [one for chunk in chunks for one in chunk]
        assert [s.trial_id for s in series] == trials
        assert all(series_lists(s)[0] == list(range(20)) for s in series)

    def test_values_come_back_bit_for_bit(self, store: Store) -> None:
        """Every float the store holds, read back exactly: extremes, subnormals, signed
        zeros, the infinities, NaN (text on SQLite) and values of 17 significant digits."""
        experiment = store.create_experiment("exact", {})
        trial = store.create_trial(experiment.id, {}).id
        chance = random.Random(16)
        values = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                  -1.7976931348623157e308, math.inf, -math.inf, 0.1, 1 / 3, 2 / 3,
                  0.30000000000000004, *(struct.unpack("<d", chance.randbytes(8))[0]
                                         for _ in range(200))]
        values = [v for v in values if not math.isnan(v)] + [math.nan]
        store.add_metrics([MetricPoint(trial, "loss", v, step, float(step))
                           for step, v in enumerate(values)])
        (series,) = [one for chunk in store.experiment_series(experiment.id, chunk=7)
                     for one in chunk]
        assert series_lists(series)[0] == list(range(len(values)))
        bits = [struct.pack("<d", v) for v in series.values.tolist()]
        assert bits == [struct.pack("<d", p.value) for p in store.get_metrics(trial)]
        # SQLite itself keeps -0.0 as 0 (a REAL without a fraction is stored as an integer)
        assert bits[:-1] == [struct.pack("<d", v if v else abs(v) if "sqlite" in store.url
                                         else v) for v in values[:-1]]
        assert math.isnan(series.values[-1])

    def test_points_written_while_the_stream_is_open_are_not_mixed_in(
            self, store: Store) -> None:
        """The stream reads the points as they were when it began: a series is never
        cut short or given another's points by a write meanwhile (on SQLite the sizes
        and the points are two statements of one read transaction)."""
        experiment = store.create_experiment("busy", {})
        trials = [store.create_trial(experiment.id, {}).id for _ in range(6)]
        store.add_metrics([MetricPoint(t, name, float(step), step, float(step))
                           for t in trials for name in ("acc", "loss") for step in range(5)])
        before = [(s.trial_id, s.name, *series_lists(s)) for chunk in
                  store.experiment_series(experiment.id) for s in chunk]
        stream = store.experiment_series(experiment.id, chunk=10)
        read = [(s.trial_id, s.name, *series_lists(s)) for s in next(stream)]
        store.add_metrics([MetricPoint(t, name, 9.0, step, 99.0) for t in (trials[0], trials[4])
                           for name in ("acc", "best", "loss") for step in (2, 7)])
        read += [(s.trial_id, s.name, *series_lists(s)) for chunk in stream for s in chunk]
        assert read == before

    def test_closing_the_stream_early_releases_it(self, store: Store) -> None:
        experiment = store.create_experiment("big", {})
        trials = [store.create_trial(experiment.id, {}).id for _ in range(10)]
        store.add_metrics([MetricPoint(t, "loss", 1.0, step, 0.0)
                           for t in trials for step in range(5)])
        stream = store.experiment_series(experiment.id, chunk=10)
        assert next(stream)
        stream.close()
        store.add_metrics([MetricPoint(trials[0], "loss", 1.0, 99, 0.0)])  # not blocked
        total = sum(len(s.values) for c in store.experiment_series(experiment.id) for s in c)
        assert total == 51

    def test_other_reads_go_on_while_a_stream_is_open(self, store: Store) -> None:
        """The window reads the experiment and its driver while the loader streams its
        points: on PostgreSQL every read once waited for the whole stream (a lock meant
        for a memory database), freezing the window 1.2-2.5 s per big experiment."""
        experiment = store.create_experiment("big", {})
        trials = [store.create_trial(experiment.id, {}).id for _ in range(4)]
        store.add_metrics([MetricPoint(t, "loss", 1.0, step, 0.0)
                           for t in trials for step in range(5)])
        stream = store.experiment_series(experiment.id, chunk=5)
        assert next(stream)  # the stream's read is open
        answers: list[object] = []
        reader = threading.Thread(target=lambda: answers.extend(
            [store.get_experiment(experiment.id).name,
             store.experiment_driver(experiment.id), len(store.list_trials(experiment.id))]))
        reader.start()
        reader.join(timeout=20)
        alive = reader.is_alive()
        stream.close()
        reader.join()
        assert not alive, "a read waited for the open stream"
        assert answers == ["big", (None, None), 4]

    def test_an_unknown_experiment_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound, match="no experiment with id 4242"):
            next(store.experiment_series(4242))
        with pytest.raises(ValueError, match="chunk must be >= 1"):
            next(store.experiment_series(store.create_experiment("x", {}).id, chunk=0))


class TestSeriesBounds:
    def test_the_finite_points_of_one_metric_of_the_experiment(self, store: Store) -> None:
        """Step and value bounds over the experiment's points of the metric, as a chart
        of its curves spans them: NaN and the infinities left out, other metrics and
        other experiments' trials too."""
        mine = store.create_experiment("mine", {})
        other = store.create_experiment("other", {})
        first, second = (store.create_trial(mine.id, {}).id for _ in range(2))
        theirs = store.create_trial(other.id, {}).id
        store.add_metrics([
            MetricPoint(first, "loss", 0.5, 3, 0.0), MetricPoint(first, "loss", 2.5, 4, 1.0),
            MetricPoint(second, "loss", -1.25, 7, 0.0),
            MetricPoint(second, "loss", math.nan, 9, 1.0),
            MetricPoint(second, "loss", math.inf, 11, 2.0),
            MetricPoint(first, "loss", -math.inf, 0, 2.0),
            MetricPoint(first, "acc", 99.0, 50, 0.0), MetricPoint(theirs, "loss", -50.0, 1, 0.0)])
        assert store.series_bounds(mine.id, "loss") == (3.0, 7.0, -1.25, 2.5)
        assert store.series_bounds(mine.id, "acc") == (50.0, 50.0, 99.0, 99.0)

    def test_unknown_without_a_finite_point_or_with_a_point_without_a_step(
            self, store: Store) -> None:
        experiment = store.create_experiment("odd", {})
        trial = store.create_trial(experiment.id, {}).id
        assert store.series_bounds(experiment.id, "loss") is None  # no point at all
        store.add_metrics([MetricPoint(trial, "loss", math.nan, 1, 0.0),
                           MetricPoint(trial, "loss", math.inf, 2, 0.0)])
        assert store.series_bounds(experiment.id, "loss") is None  # none finite
        store.add_metrics([MetricPoint(trial, "loss", 1.0, 3, 0.0),
                           MetricPoint(trial, "loss", math.nan, None, 0.0)])
        assert store.series_bounds(experiment.id, "loss") == (3.0, 3.0, 1.0, 1.0)
        store.add_metrics([MetricPoint(trial, "loss", 2.0, None, 0.0)])
        assert store.series_bounds(experiment.id, "loss") is None  # charted by its place

    def test_an_unknown_experiment_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.series_bounds(4242, "loss")


class TestTrialTallies:
    def test_counts_and_competing_kpi_range_as_the_engine_rule_finds_them(
            self, store: Store) -> None:
        chance = random.Random(3)
        experiments = [store.create_experiment(f"e{i}", {}).id for i in range(3)]
        kpis = [None, math.nan, math.inf, -math.inf, 0.5, -2.0, 7.25, 1e300]
        for experiment_id in experiments[:2]:
            for _ in range(40):
                trial = store.create_trial(experiment_id, {})
                state = chance.choice([TrialState.QUEUED, TrialState.RUNNING,
                                       TrialState.COMPLETED, TrialState.FAILED,
                                       TrialState.STOPPED, TrialState.PRUNED])
                fields: dict[str, object] = {"kpi": chance.choice(kpis)}
                if state is not TrialState.QUEUED:
                    store.update_trial(trial.id, state=TrialState.RUNNING)
                if state is TrialState.STOPPED and chance.random() < 0.5:
                    fields["error"] = StopReason.BUDGET.value
                if state not in (TrialState.QUEUED, TrialState.RUNNING):
                    fields["state"] = state
                store.update_trial(trial.id, **fields)
        tallies = store.trial_tallies()
        assert set(tallies) == set(experiments[:2]), "an experiment without trials: absent"
        for experiment_id in experiments[:2]:
            trials = store.list_trials(experiment_id)
            tally = tallies[experiment_id]
            assert tally.counts == count_trials(trials)
            for goal in Goal:
                best = best_trial(trials, goal)
                assert tally.best_kpi(goal) == (None if best is None else best.kpi)

    def test_no_competing_trial_has_no_range(self, store: Store) -> None:
        experiment = store.create_experiment("e", {})
        trial = store.create_trial(experiment.id, {})
        store.update_trial(trial.id, state=TrialState.RUNNING)
        store.update_trial(trial.id, state=TrialState.COMPLETED, kpi=math.nan)
        tally = store.trial_tallies()[experiment.id]
        assert tally.counts.completed == 1
        assert tally.best_kpi(Goal.MIN) is None and tally.best_kpi(Goal.MAX) is None
