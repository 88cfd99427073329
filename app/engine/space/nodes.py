"""The hyperparameter tree: plain, mutable Python objects the editor changes in place.

A :class:`Space` holds named nodes. Leaves are :class:`StringParam` (fixed text),
:class:`NumberParam`, :class:`BooleanParam`; :class:`Group` nests named children;
:class:`Choice` takes exactly one of its values (strings, numbers, or groups, the
branches). Every leaf and choice carries a default and an ``auto`` flag: auto means
the optimiser searches it, otherwise the default is used as a constant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeAlias

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

Scalar: TypeAlias = str | int | float | bool


class Distribution(str, Enum):
    """hyperopt's distributions for a searched number."""

    UNIFORM = "uniform"
    QUNIFORM = "quniform"
    LOGUNIFORM = "loguniform"
    QLOGUNIFORM = "qloguniform"
    NORMAL = "normal"
    QNORMAL = "qnormal"
    LOGNORMAL = "lognormal"
    QLOGNORMAL = "qlognormal"
    RANDINT = "randint"

    @property
    def is_log(self) -> bool:
        """Sampled on a log scale (bounds must be positive)."""
        return self in (Distribution.LOGUNIFORM, Distribution.QLOGUNIFORM)

    @property
    def is_quantised(self) -> bool:
        """Takes a step ``q``."""
        return self.value.startswith("q")

    @property
    def is_gaussian(self) -> bool:
        """Parameterised by mu and sigma instead of min and max."""
        return "normal" in self.value

    @property
    def bounded(self) -> bool:
        """Parameterised by min and max."""
        return not self.is_gaussian

    def quantised(self) -> Distribution:
        """The q-variant of this distribution (itself when already quantised)."""
        if self.is_quantised or self is Distribution.RANDINT:
            return self
        return Distribution("q" + self.value)


class ChoiceKind(str, Enum):
    """What a choice picks from."""

    STRINGS = "strings"
    NUMBERS = "numbers"
    GROUPS = "groups"


@dataclass
class Node:
    """A named node of the tree."""

    name: str

    @property
    def kind_label(self) -> str:
        """How the editor names this kind of node."""
        raise NotImplementedError


@dataclass
class StringParam(Node):
    """A fixed text. Never searched: a choice of strings is the searched form."""

    default: str = ""
    auto: bool = False

    @property
    def kind_label(self) -> str:
        return "string"


@dataclass
class NumberParam(Node):
    """An int or float; searched with ``distribution`` when ``auto``.

    Bounded distributions use ``min``/``max`` (inclusive, in real units also for
    the log ones); gaussian ones use ``mu``/``sigma`` (of the log for lognormal).
    ``step`` is hyperopt's ``q``: values are multiples of it, whatever the
    distribution is called (``uniform`` with a step samples as ``quniform``). An
    integer number without a step has step 1, and ``randint`` always gives
    integers. Which fields each distribution refuses: :mod:`app.engine.space.validate`.
    """

    default: float | int = 0
    auto: bool = False
    distribution: Distribution | None = None
    min: float | int | None = None
    max: float | int | None = None
    mu: float | None = None
    sigma: float | None = None
    step: float | int | None = None
    integer: bool = False

    @property
    def kind_label(self) -> str:
        return "int" if self.integer else "float"

    @property
    def gives_int(self) -> bool:
        """Values are Python ints."""
        return self.integer or self.distribution is Distribution.RANDINT

    def effective_distribution(self) -> Distribution | None:
        """The distribution actually sampled: a step, or being an integer (step 1),
        quantises it (``uniform`` with a step is ``quniform``)."""
        dist = self.distribution
        if dist is not None and (self.integer or self.step is not None):
            return dist.quantised()
        return dist

    def effective_step(self) -> float | int | None:
        """The step actually used (1 for integers without one)."""
        if self.step is None and self.integer:
            return 1
        return self.step

    def grid_bounds(self) -> tuple[int, int] | None:
        """First and last multiple of the step inside [min, max], as multipliers."""
        step = self.effective_step()
        if self.distribution is Distribution.RANDINT:
            step = 1
        if step is None or self.min is None or self.max is None or step <= 0:
            return None
        # a tolerance for float noise (0.3 / 0.1 is 2.9999999999999996)
        low, high = self.min / step, self.max / step
        if not (math.isfinite(low) and math.isfinite(high)):
            return None  # a step too fine for the range: validation says so
        first = math.ceil(low - 1e-10 * max(1.0, abs(low)))
        last = math.floor(high + 1e-10 * max(1.0, abs(high)))
        if first * step < self.min and not math.isclose(first * step, self.min, rel_tol=1e-9):
            first += 1
        if last * step > self.max and not math.isclose(last * step, self.max, rel_tol=1e-9):
            last -= 1
        return (first, last) if first <= last else None


@dataclass
class BooleanParam(Node):
    """True or false; searched over both when ``auto``."""

    default: bool = False
    auto: bool = False

    @property
    def kind_label(self) -> str:
        return "boolean"


@dataclass
class Group(Node):
    """Named children; nests to any depth. Also the branch of a choice of groups."""

    children: list[Node] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return "group"

    def child(self, name: str) -> Node | None:
        """The child with that name, if any."""
        return next((c for c in self.children if c.name == name), None)


@dataclass
class Choice(Node):
    """Exactly one of ``values``: strings, numbers, or groups (branches).

    ``default`` is a value for strings and numbers and a branch name for groups.
    """

    kind: ChoiceKind = ChoiceKind.STRINGS
    values: list[Scalar] | list[Group] = field(default_factory=list)
    default: Scalar | None = None
    auto: bool = False

    @property
    def kind_label(self) -> str:
        return f"choice of {self.kind.value}"

    @property
    def branches(self) -> list[Group]:
        """The branches of a choice of groups (empty for other kinds)."""
        return [v for v in self.values if isinstance(v, Group)]

    def option_count(self) -> int:
        """How many values it chooses from."""
        return len(self.values)

    def default_index(self) -> int | None:
        """Position of the default among the values, if present."""
        if self.kind is ChoiceKind.GROUPS:
            names = [b.name for b in self.branches]
            return names.index(self.default) if self.default in names else None
        for i, v in enumerate(self.values):
            if not isinstance(v, Group) and _same_scalar(v, self.default):
                return i
        return None


def _same_scalar(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


@dataclass
class Space:
    """The whole tree: the top-level nodes of an experiment's parameters."""

    children: list[Node] = field(default_factory=list)

    def walk(self) -> list[tuple[str, Node]]:
        """Every node with its tree path (branch names included), depth first."""
        out: list[tuple[str, Node]] = []

        def visit(nodes: list[Node], prefix: str) -> None:
            for node in nodes:
                path = prefix + node.name
                out.append((path, node))
                if isinstance(node, Group):
                    visit(node.children, path + ".")
                elif isinstance(node, Choice):
                    for branch in node.branches:
                        out.append((f"{path}.{branch.name}", branch))
                        visit(branch.children, f"{path}.{branch.name}.")

        visit(self.children, "")
        return out

    def find(self, path: str) -> Node | None:
        """The node at a tree path such as ``optimizer.sgd.lr``."""
        return dict(self.walk()).get(path)
