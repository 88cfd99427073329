"""PBT with real detached processes on this machine: exploits copy the donor's newest
checkpoint into a folder of the trial's own and continue from its step with explored
params; every segment is stored; trials and steps are counted right."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.trial import ExperimentState
from app.store.store import Store
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import POPULATION, TRAIN, check_run, pbt_fields


def test_a_pbt_run_exploits_and_explores_with_real_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", str(POPULATION))
    starts = tmp_path / "starts"
    code = write_code(tmp_path, TRAIN)
    from app.engine.experiment import experiment_from_dict

    config = experiment_from_dict(experiment_doc(code, **pbt_fields({"STARTS": str(starts)})),
                                  code)
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        with running(store, experiment.id, grace=5.0) as (runner, _):
            wait_until(lambda: runner.wait(0), timeout=120, what="the run to end")
        assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
        segments = check_run(store, experiment.id, starts)
        exploits = [s for s in segments if s.is_exploit]
        assert exploits, "no trial exploited another"
        log = "\n".join(e.message for e in store.list_events(experiment.id))
        assert "exploits trial" in log
