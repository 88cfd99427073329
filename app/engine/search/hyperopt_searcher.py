"""hyperopt's rand, tpe and anneal driven ask/tell over a ``hyperopt.Trials`` object.

No ``fmin``: each suggestion calls ``algo(new_ids, domain, trials, seed)``, inserts
the new document, and a result later marks it done with ``loss = sign x KPI``.
hyperopt's trial ids are ours, and each suggestion's seed is derived from the
searcher's seed and the trial id, so a searcher rebuilt from stored results
suggests exactly what the original would have.

hyperopt (and the scipy it loads, a second at start-up) is imported when a searcher is
made, not with this module: the commands that only read experiments never load it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.engine.search.base import Algorithm, Goal
from app.engine.space.nodes import Space
from app.engine.space.sampling import raw_values, to_hyperopt, values_from_raw
from app.engine.trial import TrialState

if TYPE_CHECKING:
    from hyperopt import Domain, Trials

# hyperopt logs every TPE call at INFO; that is noise in a trial log.
logging.getLogger("hyperopt").setLevel(logging.WARNING)

Suggest = Callable[[list[int], "Domain", "Trials", int], list[dict[str, Any]]]

DEFAULT_INITIAL_RANDOM = 20
"""TPE's random start without early stopping (hyperopt's own default)."""
EARLY_STOPPING_INITIAL_RANDOM = 5
"""TPE's random start under an early-stopping scheduler: a bad suggestion costs only
its first rung there, so TPE may start modelling sooner (see docs/PERFORMANCE.md,
"Search efficiency": 5 against 10 cut ASHA + TPE's epochs to target on two sets of
20 seeds)."""


def _objective(_: Any) -> float:  # pragma: no cover - never called: no fmin
    return 0.0


class HyperoptSearcher:
    """Random, TPE or simulated annealing over a :class:`Space`.

    Args:
        space: a valid space tree (validate it first).
        algorithm: RANDOM, TPE or ANNEAL.
        goal: whether the KPI is minimised or maximised.
        seed: makes every suggestion reproducible.
        initial_random: TPE's random start (hyperopt's ``n_startup_jobs``).
    """

    def __init__(
        self,
        space: Space,
        algorithm: Algorithm,
        goal: Goal = Goal.MIN,
        seed: int = 0,
        initial_random: int = DEFAULT_INITIAL_RANDOM,
    ) -> None:
        from hyperopt import Domain, Trials, anneal, rand, tpe

        if algorithm is Algorithm.GRID:
            raise ValueError("grid search is GridSearcher's job")
        if initial_random < 0:
            raise ValueError(f"initial random trials must be >= 0, got {initial_random}")
        self._space = space
        self._goal = goal
        self._seed = seed
        self._algo: Suggest
        if algorithm is Algorithm.TPE:
            self._algo = functools.partial(
                tpe.suggest, n_startup_jobs=initial_random, verbose=False
            )
        elif algorithm is Algorithm.ANNEAL:
            self._algo = anneal.suggest
        else:
            self._algo = rand.suggest
        # hyperopt cannot build a domain over an empty dict; a placeholder key
        # keeps an empty space legal (it simply has nothing to search).
        self._domain = Domain(_objective, to_hyperopt(space) or {"_empty": None})
        self._labels = sorted(self._domain.params)
        self._trials = Trials()
        self._docs: dict[int, dict[str, Any]] = {}
        self._stale = False  # restored docs not yet seen by Trials.refresh()

    def _seed_for(self, trial_id: int) -> int:
        return (self._seed * 1_000_003 + trial_id * 7_919) % (2**31 - 1)

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """Ask hyperopt for one new point."""
        if trial_id in self._docs:
            raise ValueError(f"trial {trial_id} was already suggested or restored")
        if not self._labels:
            params = values_from_raw(self._space, {})
            self._insert(trial_id, {}, None)
            return params
        if self._stale:
            self._trials.refresh()
            self._stale = False
        docs = self._algo([trial_id], self._domain, self._trials, self._seed_for(trial_id))
        self._trials.insert_trial_docs(docs)
        self._trials.refresh()
        doc = self._trials._dynamic_trials[-1]
        self._docs[trial_id] = doc
        raw = {k: v[0] for k, v in doc["misc"]["vals"].items() if len(v)}
        return values_from_raw(self._space, raw)

    def propose(self, trial_id: int) -> dict[str, Any]:
        """The raw values hyperopt draws for ``trial_id`` now, recorded nowhere: the
        searcher is as before until :meth:`accept` records them (for any trial id).

        For the same results told, ``accept(trial_id, propose(trial_id))`` is
        :meth:`suggest`.
        """
        from hyperopt.base import SONify

        if trial_id in self._docs:
            raise ValueError(f"trial {trial_id} was already suggested or restored")
        if not self._labels:
            return {}
        if self._stale:
            self._trials.refresh()
            self._stale = False
        docs = self._algo([trial_id], self._domain, self._trials, self._seed_for(trial_id))
        vals: dict[str, Any] = SONify(docs[0]["misc"]["vals"])
        return {k: v[0] for k, v in vals.items() if len(v)}

    def accept(self, trial_id: int, raw: dict[str, Any]) -> dict[str, Any]:
        """Record ``raw`` (from :meth:`propose`) as trial ``trial_id``'s suggestion,
        pending until its result is told; returns its params."""
        if trial_id in self._docs:
            raise ValueError(f"trial {trial_id} was already suggested or restored")
        self._insert(trial_id, raw, None)
        return values_from_raw(self._space, raw)

    def on_trial_complete(self, trial_id: int, value: float | None, state: TrialState) -> None:
        """Mark the trial's document done with its loss (or failed without a value)."""
        doc = self._docs.get(trial_id)
        if doc is None:
            raise KeyError(f"trial {trial_id} is unknown to this searcher; use restore()")
        self._finish(doc, value, state)
        self._trials.refresh()

    def restore(
        self, trial_id: int, params: dict[str, Any], value: float | None, state: TrialState
    ) -> None:
        """Insert a stored trial as if this searcher had suggested it."""
        if trial_id in self._docs:
            if state.is_finished():
                self.on_trial_complete(trial_id, value, state)
            return
        raw = raw_values(self._space, params)
        self._insert(trial_id, raw, (value, state) if state.is_finished() else None)

    def _insert(
        self, trial_id: int, raw: dict[str, Any], outcome: tuple[float | None, TrialState] | None
    ) -> None:
        misc = {
            "tid": trial_id,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": {k: [trial_id] if k in raw else [] for k in self._labels},
            "vals": {k: [raw[k]] if k in raw else [] for k in self._labels},
        }
        from hyperopt.base import JOB_STATE_NEW

        docs = self._trials.new_trial_docs([trial_id], [None], [{"status": "new"}], [misc])
        doc = docs[0]
        doc["state"] = JOB_STATE_NEW
        if outcome is not None:
            self._finish(doc, *outcome)
        self._trials.insert_trial_docs(docs)
        # refreshing is O(n); a warm start of n trials refreshes once, before the
        # next suggestion, instead of after every insert
        self._stale = True
        self._docs[trial_id] = self._trials._dynamic_trials[-1]

    def _finish(self, doc: dict[str, Any], value: float | None, state: TrialState) -> None:
        from hyperopt import STATUS_FAIL, STATUS_OK
        from hyperopt.base import JOB_STATE_DONE

        loss = self._goal.loss(value)
        doc["state"] = JOB_STATE_DONE
        if loss is None or state in (TrialState.FAILED, TrialState.LOST):
            doc["result"] = {"status": STATUS_FAIL}
        else:
            doc["result"] = {"status": STATUS_OK, "loss": loss}
