"""What a resume does with each trial an earlier run left unfinished, by what the
database and the trial's folder say (``app.engine.resume.settle_leftovers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.records import LaunchClaim, TrialRecord
from app.engine.reruns import Rerun
from app.engine.resume import settle_leftovers
from app.engine.trial import TrialState
from app.store.store import Store
from tests.helpers import store_experiment


@pytest.mark.parametrize("found", list(LaunchClaim))
def test_a_trial_stored_as_launching_is_settled_by_its_claim(tmp_path: Path,
                                                             found: LaunchClaim) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment_id = store_experiment(store, tmp_path, "print(1)\n")
        trial = store.create_trial(experiment_id, {"x": 0.5})
        store.update_trial(trial.id, host="local", trial_dir=str(tmp_path / "t"))
        asked: list[TrialRecord] = []

        def claim(record: TrialRecord) -> LaunchClaim:
            asked.append(record)
            return found

        left = settle_leftovers(store, experiment_id, lambda _: True, claim)
        after = store.get_trial(trial.id)
        assert [record.id for record in asked] == [trial.id]
        if found is LaunchClaim.STARTED:  # followed from the start of its log
            assert left.attached == [after] and after.state is TrialState.RUNNING
            assert after.log_offset == 0 and after.started_at is not None
        elif found is LaunchClaim.ABANDONED:  # the same trial starts again
            assert left.waiting == [after] and after.state is TrialState.QUEUED
            assert after.trial_dir is None and not left.reruns
        else:  # fate unknown: run its params again as a new trial
            assert after.state is TrialState.STOPPED and left.reruns == [Rerun({"x": 0.5}, 1)]
        assert len(store.list_trials(experiment_id)) == 1


def test_a_trial_stored_but_never_sent_anywhere_starts_again_as_itself(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment_id = store_experiment(store, tmp_path, "print(1)\n")
        trial = store.create_trial(experiment_id, {"x": 0.5})

        def claim(record: TrialRecord) -> LaunchClaim:
            raise AssertionError("nothing to claim: it was never launched")

        left = settle_leftovers(store, experiment_id, lambda _: True, claim)
        assert [record.id for record in left.waiting] == [trial.id]
        assert store.get_trial(trial.id).state is TrialState.QUEUED
        assert not left.reruns and not left.attached
