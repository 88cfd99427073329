"""Population-based training's decisions (Jaderberg et al. 2017): exploit and explore.

The population is the trials running at once (``limits.max_parallel``). Every
``interval`` steps of a trial, its latest KPI value is ranked among the population's
latest values. A trial in the bottom ``quantile`` exploits: it takes the newest
published checkpoint of a trial in the top ``quantile`` (the donor, picked at random)
and explores: each parameter named under ``mutations`` is perturbed (numbers by a
factor, kept inside their range and on their step), moved to a neighbouring value
(choices), or with ``resample_probability`` drawn afresh from the space. Nothing else
changes: a choice of groups and any parameter that shapes the model stay as they were
(a checkpoint only fits the model it came from).

:class:`PbtScheduler` is the decision half (pure, deterministic for a seed and the
same sequence of calls); carrying a decision out with processes is
:class:`app.engine.population.Population`'s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from app.engine.doc_reader import DocReader
from app.engine.errors import Problem
from app.engine.params import BRANCH_KEY
from app.engine.schedulers.base import Decision, score
from app.engine.search.base import Goal
from app.engine.space.document import describe, number_problem
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Space,
)

DEFAULT_FACTORS = (0.8, 1.2)


class MutationKind(str, Enum):
    """How one parameter changes at an exploit."""

    PERTURB = "perturb"
    """A number times one of ``factors``, kept inside its range and on its step."""
    RESAMPLE = "resample"
    """Drawn afresh from its range or values."""
    NEIGHBOURS = "neighbours"
    """A choice of strings or numbers moves to the value before or after it."""


@dataclass(frozen=True)
class Mutation:
    """How one parameter (by its path in the space) mutates."""

    kind: MutationKind = MutationKind.PERTURB
    factors: tuple[float, ...] = DEFAULT_FACTORS


@dataclass(frozen=True)
class PbtSettings:
    """The PBT fields of the ``scheduler`` section (``name: pbt``).

    The population is ``limits.max_parallel`` (``population`` in the file sets it).
    """

    interval: int = 4
    quantile: float = 0.25
    mutations: tuple[tuple[str, Mutation], ...] = ()
    resample_probability: float = 0.25
    seed: int | None = None
    """None: the experiment's algorithm seed."""

    @property
    def mutation_map(self) -> dict[str, Mutation]:
        """``mutations`` by parameter path."""
        return dict(self.mutations)

    def to_dict(self) -> dict[str, Any]:
        """The fields as the experiment file spells them."""
        doc: dict[str, Any] = {
            "interval": self.interval, "quantile": self.quantile,
            "resample_probability": self.resample_probability,
            "mutations": {path: {"kind": m.kind.value, "factors": list(m.factors)}
                          for path, m in self.mutations},
        }
        if self.seed is not None:
            doc["seed"] = self.seed
        return doc


def mutation_problems(settings: PbtSettings, space: Space) -> list[Problem]:
    """Why the mutations cannot apply to ``space``, each naming its field."""
    problems: list[Problem] = []
    if not settings.mutations:
        problems.append(Problem("scheduler.mutations", "pbt needs at least one parameter "
                                "to mutate, e.g. mutations: {lr: {kind: perturb}}"))
    for path, mutation in settings.mutations:
        where = f"scheduler.mutations.{path}"
        node = space.find(path)
        if node is None:
            known = ", ".join(p for p, n in space.walk() if _mutable(n)) or "(none)"
            problems.append(Problem(where, f"no parameter {path!r} in the space; parameters "
                                    f"that can mutate: {known}"))
            continue
        why = _refusal(node, mutation.kind)
        if why is not None:
            problems.append(Problem(where, why))
    return problems


def _mutable(node: Node) -> bool:
    return isinstance(node, NumberParam | BooleanParam) or (
        isinstance(node, Choice) and node.kind is not ChoiceKind.GROUPS)


def _refusal(node: Node, kind: MutationKind) -> str | None:
    if isinstance(node, Group) or (isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS):
        return ("a group or a choice of groups stays fixed under pbt: a checkpoint fits only "
                "the model it came from, so PBT cannot swap architectures (search those "
                "with another scheduler)")
    if isinstance(node, NumberParam):
        if kind is MutationKind.NEIGHBOURS:
            return "neighbours is for a choice; a number takes perturb or resample"
        if node.min is None or node.max is None:
            return "a number to mutate needs min and max (perturbed values stay inside them)"
        return None
    if isinstance(node, Choice | BooleanParam):
        if kind is MutationKind.PERTURB:
            return "perturb is for a number; a choice takes neighbours or resample"
        return None
    return f"a {node.kind_label} cannot mutate (a number, a boolean or a choice can)"


