"""``scheduler: {name: pbt, ...}``: read from the experiment file with each problem named
by its field; exploit and explore decided deterministically for a seed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from app.engine.experiment import ExperimentError, experiment_from_dict
from app.engine.schedulers import Decision, SchedulerName, make_scheduler
from app.engine.schedulers.pbt import (
    Exploit,
    Mutation,
    MutationKind,
    PbtScheduler,
    PbtSettings,
    explore,
)
from app.engine.search.base import Goal
from app.engine.space.files import space_from_document

SPACE = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 0.001, "max": 1.0, "default": 0.1},
    {"name": "batch", "type": "number", "integer": True, "auto": True,
     "distribution": "quniform", "min": 16, "max": 128, "step": 16, "default": 32},
    {"name": "act", "type": "choice", "kind": "strings", "auto": True,
     "values": ["relu", "tanh", "gelu"], "default": "relu"},
    {"name": "model", "type": "choice", "kind": "groups", "auto": True, "default": "mlp",
     "values": [{"name": "mlp", "type": "group", "children": [
         {"name": "width", "type": "number", "integer": True, "auto": True,
          "distribution": "quniform", "min": 8, "max": 64, "step": 8, "default": 16},
         {"name": "dropout", "type": "number", "auto": True, "distribution": "uniform",
          "min": 0.0, "max": 0.5, "default": 0.1}]},
         {"name": "linear", "type": "group", "children": []}]},
]}
PBT = {"name": "pbt", "population": 4, "interval": 2, "quantile": 0.25,
       "mutations": {"lr": {"kind": "perturb", "factors": [0.8, 1.2]},
                     "act": {"kind": "neighbours"}, "model.mlp.dropout": "resample"},
       "resample_probability": 0.0, "seed": 3}


def _doc(scheduler: dict[str, Any], **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 1, "name": "exp", "command": "{python} train.py",
                           "kpi": {"name": "acc", "goal": "max"}, "space": SPACE,
                           "limits": {"max_epochs": 12}, "scheduler": scheduler}
    doc.update(fields)
    return doc


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        experiment_from_dict(doc, tmp_path)
    return [str(p) for p in info.value.problems]


def test_the_pbt_section_is_read_and_round_trips(tmp_path: Path) -> None:
    config = experiment_from_dict(_doc(PBT), tmp_path)
    assert config.scheduler.name is SchedulerName.PBT
    assert (config.limits.max_parallel, config.limits.max_trials) == (4, 4)
    settings = config.scheduler.pbt
    assert settings.interval == 2 and settings.seed == 3
    assert settings.mutation_map["model.mlp.dropout"] == Mutation(MutationKind.RESAMPLE)
    again = experiment_from_dict(config.to_dict(), tmp_path)
    assert again.scheduler == config.scheduler and again.limits == config.limits
    assert isinstance(make_scheduler(config.scheduler, Goal.MAX, 12), PbtScheduler)


@pytest.mark.parametrize(("change", "problem"), [
    ({"mutations": {"model": {"kind": "resample"}}},
     "scheduler.mutations.model: a group or a choice of groups stays fixed under pbt"),
    ({"mutations": {"model.mlp": "resample"}},
     "scheduler.mutations.model.mlp: a group or a choice of groups stays fixed"),
    ({"mutations": {"lr": {"kind": "neighbours"}}},
     "scheduler.mutations.lr: neighbours is for a choice"),
    ({"mutations": {"act": "perturb"}}, "scheduler.mutations.act: perturb is for a number"),
    ({"mutations": {"lrr": "perturb"}}, "scheduler.mutations.lrr: no parameter 'lrr' in the "
                                        "space; parameters that can mutate: lr, batch, act"),
    ({"mutations": {"lr": {"kind": "perturb", "factors": [0.8, -1]}}},
     "scheduler.mutations.lr.factors: expected a list of positive numbers"),
    ({"mutations": {"lr": {"kind": "wiggle"}}}, "scheduler.mutations.lr.kind: unknown 'wiggle'"),
    ({"mutations": {"lr": {"kind": "perturb", "sigma": 1}}},
     "scheduler.mutations.lr.sigma: unknown field"),
    ({"mutations": {}}, "scheduler.mutations: pbt needs at least one parameter to mutate"),
    ({"quantile": 0.7}, "scheduler.quantile: expected a number from above 0 to 0.5"),
    ({"resample_probability": 2}, "scheduler.resample_probability: expected a number from 0"),
    ({"interval": 0}, "scheduler.interval: must be >= 1"),
    ({"population": 1}, "scheduler.population: must be >= 2"),
])
def test_bad_pbt_settings_are_named_by_their_field(tmp_path: Path, change: dict[str, Any],
                                                   problem: str) -> None:
    problems = _problems(_doc({**PBT, **change}), tmp_path)
    assert any(p.startswith(problem) for p in problems), problems


def test_population_and_max_parallel_agree(tmp_path: Path) -> None:
    problems = _problems(_doc(PBT, limits={"max_parallel": 3}), tmp_path)
    assert any(p.startswith("scheduler.population: 4 differs from limits.max_parallel 3")
               for p in problems), problems
    no_population = {k: v for k, v in PBT.items() if k != "population"}
    assert any(p.startswith("scheduler.population: pbt needs a population")
               for p in _problems(_doc(no_population), tmp_path))
    config = experiment_from_dict(_doc(no_population, limits={"max_parallel": 3}), tmp_path)
    assert (config.limits.max_parallel, config.limits.max_trials) == (3, 3)


def test_pbt_fields_under_another_scheduler_are_refused(tmp_path: Path) -> None:
    problems = _problems(_doc({"name": "asha", "interval": 2}), tmp_path)
    assert "scheduler.interval: only scheduler name pbt reads this field" in problems


def _space() -> Any:
    return space_from_document(SPACE, "space")


def test_explore_stays_inside_range_and_step_and_keeps_the_rest() -> None:
    settings = PbtSettings(mutations=(
        ("lr", Mutation(MutationKind.PERTURB, (0.8, 1.2))),
        ("batch", Mutation(MutationKind.PERTURB, (0.5, 2.0))),
        ("act", Mutation(MutationKind.NEIGHBOURS)),
        ("model.mlp.dropout", Mutation(MutationKind.RESAMPLE))), resample_probability=0.0)
    params = {"lr": 0.9, "batch": 112, "act": "relu",
              "model": {"_name": "mlp", "width": 16, "dropout": 0.1}}
    rng = random.Random(0)
    seen_lr = set()
    for _ in range(200):
        out = explore(params, _space(), settings, rng)
        assert params["lr"] == 0.9  # the input is not changed
        assert out["lr"] in (pytest.approx(0.72), 1.0)  # x1.2 is capped at max
        seen_lr.add(round(out["lr"], 6))
        assert out["batch"] in (48, 64, 128) and out["batch"] % 16 == 0
        assert out["act"] == "tanh"  # relu's only neighbour
        assert 0.0 <= out["model"]["dropout"] <= 0.5
        assert out["model"]["width"] == 16 and out["model"]["_name"] == "mlp"
    assert seen_lr == {0.72, 1.0}
    linear = {"lr": 0.1, "batch": 32, "act": "gelu", "model": {"_name": "linear"}}
    out = explore(linear, _space(), settings, random.Random(1))
    assert out["model"] == {"_name": "linear"} and out["act"] == "tanh"


def _decide(scheduler: PbtScheduler, results: list[tuple[int, int, float]]) -> list[Decision]:
    return [scheduler.on_result(trial, step, value) for trial, step, value in results]


def test_the_bottom_quantile_exploits_a_top_trial_with_a_checkpoint() -> None:
    scheduler = PbtScheduler(Goal.MAX, PbtSettings(interval=2, quantile=0.25), seed=5)
    assert _decide(scheduler, [(1, 1, 0.9), (2, 1, 0.5), (3, 1, 0.4), (4, 1, 0.1)]) == [
        Decision.CONTINUE] * 4
    # at step 2 trial 4 is last, but no top trial has published a checkpoint yet
    assert scheduler.on_result(4, 2, 0.1) is Decision.CONTINUE
    scheduler.on_checkpoint(1, 2)
    assert scheduler.on_result(1, 2, 0.95) is Decision.CONTINUE  # top: never exploits
    assert scheduler.on_result(4, 3, 0.1) is Decision.CONTINUE  # not an interval on yet
    assert scheduler.on_result(4, 4, 0.1) is Decision.EXPLOIT
    assert scheduler.decision(4) == Exploit(4, 1, 2)
    assert scheduler.decision(4) is None
    scheduler.continued(4, 1, 2)  # counts with the donor's score from now on
    assert scheduler.on_result(3, 4, 0.2) is Decision.EXPLOIT  # now last
    assert scheduler.decision(3) == Exploit(3, 1, 2)


def test_decisions_are_the_same_for_a_seed() -> None:
    def run(seed: int) -> list[Exploit | None]:
        scheduler = PbtScheduler(Goal.MIN, PbtSettings(interval=1, quantile=0.5), seed=seed)
        out = []
        for step in range(1, 30):
            for trial in range(1, 9):
                scheduler.on_checkpoint(trial, step)
                if scheduler.on_result(trial, step, (trial * 7 + step * 3) % 11) is \
                        Decision.EXPLOIT:
                    out.append(scheduler.decision(trial))
        return out
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_a_slurm_cluster_is_a_host_under_pbt(tmp_path: Path) -> None:
    from app.application.wiring import resolve_hosts
    from app.remote.slurm.profile import ClusterProfile
    from app.store.clusters import ClusterProfiles
    from app.store.store import Store

    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        ClusterProfiles(store).add(ClusterProfile("hpc"))
        config = experiment_from_dict(_doc(PBT, hosts=["local", "hpc"]), tmp_path)
        assert resolve_hosts(store, config) == [ClusterProfile("hpc")]
