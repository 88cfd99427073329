"""Which parameters the KPI depends on: permutation importance over a random forest (no Qt).

The statistics are scikit-learn's, not ours: a ``RandomForestRegressor`` learns the
KPI from the completed trials' dotted parameters, and
``sklearn.inspection.permutation_importance`` measures how much the forest's
squared error grows when one parameter's values are shuffled. This is done on
held-out trials (K-fold: fit on the other folds, shuffle in this one), because
on the trials a forest learnt from, importance rewards what it memorised. The
growth in error is divided by the KPI's variance, so an importance is a share
of the KPI's variance (like a drop in R²). Each parameter is one column of the
input, so a choice (one-hot encoded inside the pipeline) is shuffled as a
whole and gets one importance, not one per option.

Encoding: numbers as they are, booleans as 0/1, anything else (choices, branch
names) as a category; a parameter a trial does not have (a branch not taken)
is the category ``(absent)`` or, for numbers, a value below every real one, so
the trees can tell it apart.

scikit-learn is imported when the first importance is computed (about a
second), not when this module is, so the views that import it stay quick to open.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from app.application.analysis.ranking import ranked_result
from app.engine.params import flatten
from app.engine.records import TrialRecord

MIN_TRIALS = 10
"""Completed trials with a finite KPI needed before importances mean anything."""
DEFAULT_TREES = 64
DEFAULT_REPEATS = 5
MAX_FOLDS = 3
MAX_TRIALS = 2000
"""Beyond this many usable trials, a seeded random subset of this size is used."""
ABSENT = "(absent)"


class ImportanceError(ValueError):
    """Importance cannot be computed for these trials; the message says why."""


class NotEnoughTrials(ImportanceError):
    """Fewer usable trials than needed.

    Attributes:
        needed: how many completed trials with a finite KPI are needed.
        have: how many there are.
    """

    def __init__(self, needed: int, have: int, kpi_name: str) -> None:
        super().__init__(
            f"Parameter importance needs at least {needed} completed trials with a finite "
            f"{kpi_name}; there {'is' if have == 1 else 'are'} {have} so far "
            f"({needed - have} more needed).")
        self.needed = needed
        self.have = have


class ParamKind(str, Enum):
    """How a parameter is fed to the forest."""

    NUMBER = "number"
    BOOLEAN = "boolean"
    CATEGORY = "category"


@dataclass(frozen=True)
class ParamTable:
    """The completed trials as a design matrix: one row per trial, one column per parameter.

    Attributes:
        names: the dotted parameter names, in first-seen order.
        kinds: how each column is encoded.
        matrix: an object array, floats in number and boolean columns, strings in
            category columns.
        kpi: the trials' KPI values.
        trial_ids: the trial of each row.
    """

    names: tuple[str, ...]
    kinds: tuple[ParamKind, ...]
    matrix: npt.NDArray[np.object_]
    kpi: npt.NDArray[np.float64]
    trial_ids: tuple[int, ...]


@dataclass(frozen=True)
class ParamImportance:
    """One parameter's importance.

    Attributes:
        name: the dotted parameter name.
        kind: how it was encoded.
        mean: how much the held-out squared error grows when its values are shuffled,
            as a share of the KPI's variance (0: the forest does not use it; may be
            slightly negative by chance).
        std: the standard deviation of that growth over the shuffles and folds.
    """

    name: str
    kind: ParamKind
    mean: float
    std: float


@dataclass(frozen=True)
class ImportanceResult:
    """Importances of every parameter, most important first.

    Attributes:
        kpi_name: the KPI explained.
        params: one entry per parameter, by decreasing mean importance.
        trials_used: how many completed trials the forest learnt from.
        heldout_r2: the R² of the forests' predictions for the trials each did not
            learn from (how much of the KPI's variance the parameters explain; near
            zero or below, the importances are little more than noise).
        n_repeats: how many times each parameter was shuffled, per fold.
        folds: how many folds the trials were split into.
    """

    kpi_name: str
    params: tuple[ParamImportance, ...]
    trials_used: int
    heldout_r2: float
    n_repeats: int
    folds: int

    def importance(self, name: str) -> ParamImportance:
        """The entry of parameter ``name``.

        Raises:
            KeyError: when the result has no such parameter.
        """
        for entry in self.params:
            if entry.name == name:
                return entry
        raise KeyError(f"no parameter {name!r} in the importance result")


def usable_trials(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The completed trials with a finite KPI, in the order given."""
    return [t for t in trials if ranked_result(t) is not None]


def param_table(trials: Sequence[TrialRecord]) -> ParamTable:
    """Encode the usable trials' flattened params (see the module docstring).

    Raises:
        ImportanceError: when no usable trial has any parameter.
    """
    usable = usable_trials(trials)
    flats = [flatten(t.params) for t in usable]
    names: dict[str, None] = {}
    for flat in flats:
        for name in flat:
            names.setdefault(name, None)
    if not names:
        raise ImportanceError("the completed trials have no parameters to rank")
    matrix = np.empty((len(usable), len(names)), dtype=object)
    kinds: list[ParamKind] = []
    for column, name in enumerate(names):
        values = [flat.get(name) for flat in flats]
        kind = _kind([v for v in values if v is not None])
        kinds.append(kind)
        matrix[:, column] = _encode(values, kind)
    kpi = np.array([t.kpi for t in usable], dtype=np.float64)
    return ParamTable(tuple(names), tuple(kinds), matrix, kpi, tuple(t.id for t in usable))