def explore(params: Mapping[str, Any], space: Space, settings: PbtSettings,
            rng: random.Random) -> dict[str, Any]:
    """A copy of the nested ``params`` with each mutation applied (a parameter the
    trial does not have, under a branch it did not take, is left out)."""
    out = _copy(params)
    for path, mutation in settings.mutations:
        node = space.find(path)
        holder, key = _locate(out, path, space)
        if node is None or holder is None or key not in holder:
            continue
        resample = (mutation.kind is MutationKind.RESAMPLE
                    or rng.random() < settings.resample_probability)
        holder[key] = _mutate(node, holder[key], mutation, resample, rng)
    return out


def _copy(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in params.items()}


def _locate(params: dict[str, Any], path: str, space: Space) -> tuple[dict[str, Any] | None,
                                                                      str]:
    """The dict holding the value at tree ``path`` (branch names skipped when taken)."""
    parts = path.split(".")
    holder: Any = params
    prefix = ""
    i = 0
    while i < len(parts) - 1:
        prefix = f"{prefix}.{parts[i]}" if prefix else parts[i]
        node = space.find(prefix)
        if not isinstance(holder, dict) or parts[i] not in holder:
            return None, parts[-1]
        holder = holder[parts[i]]
        if isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS:
            i += 1  # the branch name: the taken branch's dict, if it is this one
            if not isinstance(holder, dict) or holder.get(BRANCH_KEY) != parts[i]:
                return None, parts[-1]
            prefix = f"{prefix}.{parts[i]}"
        i += 1
    return (holder if isinstance(holder, dict) else None), parts[-1]


def _mutate(node: Node, value: Any, mutation: Mutation, resample: bool,
            rng: random.Random) -> Any:
    if isinstance(node, NumberParam):
        return _number(node, value, mutation, resample, rng)
    if isinstance(node, BooleanParam):
        return rng.random() < 0.5 if resample else value
    if isinstance(node, Choice):
        values = list(node.values)
        if resample or value not in values:
            return values[rng.randrange(len(values))]
        at = values.index(value)
        moves = [i for i in (at - 1, at + 1) if 0 <= i < len(values)]
        return values[rng.choice(moves)] if moves else value
    return value


def _number(node: NumberParam, value: Any, mutation: Mutation, resample: bool,
            rng: random.Random) -> float | int:
    low, high = float(node.min or 0), float(node.max or 0)
    log = node.distribution is not None and node.distribution.is_log and low > 0
    if resample:
        new = (math.exp(rng.uniform(math.log(low), math.log(high))) if log
               else rng.uniform(low, high))
    else:
        new = float(value) * rng.choice(mutation.factors)
    new = min(max(new, low), high)
    step = node.effective_step()
    if node.distribution is Distribution.RANDINT:
        step = 1
    if step:
        bounds = node.grid_bounds()
        multiple = round(new / step)
        if bounds is not None:
            multiple = min(max(multiple, bounds[0]), bounds[1])
        new = multiple * step
    if node.gives_int:
        return round(new)
    return float(new)


@dataclass
class _Member:
    score: float = -math.inf
    scored: bool = False
    ready_at: int = 0
    """The step from which the next decision is due (its last decision's step)."""
    checkpoint: int | None = None


@dataclass(frozen=True)
class Exploit:
    """A decision: trial ``trial`` continues from ``donor``'s checkpoint of ``step``."""

    trial: int
    donor: int
    step: int


