"""Checks of a space tree; every problem is named by its dotted tree path.

The file check (:func:`app.engine.space.document.space_from_dict`) and the space
editor both call :func:`validate`, so they refuse the same things. No field is
accepted without an effect; for a number:

=============  ===============================================================
field          meaning, or why it is refused
=============  ===============================================================
distribution   what AUTO searches; none: a fixed number (then min, max, mu,
               sigma and step are refused: nothing would use them)
min, max       bounds of uniform, loguniform, randint and their q-variants;
               refused on the gaussian ones (normal, lognormal: unbounded)
mu, sigma      of normal and lognormal (of the log); refused on bounded ones
step           values are multiples of it: ``uniform`` with a step samples as
               ``quniform`` (likewise loguniform, normal, lognormal); refused on
               randint, which takes every whole number
integer        values are whole numbers (step 1 when none is set)
default        the value used while AUTO is off; inside [min, max]
=============  ===============================================================

A distribution is kept while AUTO is off (switching AUTO on searches it again),
and is checked the same. A string cannot be AUTO (a choice of strings is the
searched form); ``values`` belong to choices only (the file reader refuses fields a
kind does not have).
"""

from __future__ import annotations

import math

from app.engine.errors import Problem, join_path
from app.engine.protocol import unsendable
from app.engine.space.nodes import (
    NAME_RE,
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Space,
    StringParam,
)

MAX_LOG_MU = 700.0
"""Largest |mu| of a log-normal number (exp(709) is the last finite float)."""
LOG_REACH = 8
"""Sigmas from mu a gaussian sample may reach in practice (8 sigma: p < 1e-15)."""
MAX_STEPS = 2**53
"""Most multiples of a step a quantised range may span: floats hold integers up to 2^53."""


def validate(space: Space) -> list[Problem]:
    """Every problem of the tree, in tree order; an empty list means valid."""
    problems: list[Problem] = []
    _check_siblings(space.children, "", problems)
    return problems