def parameter_importance(trials: Sequence[TrialRecord], kpi_name: str = "KPI", *,
                         min_trials: int = MIN_TRIALS, n_estimators: int = DEFAULT_TREES,
                         n_repeats: int = DEFAULT_REPEATS, seed: int = 0) -> ImportanceResult:
    """Permutation importance of every parameter for the KPI of the completed trials.

    Runs for a second or more with many trials: call it off the GUI thread. The
    result is the same for the same trials and seed. Trials are split into up to
    :data:`MAX_FOLDS` folds; each fold's importance is measured by a forest fitted
    on the other folds.

    Args:
        trials: any trials; only the completed ones with a finite KPI are used.
        kpi_name: the KPI's name, for messages and the result.
        min_trials: refuse with fewer usable trials than this.
        n_estimators: trees in the forest.
        n_repeats: shuffles per parameter.
        seed: seeds the forest and the shuffles.

    Raises:
        NotEnoughTrials: with fewer than ``min_trials`` usable trials.
        ImportanceError: when the trials have no parameters, or every usable trial
            has the same KPI (there is nothing to explain).
        ValueError: when a count argument is out of range.
    """
    if min_trials < 2:
        raise ValueError(f"min_trials must be at least 2, got {min_trials}")
    if n_estimators < 1 or n_repeats < 1:
        raise ValueError(f"n_estimators ({n_estimators}) and n_repeats ({n_repeats}) "
                         "must be at least 1")
    have = len(usable_trials(trials))
    if have < min_trials:
        raise NotEnoughTrials(min_trials, have, kpi_name)
    table = param_table(trials)
    if float(np.ptp(table.kpi)) == 0.0:
        raise ImportanceError(f"every one of the {have} completed trials has {kpi_name} = "
                              f"{table.kpi[0]:.6g}: there is nothing to explain")
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    matrix, kpi = _subset(table, seed)
    variance = float(np.var(kpi))
    folds = min(MAX_FOLDS, len(kpi))
    template = _pipeline(table, n_estimators, seed)
    predicted = np.empty(len(kpi), dtype=np.float64)
    shuffles: list[npt.NDArray[np.float64]] = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(matrix):
        model = clone(template).fit(matrix[train], kpi[train])
        predicted[test] = np.asarray(model.predict(matrix[test]), dtype=np.float64)
        found = permutation_importance(model, matrix[test], kpi[test],
                                       scoring="neg_mean_squared_error",
                                       n_repeats=n_repeats, random_state=seed)
        shuffles.append(np.asarray(found.importances, dtype=np.float64) / variance)
    grown = np.concatenate(shuffles, axis=1)  # parameters x (folds * repeats)
    entries = [ParamImportance(name, kind, float(grown[i].mean()), float(grown[i].std()))
               for i, (name, kind) in enumerate(zip(table.names, table.kinds, strict=True))]
    entries.sort(key=lambda entry: -entry.mean)  # stable: ties keep first-seen order
    heldout = float(r2_score(kpi, predicted))
    return ImportanceResult(kpi_name, tuple(entries), len(kpi), heldout, n_repeats, folds)


def _subset(table: ParamTable, seed: int
            ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.float64]]:
    """The design matrix and KPIs, cut to :data:`MAX_TRIALS` rows (seeded) when larger."""
    if len(table.kpi) <= MAX_TRIALS:
        return table.matrix, table.kpi
    rows = np.sort(np.random.default_rng(seed).choice(len(table.kpi), MAX_TRIALS,
                                                      replace=False))
    return table.matrix[rows], table.kpi[rows]


def _pipeline(table: ParamTable, n_estimators: int, seed: int) -> Any:
    """One-hot for category columns, the rest passed through, then the forest."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categories = [i for i, kind in enumerate(table.kinds) if kind is ParamKind.CATEGORY]
    encode = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categories)],
        remainder="passthrough")
    forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    return Pipeline([("encode", encode), ("forest", forest)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(present: list[Any]) -> ParamKind:
    if not present:
        return ParamKind.CATEGORY  # only ever absent (or null): one category
    if all(isinstance(v, bool) for v in present):
        return ParamKind.BOOLEAN
    if all(_is_number(v) and math.isfinite(v) for v in present):
        return ParamKind.NUMBER
    return ParamKind.CATEGORY


def _encode(values: list[Any], kind: ParamKind) -> list[Any]:
    if kind is ParamKind.CATEGORY:
        return [ABSENT if v is None else v if isinstance(v, str)
                else json.dumps(v, sort_keys=True, default=str) for v in values]
    numbers = [None if v is None else float(v) for v in values]
    present = [v for v in numbers if v is not None]
    low, high = min(present), max(present)
    absent = low - (high - low) - 1.0  # below every real value: its own branch in a tree
    return [absent if v is None else v for v in numbers]
