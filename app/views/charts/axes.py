"""Parameter axes for the parallel-coordinates and scatter charts, and best-so-far (no Qt).

A parameter's values across trials become positions in [0, 1]: numbers linearly
(or on a log scale for log-distributed ones), strings and booleans as evenly
spaced categories; a trial that lacks the parameter (a conditional branch not
taken) gets NaN, which the charts draw as a gap.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from app.engine.search.base import Goal
from app.engine.space.nodes import Choice, ChoiceKind, Group, Node, NumberParam, Space

MAX_CATEGORY_LABELS = 12
AUTO_LOG_RATIO = 100.0  # without a space, positive numbers spanning this factor get a log axis


class AxisKind(str, Enum):
    """How values map to positions."""

    LINEAR = "linear"
    LOG = "log"
    CATEGORY = "category"


@dataclass(frozen=True)
class ParamAxis:
    """One parameter's mapping from values to positions in [0, 1]."""

    name: str
    kind: AxisKind
    lo: float = 0.0
    hi: float = 1.0
    categories: tuple[str, ...] = ()

    def positions(self, values: Sequence[Any]) -> np.ndarray:
        """Positions of ``values`` (None for missing -> NaN)."""
        if self.kind is AxisKind.CATEGORY:
            count = len(self.categories)
            where = {c: (i / (count - 1) if count > 1 else 0.5)
                     for i, c in enumerate(self.categories)}
            return np.array([np.nan if v is None else where.get(category_key(v), np.nan)
                             for v in values], dtype=float)
        numbers = np.array([v if _is_number(v) else np.nan for v in values], dtype=float)
        lo, hi = self.lo, self.hi
        if self.kind is AxisKind.LOG:
            with np.errstate(invalid="ignore", divide="ignore"):
                numbers = np.log10(np.where(numbers > 0, numbers, np.nan))
            lo, hi = math.log10(lo), math.log10(hi)
        if hi == lo:
            return np.where(np.isfinite(numbers), 0.5, np.nan)
        return (numbers - lo) / (hi - lo)

    def ticks(self) -> list[tuple[float, str]]:
        """Labelled positions along the axis: categories, or both ends for numbers."""
        if self.kind is AxisKind.CATEGORY:
            if len(self.categories) == 1:
                return [(0.5, self.categories[0])]
            span = len(self.categories) - 1
            step = max(1, math.ceil(len(self.categories) / MAX_CATEGORY_LABELS))
            return [(i / span, c) for i, c in enumerate(self.categories) if i % step == 0]
        if self.lo == self.hi:
            return [(0.5, _fmt(self.lo))]
        return [(0.0, _fmt(self.lo)), (1.0, _fmt(self.hi))]

    def log_ticks(self) -> list[list[tuple[float, str]]]:
        """Major (labelled decades) and minor ticks for a log axis plotted as log10(value)."""
        lo, hi = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
        major = [(float(k), _fmt(10.0 ** k)) for k in range(lo, hi + 1)]
        minor = [(math.log10(m * 10.0 ** k), "") for k in range(lo, hi) for m in range(2, 10)]
        return [major, minor]

    @property
    def title(self) -> str:
        """The axis' label: the dotted name, with "(log)" for log axes."""
        return f"{self.name} (log)" if self.kind is AxisKind.LOG else self.name


def category_key(value: object) -> str:
    """The label a categorical value is shown and grouped by."""
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def build_axis(name: str, values: Sequence[Any], log: bool | None = None) -> ParamAxis:
    """The axis for one parameter from its values across trials (None = missing).

    ``log`` None guesses: positive numbers spanning a factor of
    :data:`AUTO_LOG_RATIO` or more get a log axis.
    """
    present = [v for v in values if v is not None]
    if present and all(_is_number(v) and math.isfinite(v) for v in present):
        lo, hi = float(min(present)), float(max(present))
        if log is None:
            log = lo > 0 and hi / lo >= AUTO_LOG_RATIO
        if log and lo > 0:
            return ParamAxis(name, AxisKind.LOG, lo, hi)
        return ParamAxis(name, AxisKind.LINEAR, lo, hi)
    categories: tuple[str, ...]
    if all(isinstance(v, bool) for v in present):
        categories = tuple(c for c in ("False", "True") if c in {category_key(v) for v in present})
    else:
        categories = tuple(sorted({category_key(v) for v in present}))
    return ParamAxis(name, AxisKind.CATEGORY, categories=categories)


def build_axes(rows: Sequence[Mapping[str, Any]], log_params: Collection[str] | None = None,
               keep_constant: bool = False) -> list[ParamAxis]:
    """One axis per dotted name found in ``rows`` (first-seen order).

    ``log_params`` names the log-scaled numbers (None: guess, see :func:`build_axis`).
    A name whose value is the same in every row (a fixed parameter) gets no axis
    unless ``keep_constant``.
    """
    names: dict[str, None] = {}
    for row in rows:
        for name in row:
            names.setdefault(name, None)
    axes = []
    for name in names:
        values = [row.get(name) for row in rows]
        if not keep_constant and _constant(values):
            continue
        log = None if log_params is None else name in log_params
        axes.append(build_axis(name, values, log=log))
    return axes


def _constant(values: Sequence[Any]) -> bool:
    if not values or any(v is None for v in values):
        return False
    first = category_key(values[0])
    return all(category_key(v) == first for v in values)


def log_scaled_params(space: Space) -> set[str]:
    """Dotted names of the numbers a space samples on a log scale."""
    found: set[str] = set()

    def visit(nodes: Sequence[Node], prefix: str) -> None:
        for node in nodes:
            path = prefix + node.name
            if isinstance(node, NumberParam):
                dist = node.effective_distribution()
                if node.auto and dist is not None and dist.is_log:
                    found.add(path)
            elif isinstance(node, Group):
                visit(node.children, path + ".")
            elif isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS:
                for branch in node.branches:
                    visit(branch.children, path + ".")

    visit(space.children, "")
    return found


def best_so_far(values: np.ndarray, goal: Goal) -> np.ndarray:
    """The best value up to each position (NaN entries are skipped, leading NaN stay NaN)."""
    signed = np.where(np.isfinite(values), goal.sign * values, np.inf)
    best = np.minimum.accumulate(signed) if len(signed) else signed
    return np.where(np.isinf(best), np.nan, goal.sign * best)
