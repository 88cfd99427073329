"""The experiment file's ``scheduler`` section, and how a pruned trial ends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.engine.experiment import ExperimentError, Kpi, experiment_from_dict
from app.engine.live import LiveTrial, StopReason, searcher_value
from app.engine.records import TrialRecord
from app.engine.schedulers import SchedulerConfig, SchedulerName
from app.engine.search.base import Goal
from app.engine.trial import TrialState

SPACE = {"version": 1, "space": [
    {"name": "x", "type": "number", "auto": True, "distribution": "uniform", "min": 0.0,
     "max": 1.0, "default": 0.5}]}


def _doc(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 1, "name": "exp", "command": "{python} train.py",
                           "kpi": {"name": "loss"}, "space": SPACE,
                           "limits": {"max_trials": 4, "max_epochs": 9}}
    doc.update(fields)
    return doc


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        experiment_from_dict(doc, tmp_path)
    return [str(p) for p in info.value.problems]


def test_fifo_is_the_default_and_every_setting_round_trips(tmp_path: Path) -> None:
    config = experiment_from_dict(_doc(), tmp_path)
    assert config.scheduler == SchedulerConfig()
    assert config.scheduler.name is SchedulerName.FIFO
    section = {"name": "hyperband", "grace_period": 2, "reduction_factor": 4, "min_trials": 5}
    config = experiment_from_dict(_doc(scheduler=section), tmp_path)
    assert config.scheduler == SchedulerConfig(SchedulerName.HYPERBAND, 2, 4, 5)
    assert config.to_dict()["scheduler"] == section
    again = experiment_from_dict(config.to_dict(), tmp_path)
    assert again.scheduler == config.scheduler


@pytest.mark.parametrize(("section", "problem"), [
    ({"name": "sha"}, "scheduler.name: unknown 'sha' (expected one of fifo, asha, hyperband, "
                      "median, pbt)"),
    ({"name": "asha", "reduction_factor": 1}, "scheduler.reduction_factor: must be >= 2, got 1"),
    ({"name": "asha", "grace_period": 0}, "scheduler.grace_period: must be >= 1, got 0"),
    ({"name": "median", "min_trials": "3"}, "scheduler.min_trials: expected a whole number"),
    ({"name": "asha", "eta": 3}, "scheduler.eta: unknown field"),
])
def test_bad_settings_are_named_by_their_path(tmp_path: Path, section: dict[str, Any],
                                              problem: str) -> None:
    problems = _problems(_doc(scheduler=section), tmp_path)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_scheduler_section_must_be_a_mapping(tmp_path: Path) -> None:
    assert _problems(_doc(scheduler="asha"), tmp_path) == [
        "scheduler: expected a mapping, got 'asha'"]


@pytest.mark.parametrize("name", ["asha", "hyperband"])
def test_rung_schedulers_need_max_epochs(tmp_path: Path, name: str) -> None:
    problems = _problems(_doc(scheduler={"name": name}, limits={"max_trials": 4}), tmp_path)
    assert problems == [f"scheduler.name: {name} needs limits.max_epochs (its rungs lie below "
                        "the max epochs)"]
    # median decides at any step: no max epochs needed
    experiment_from_dict(_doc(scheduler={"name": "median"}, limits={}), tmp_path)


def _live(kpi: Kpi) -> LiveTrial:
    record = TrialRecord(id=7, experiment_id=1, number=3, params={"x": 0.5},
                         state=TrialState.RUNNING, created_at=datetime.now(UTC))
    return LiveTrial(record, executor=None, kpi=kpi)  # type: ignore[arg-type]


def test_a_pruned_trial_ends_pruned_with_its_last_value_for_the_searcher() -> None:
    live = _live(Kpi("loss", Goal.MIN))
    for value in (0.9, 0.5, 0.7):
        live.add_kpi(value)
    live.stop_reason = StopReason.PRUNED
    for exit_code in (None, 0, 130):  # however the interrupted process ends
        assert live.outcome(exit_code) == (TrialState.PRUNED, None)
    assert live.kpi_value() == 0.7
    assert searcher_value(TrialState.PRUNED, live.kpi_value()) == 0.7
    assert searcher_value(TrialState.PRUNED, float("nan")) is None
    assert searcher_value(TrialState.STOPPED, 0.7) is None


@pytest.mark.parametrize(("scheduler", "start"), [
    ("fifo", 20), ("asha", 5), ("hyperband", 5), ("median", 5)])
def test_tpe_random_start_is_auto_until_set(tmp_path: Path, scheduler: str,
                                           start: int) -> None:
    config = experiment_from_dict(_doc(scheduler={"name": scheduler}), tmp_path)
    assert config.initial_random is None and config.random_start == start
    assert "initial_random" not in config.to_dict()["algorithm"]
    again = experiment_from_dict(config.to_dict(), tmp_path)
    assert again.initial_random is None and again.random_start == start
    chosen = experiment_from_dict(
        _doc(scheduler={"name": scheduler}, algorithm={"name": "tpe", "initial_random": 0}),
        tmp_path)
    assert chosen.random_start == 0
    assert chosen.to_dict()["algorithm"]["initial_random"] == 0