@dataclass
class PbtScheduler:
    """Exploit decisions over the running population (the :class:`Scheduler` protocol
    plus :meth:`on_checkpoint`, :meth:`decision` and :meth:`continued`).

    ``on_result`` answers :attr:`Decision.EXPLOIT` when the trial should take another's
    checkpoint; :meth:`decision` then says whose and which step. Finished trials leave
    the population. Called from the runner thread only.
    """

    goal: Goal
    settings: PbtSettings
    seed: int = 0
    _members: dict[int, _Member] = field(default_factory=dict)
    _decided: dict[int, Exploit] = field(default_factory=dict)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        if self.settings.interval < 1:
            raise ValueError(f"pbt interval must be >= 1, got {self.settings.interval}")
        if not 0 < self.settings.quantile <= 0.5:
            raise ValueError(f"pbt quantile must be in (0, 0.5], got {self.settings.quantile}")
        seed = self.settings.seed if self.settings.seed is not None else self.seed
        self.rng = random.Random(seed)

    def on_result(self, trial: int, step: int, value: float) -> Decision:
        """Record the value; at an interval, EXPLOIT for a trial in the bottom quantile:
        its donor is one of the best ``quantile`` of the trials that have published a
        checkpoint (and score better than it)."""
        member = self._members.setdefault(trial, _Member())
        member.score, member.scored = score(self.goal, value), True
        if step - member.ready_at < self.settings.interval:
            return Decision.CONTINUE
        member.ready_at = step
        ranked = sorted((t for t, m in self._members.items() if m.scored),
                        key=lambda t: (self._members[t].score, t))
        cut = int(len(ranked) * self.settings.quantile)
        if cut < 1 or trial not in ranked[:cut]:
            return Decision.CONTINUE
        givers = [t for t in ranked if self._members[t].checkpoint is not None]
        donors = [t for t in givers[-cut:]
                  if t != trial and self._members[t].score > member.score]
        if not donors:
            return Decision.CONTINUE
        donor = donors[self.rng.randrange(len(donors))]
        step_copied = self._members[donor].checkpoint
        assert step_copied is not None
        self._decided[trial] = Exploit(trial, donor, step_copied)
        return Decision.EXPLOIT

    def decision(self, trial: int) -> Exploit | None:
        """The exploit :meth:`on_result` decided for ``trial`` (taken: asked once)."""
        return self._decided.pop(trial, None)

    def on_checkpoint(self, trial: int, step: int) -> None:
        """``trial`` published its checkpoint of ``step``: it may be copied from now on."""
        self._members.setdefault(trial, _Member()).checkpoint = step

    def continued(self, trial: int, donor: int, step: int) -> None:
        """``trial`` continues from ``donor``'s checkpoint of ``step``: it counts with the
        donor's score until it reports, and its next decision is an interval on."""
        member = self._members.setdefault(trial, _Member())
        giver = self._members.get(donor)
        if giver is not None and giver.scored:
            member.score, member.scored = giver.score, True
        member.ready_at, member.checkpoint = step, None

    def on_complete(self, trial: int, value: float | None) -> None:
        """A finished trial leaves the population."""
        self._members.pop(trial, None)
        self._decided.pop(trial, None)


PBT_FIELDS = {"population", "interval", "quantile", "mutations", "resample_probability",
              "seed"}
"""The ``scheduler`` fields only ``name: pbt`` reads."""


def read_settings(r: DocReader, d: dict[str, Any]) -> PbtSettings:
    """The PBT fields of the ``scheduler`` mapping ``d``, each problem named by its field
    (``population`` is read with the limits, see the experiment's reader)."""
    interval = r.integer(d, "interval", "scheduler.interval", 4, 1) or 4
    quantile = _fraction(r, d, "quantile", 0.25, upper=0.5)
    probability = _fraction(r, d, "resample_probability", 0.25, upper=1.0, zero=True)
    seed = r.integer(d, "seed", "scheduler.seed", None, 0)
    raw = d.get("mutations", {})
    mutations: list[tuple[str, Mutation]] = []
    if not isinstance(raw, dict):
        r.problem("scheduler.mutations", "expected a mapping of parameter: {kind, factors}, "
                                         f"got {describe(raw)}")
        raw = {}
    for path, item in raw.items():
        where = f"scheduler.mutations.{path}"
        if isinstance(item, str):
            item = {"kind": item}
        if not isinstance(item, dict):
            r.problem(where, f"expected {{kind: perturb|resample|neighbours, factors: [0.8, "
                             f"1.2]}}, got {describe(item)}")
            continue
        for extra in sorted(set(item) - {"kind", "factors"}):
            r.problem(f"{where}.{extra}", "unknown field")
        kind = r.enum(item, "kind", f"{where}.kind", MutationKind, MutationKind.PERTURB)
        factors = item.get("factors", list(DEFAULT_FACTORS))
        if (not isinstance(factors, list) or not factors
                or any(number_problem(f) is not None or f <= 0 for f in factors)):
            r.problem(f"{where}.factors", f"expected a list of positive numbers such as "
                                          f"[0.8, 1.2], got {describe(factors)}")
            factors = list(DEFAULT_FACTORS)
        mutations.append((str(path), Mutation(kind, tuple(float(f) for f in factors))))
    return PbtSettings(interval=interval, quantile=quantile, mutations=tuple(mutations),
                       resample_probability=probability, seed=seed)


def _fraction(r: DocReader, d: dict[str, Any], key: str, default: float, *, upper: float,
              zero: bool = False) -> float:
    value = d.get(key, default)
    low_ok = (value >= 0) if zero else (value > 0)
    if number_problem(value) is not None or not low_ok or value > upper:
        low = "0" if zero else "above 0"
        r.problem(f"scheduler.{key}", f"expected a number from {low} to {upper}, got "
                                      f"{describe(value)}")
        return default
    return float(value)
