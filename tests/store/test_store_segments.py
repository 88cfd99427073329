"""The segments table: stored, updated, read back per experiment; dropped with trials."""

from __future__ import annotations

import pytest

from app.engine.ports import NotFound, StoreError
from app.store.store import Store


def test_segments_are_stored_and_read_back_by_trial_then_index() -> None:
    with Store("sqlite://") as store:
        experiment = store.create_experiment("pbt", {})
        other = store.create_experiment("other", {})
        first = store.create_trial(experiment.id, {"lr": 0.1})
        second = store.create_trial(experiment.id, {"lr": 0.2})
        store.create_trial(other.id, {"lr": 0.3})
        store.add_segment(second.id, 0, 0, {"lr": 0.2}, None, None)
        store.add_segment(first.id, 0, 0, {"lr": 0.1}, None, None)
        store.update_segment(first.id, 0, end_step=4)
        added = store.add_segment(first.id, 1, 3, {"lr": 0.24}, second.id, 3)
        assert (added.number, added.donor_number, added.is_exploit) == (1, 2, True)
        store.update_segment(first.id, 1, trial_dir="/tmp/t1.1")
        got = store.segments(experiment.id)
        assert [(s.number, s.index, s.start_step, s.end_step, s.trial_dir) for s in got] == [
            (1, 0, 0, 4, None), (1, 1, 3, None, "/tmp/t1.1"), (2, 0, 0, None, None)]
        assert got[1].params == {"lr": 0.24} and got[1].checkpoint_step == 3
        assert store.segments(other.id) == []
        with pytest.raises(StoreError):
            store.add_segment(first.id, 1, 3, {}, None, None)
        with pytest.raises(NotFound):
            store.update_segment(first.id, 7, end_step=1)
        with pytest.raises(ValueError, match="params"):
            store.update_segment(first.id, 1, params={})
        store.delete_segment(first.id, 1)
        store.delete_segment(first.id, 1)  # gone already: no error
        assert [(s.number, s.index) for s in store.segments(experiment.id)] == [(1, 0), (2, 0)]
        store.delete_trials(experiment.id)
        assert store.segments(experiment.id) == []
