"""What to try next: the searcher interface and the optimisation goal."""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Any, Protocol

from app.engine.choices import Algorithm as Algorithm  # its home: a light module for the CLI
from app.engine.trial import TrialState


class Goal(str, Enum):
    """Whether a lower or a higher KPI is better."""

    MIN = "min"
    MAX = "max"

    @property
    def sign(self) -> int:
        """Multiply a KPI by this to get a loss (lower is better)."""
        return 1 if self is Goal.MIN else -1

    def loss(self, value: float | None) -> float | None:
        """The loss for a KPI value; None for a missing or non-finite value."""
        if value is None or not math.isfinite(value):
            return None
        return self.sign * value

    def better(self, a: float, b: float) -> bool:
        """True if ``a`` is strictly better than ``b``."""
        return a < b if self is Goal.MIN else a > b


class Searcher(Protocol):
    """Suggests parameters and learns from results.

    Contract: not thread-safe; one thread at a time calls it (the runner's, or its
    suggest-ahead worker, :mod:`app.engine.search.ahead`, never both at once).
    ``trial_id`` values are unique and chosen by the caller. Params are the nested form (see
    ``app.engine.params``) of plain JSON types. For a fixed seed, a searcher told
    the same results (in any mix of :meth:`on_trial_complete` and
    :meth:`restore`) suggests the same next point.
    """

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """Parameters for a new trial, or None when the searcher has nothing left."""
        ...

    def on_trial_complete(self, trial_id: int, value: float | None, state: TrialState) -> None:
        """Tell the KPI of a trial this searcher suggested (None or NaN: no usable value)."""
        ...

    def restore(
        self,
        trial_id: int,
        params: dict[str, Any],
        value: float | None,
        state: TrialState,
    ) -> None:
        """Tell a trial it may never have suggested (warm start from the database).

        A trial that is not finished is registered as pending. Raises
        ``ParamsMismatch`` when the params do not fit the space.
        """
        ...


_HIGHER = re.compile(r"acc|accuracy|auc|f1|score|r2|precision|recall|map|iou|dice|bleu|rouge|"
                     r"reward|return|ndcg|mrr|top\d|hit|psnr|ssim|throughput|fps|gain")
_LOWER = re.compile(r"loss|err|error|mse|mae|rmse|nll|perplexity|ppl|cost|regret|time|latency|"
                    r"distance|wer|cer|fid|lpips|risk")


def goal_for_metric(name: str) -> Goal:
    """Whether a KPI called ``name`` is better high or low, from the words in its name:
    ``val_acc``, ``auc``, ``f1``, ``score``, ``r2``… are maximised; ``loss``,
    ``error``, ``mse``… and any name that says neither are minimised (a loss is the
    common case). A lower-is-better word wins over a higher one (``acc_loss``)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if any(_LOWER.fullmatch(w) for w in words):
        return Goal.MIN
    if any(_HIGHER.fullmatch(w) for w in words):
        return Goal.MAX
    return Goal.MIN
