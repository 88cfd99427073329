"""Permutation importance (scikit-learn) on synthetic trials where the answer is known."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from app.application.analysis.importance import (
    ABSENT,
    MIN_TRIALS,
    ImportanceError,
    NotEnoughTrials,
    ParamKind,
    param_table,
    parameter_importance,
)
from app.engine.records import TrialRecord
from app.engine.trial import TrialState

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def trial(number: int, params: dict[str, Any], kpi: float | None,
          state: TrialState = TrialState.COMPLETED) -> TrialRecord:
    return TrialRecord(id=100 + number, experiment_id=1, number=number, state=state,
                       params=params, created_at=T0, kpi=kpi)


def lr_matters(count: int, seed: int = 1) -> list[TrialRecord]:
    """loss depends on lr strongly, a little on the optimizer, not at all on the rest."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(count):
        lr = float(10 ** rng.uniform(-4, -1))
        opt = "sgd" if rng.random() < 0.5 else "adam"
        params = {"lr": lr, "batch": int(rng.choice([32, 64, 128])),
                  "noise_flag": bool(rng.random() < 0.5),
                  "optimizer": {"_name": opt}}
        loss = (math.log10(lr) + 2.5) ** 2 + (0.3 if opt == "sgd" else 0.0)
        out.append(trial(n, params, loss + float(rng.normal(0, 0.02))))
    return out


def test_the_parameter_the_kpi_depends_on_comes_first() -> None:
    result = parameter_importance(lr_matters(80), "loss", seed=3)
    names = [p.name for p in result.params]
    assert names[0] == "lr"
    assert names[1] == "optimizer"  # a choice: one importance for the whole choice
    lr, batch, flag = (result.importance(n) for n in ("lr", "batch", "noise_flag"))
    assert lr.mean > 0.5
    assert lr.mean > 20 * max(batch.mean, flag.mean, 1e-3)
    assert result.trials_used == 80
    assert result.heldout_r2 > 0.8
    assert result.folds == 3 and result.n_repeats == 5
    assert {p.name: p.kind for p in result.params} == {
        "lr": ParamKind.NUMBER, "batch": ParamKind.NUMBER,
        "noise_flag": ParamKind.BOOLEAN, "optimizer": ParamKind.CATEGORY}


def test_same_trials_and_seed_give_the_same_numbers() -> None:
    trials = lr_matters(30)
    first = parameter_importance(trials, seed=7, n_estimators=20, n_repeats=3)
    again = parameter_importance(trials, seed=7, n_estimators=20, n_repeats=3)
    assert first == again
    other = parameter_importance(trials, seed=8, n_estimators=20, n_repeats=3)
    assert other != first  # the seed is used


def test_only_completed_trials_with_a_finite_kpi_count() -> None:
    trials = lr_matters(MIN_TRIALS - 1)
    extra = [trial(90, {"lr": 0.01}, 0.2, TrialState.PRUNED),
             trial(91, {"lr": 0.01}, None),
             trial(92, {"lr": 0.01}, float("nan")),
             trial(93, {"lr": 0.01}, 0.5, TrialState.RUNNING)]
    with pytest.raises(NotEnoughTrials, match=f"at least {MIN_TRIALS} completed trials with a "
                       f"finite loss; there are {MIN_TRIALS - 1} so far \\(1 more needed\\)"
                       ) as caught:
        parameter_importance(trials + extra, "loss")
    assert (caught.value.needed, caught.value.have) == (MIN_TRIALS, MIN_TRIALS - 1)
    result = parameter_importance([*trials, trial(94, {"lr": 0.02}, 0.3)], "loss",
                                  n_estimators=20, n_repeats=2)
    assert result.trials_used == MIN_TRIALS


def test_encoding_of_booleans_choices_and_absent_branch_params() -> None:
    trials = [trial(0, {"bn": True, "opt": {"_name": "sgd", "momentum": 0.9}}, 1.0),
              trial(1, {"bn": False, "opt": {"_name": "adam", "beta1": 0.8}}, 2.0),
              trial(2, {"bn": True, "opt": {"_name": "sgd", "momentum": 0.5}}, 3.0),
              trial(3, {"bn": True, "opt": {"_name": "sgd", "momentum": 0.7}}, None)]
    table = param_table(trials)
    assert table.names == ("bn", "opt", "opt.momentum", "opt.beta1")
    assert table.kinds == (ParamKind.BOOLEAN, ParamKind.CATEGORY, ParamKind.NUMBER,
                           ParamKind.NUMBER)
    assert table.trial_ids == (100, 101, 102)
    assert table.matrix[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert table.matrix[:, 1].tolist() == ["sgd", "adam", "sgd"]
    momentum = table.matrix[:, 2].tolist()
    assert momentum[0] == 0.9 and momentum[2] == 0.5
    assert momentum[1] < 0.5  # absent: below every real value
    assert table.matrix[:, 3].tolist()[0] < 0.8
    mixed = param_table([trial(0, {"act": "relu"}, 1.0), trial(1, {"act": 7}, 2.0),
                         trial(2, {}, 3.0), trial(3, {"act": "gelu"}, 1.5)])
    assert mixed.kinds == (ParamKind.CATEGORY,)
    assert mixed.matrix[:, 0].tolist() == ["relu", "7", ABSENT, "gelu"]


def test_a_parameter_that_never_varies_gets_no_importance() -> None:
    trials = [trial(n, {"x": float(n), "fixed": 3}, float(n) ** 2) for n in range(20)]
    result = parameter_importance(trials, n_estimators=30, n_repeats=3)
    assert result.importance("fixed").mean == 0.0
    assert result.params[0].name == "x"


def test_refusals_say_what_is_wrong() -> None:
    flat = [trial(n, {"x": float(n)}, 0.5) for n in range(12)]
    with pytest.raises(ImportanceError, match=r"every one of the 12 completed trials has "
                       r"loss = 0\.5: there is nothing to explain"):
        parameter_importance(flat, "loss")
    with pytest.raises(ImportanceError, match="no parameters to rank"):
        parameter_importance([trial(n, {}, float(n)) for n in range(12)])
    with pytest.raises(ValueError, match="min_trials must be at least 2, got 1"):
        parameter_importance(flat, min_trials=1)
    with pytest.raises(ValueError, match=r"n_estimators \(0\) and n_repeats \(5\)"):
        parameter_importance(flat, n_estimators=0, n_repeats=5)
    with pytest.raises(KeyError, match="no parameter 'nope'"):
        parameter_importance(lr_matters(12), n_estimators=10, n_repeats=2).importance("nope")