def _check_siblings(nodes: list[Node], prefix: str, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for node in nodes:
        path = join_path(prefix, node.name)
        if not NAME_RE.match(node.name):
            problems.append(Problem(path, f"invalid name {node.name!r}: use letters, digits "
                                          "and _, starting with a letter"))
        if node.name in seen:
            problems.append(Problem(path, f"duplicate name {node.name!r} (siblings must have "
                                          "unique names)"))
        seen.add(node.name)
        _check_node(node, path, problems)


def _check_node(node: Node, path: str, problems: list[Problem]) -> None:
    if isinstance(node, Group):
        _check_siblings(node.children, path, problems)
    elif isinstance(node, NumberParam):
        problems.extend(Problem(path, m) for m in number_problems(node))
    elif isinstance(node, Choice):
        _check_choice(node, path, problems)
    elif isinstance(node, StringParam):
        if node.auto:
            problems.append(Problem(path, "a string is fixed text and cannot be auto; "
                                          "use a choice of strings to search texts"))
        if isinstance(node.default, str) and (why := unsendable(node.default)) is not None:
            problems.append(Problem(path, f"default {why}"))
    elif isinstance(node, BooleanParam) and not isinstance(node.default, bool):
        problems.append(Problem(path, f"default {node.default!r} is not true or false"))


def number_problems(node: NumberParam) -> list[str]:
    """What is wrong with one number, as messages without the path."""
    out: list[str] = []
    dist = node.distribution
    if node.integer or dist is Distribution.RANDINT:
        for key in ("default", "min", "max", "step"):
            value = getattr(node, key)
            if value is not None and float(value) != int(value):
                out.append(f"{key} {value} is not a whole number")
    if node.step is not None and node.step <= 0:
        out.append(f"step {node.step} must be > 0")
    if dist is None:
        if node.auto:
            out.append("auto needs a distribution (uniform, loguniform, ...)")
        unused = _set_fields(node, ignored_fields(None))
        if unused:
            out.append(f"{_fields_text(unused)} {_have(unused)} no effect on a fixed number "
                       "(no distribution): remove "
                       f"{'it' if len(unused) == 1 else 'them'}, or choose a distribution")
        return out
    out.extend(_unused_problems(node, dist))
    if dist.is_gaussian:
        for key in ("mu", "sigma"):
            if getattr(node, key) is None:
                out.append(f"{key} is required by {dist.value}")
        if node.sigma is not None and node.sigma <= 0:
            out.append(f"sigma {node.sigma} must be > 0")
        if dist in (Distribution.LOGNORMAL, Distribution.QLOGNORMAL) and node.default <= 0:
            out.append(f"default {node.default} must be > 0 for {dist.value}")
    else:
        out.extend(_bounded_problems(node, dist))
    if dist.is_quantised and node.step is None and not node.integer:
        out.append(f"step is required by {dist.value}")
    if not out:
        out.extend(_span_problems(node, dist))
    return out


def ignored_fields(dist: Distribution | None) -> tuple[str, ...]:
    """The number fields ``dist`` has no use for (None: a fixed number); set, they
    are refused."""
    if dist is None:
        return ("min", "max", "mu", "sigma", "step")
    unused = ("min", "max") if dist.is_gaussian else ("mu", "sigma")
    return (*unused, "step") if dist is Distribution.RANDINT else unused


def _unused_problems(node: NumberParam, dist: Distribution) -> list[str]:
    """Fields that ``dist`` would ignore, refused with the reason."""
    out: list[str] = []
    unused = _set_fields(node, ignored_fields(dist))
    params = [key for key in unused if key != "step"]
    if params:
        what = (f"{_fields_text(params)} {_have(params)} no effect on {dist.value}, "
                + ("which is unbounded (set by mu and sigma)" if dist.is_gaussian
                   else "which is bounded by min and max"))
        fix = ("a bounded distribution such as uniform" if dist.is_gaussian
               else "normal or lognormal")
        out.append(f"{what}: remove {'it' if len(params) == 1 else 'them'}, or choose {fix}")
    if "step" in unused:
        out.append(f"step {node.step} has no effect on randint, which takes every whole "
                   "number in [min, max]: remove it, or use quniform with integer for "
                   "multiples of a step")
    return out


def _set_fields(node: NumberParam, keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if getattr(node, key) is not None]


def _fields_text(keys: list[str]) -> str:
    return " and ".join(keys) if len(keys) <= 2 else ", ".join(keys[:-1]) + " and " + keys[-1]


def _have(keys: list[str]) -> str:
    return "has" if len(keys) == 1 else "have"


def _span_problems(node: NumberParam, dist: Distribution) -> list[str]:
    """Numbers whose samples would overflow, or a range holding more multiples of the
    step than a float can tell apart (snapping a sample onto the step would fail)."""
    if dist.is_gaussian:
        return _gaussian_span(node, dist)
    if node.min is None or node.max is None:
        return []
    if not math.isfinite(float(node.max) - float(node.min)):  # e.g. typed in the editor
        return [f"the range [{node.min:g}, {node.max:g}] is too wide (max - min overflows)"]
    reach = max(abs(float(node.min)), abs(float(node.max)))
    step = 1 if dist is Distribution.RANDINT else node.effective_step()
    if step is not None and step > 0 and not reach / step <= MAX_STEPS:
        return [f"step {step:g} is too fine for values up to {reach:.3g}: more than 2^53 "
                "multiples, which floats cannot tell apart"]
    return []


def _gaussian_span(node: NumberParam, dist: Distribution) -> list[str]:
    if node.mu is None or node.sigma is None:
        return []
    reach = abs(node.mu) + LOG_REACH * node.sigma
    if dist in (Distribution.LOGNORMAL, Distribution.QLOGNORMAL):
        if reach > MAX_LOG_MU:
            return [f"mu and sigma are of the log for {dist.value}: |mu| + {LOG_REACH} sigma "
                    f"must stay within {MAX_LOG_MU:g}, or samples overflow (got mu "
                    f"{node.mu:g}, sigma {node.sigma:g})"]
        reach = math.exp(reach)
    step = node.effective_step()
    if step is not None and step > 0 and not reach / step <= MAX_STEPS:
        return [f"step {step:g} is too fine for values near {reach:.3g} (mu + {LOG_REACH} "
                "sigma): more than 2^53 multiples, which floats cannot tell apart"]
    return []


def _bounded_problems(node: NumberParam, dist: Distribution) -> list[str]:
    low, high = node.min, node.max
    missing = [k for k, v in (("min", low), ("max", high)) if v is None]
    if missing:
        return [f"{' and '.join(missing)} required by {dist.value}"]
    assert low is not None and high is not None  # for mypy; checked just above
    out: list[str] = []
    if low > high:
        out.append(f"min {low} > max {high}")
    elif low == high:
        out.append(f"min {low} = max {high}: the range is empty")
    if dist.is_log and low <= 0:
        out.append(f"min {low} must be > 0 for {dist.value} (log scale)")
    if out:
        return out
    if not low <= node.default <= high:
        out.append(f"default {node.default} is outside [{low}, {high}]")
    step = node.effective_step()
    effective = node.effective_distribution()
    quantised = effective is not None and (effective.is_quantised
                                          or effective is Distribution.RANDINT)
    if quantised and step is not None and step > 0 and node.grid_bounds() is None:
        out.append(f"no multiple of step {step} lies in [{low}, {high}]")
    return out


def _check_choice(node: Choice, path: str, problems: list[Problem]) -> None:
    if not node.values:
        problems.append(Problem(path, "no values to choose from"))
        return
    if node.kind is ChoiceKind.GROUPS:
        _check_siblings(list(node.branches), path, problems)
    else:
        seen: list[object] = []
        for number, value in enumerate(node.values, 1):
            if any(value == s and type(value) is type(s) for s in seen):
                problems.append(Problem(path, f"value {value!r} is listed twice"))
            if isinstance(value, str) and (why := unsendable(value)) is not None:
                problems.append(Problem(path, f"value {number} {why}"))
            seen.append(value)
    if node.default is None:
        problems.append(Problem(path, "default is missing"))
    elif node.default_index() is None:
        what = "a branch" if node.kind is ChoiceKind.GROUPS else "among the values"
        problems.append(Problem(path, f"default {node.default!r} is not {what}"))
