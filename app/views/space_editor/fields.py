"""Checking and completing a change to one node's fields (no Qt here).

:func:`plan_changes` turns what an editor cell or a caller hands in (texts from
line edits, numbers from spin boxes, enum members) into the exact field values
to store, or refuses with a :class:`SpaceEditError` naming the node and field.
It also completes changes that would otherwise leave a node needlessly invalid:
switching a number to searched gives it a range, a new distribution gets the
parameters it needs and loses those it would ignore (min and max on normal; no
distribution means fixed, with none of them), and a choice whose values change
keeps a default among them. A changed range or distribution moves a default it
leaves outside into it (:func:`default_inside`), unless it was outside the old
range already; a number still as proposed for its
name gets the proposal of its new name or kind (:func:`untouched`).
Problems of the combination (min > max) are left to validation, which marks them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.engine.space.document import is_number
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    Node,
    NumberParam,
    Scalar,
    StringParam,
)
from app.engine.space.proposal import propose_number
from app.engine.space.validate import ignored_fields
from app.views.space_editor.tree import SpaceEditError, check_name

NUMBER_FIELDS = ("min", "max", "mu", "sigma", "step")

_ALLOWED: dict[type[Node], tuple[str, ...]] = {
    StringParam: ("name", "default"),
    NumberParam: ("name", "default", "auto", "distribution", "integer", *NUMBER_FIELDS),
    BooleanParam: ("name", "default", "auto"),
    Group: ("name",),
    Choice: ("name", "default", "auto", "values"),
}


def allowed_fields(node: Node) -> tuple[str, ...]:
    """The fields of ``node`` an edit may set."""
    fields = _ALLOWED[type(node)]
    if isinstance(node, Choice) and node.kind is ChoiceKind.GROUPS:
        return tuple(f for f in fields if f != "values")
    return fields


def plan_changes(node: Node, changes: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The checked, completed field values to store on ``node``; only those that differ.

    Args:
        node: the node being edited (not changed here).
        changes: field name -> new value, in any form an editor produces.
        where: the node's tree path, for messages.

    Raises:
        SpaceEditError: an unknown field for this kind, or a value of the wrong type.
    """
    allowed = allowed_fields(node)
    for key in changes:
        if key not in allowed:
            raise SpaceEditError(f"{where}: a {node.kind_label} has no editable field {key!r} "
                                 f"(it has {', '.join(allowed)})")
    planned = {key: _coerce(node, key, value, where) for key, value in changes.items()}
    if isinstance(node, NumberParam):
        _complete_number(node, planned)
    elif isinstance(node, Choice):
        _complete_choice(node, planned, where)
    return {k: v for k, v in planned.items() if not _same(getattr(node, k), v)}


def _same(old: object, new: object) -> bool:
    if isinstance(old, list) or isinstance(new, list):
        return isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and all(
            _same(a, b) for a, b in zip(old, new, strict=True))
    return type(old) is type(new) and old == new


def _coerce(node: Node, key: str, value: Any, where: str) -> Any:
    at = f"{where}: {key}"
    if key == "name":
        return check_name(value, where)
    if key in ("auto", "integer"):
        return _flag(value, at)
    if isinstance(node, StringParam):
        return value if isinstance(value, str) else _refuse(at, "a text", value)
    if isinstance(node, BooleanParam):
        return _flag(value, at)
    if isinstance(node, NumberParam):
        if key == "distribution":
            return _distribution(value, at)
        number = parse_number(value, at) if key == "default" else _optional_number(value, at)
        return _whole(number) if node.integer and key != "sigma" else number
    if isinstance(node, Choice):
        if key == "values":
            return _values(node.kind, value, at)
        return _choice_default(node, value, at)
    raise SpaceEditError(f"{at}: cannot be edited")  # pragma: no cover - _ALLOWED stops it


def _refuse(at: str, expected: str, value: object) -> Any:
    raise SpaceEditError(f"{at}: expected {expected}, got {value!r}")


def _flag(value: object, at: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return bool(_refuse(at, "true or false", value))


def parse_number(value: object, at: str) -> float | int:
    """A finite int or float from a number or its text.

    Raises:
        SpaceEditError: not a number, or not finite.
    """
    number: float | int
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _refuse(at, "a number", value)  # type: ignore[no-any-return]
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return _refuse(at, "a number", value)  # type: ignore[no-any-return]
    else:
        number = value
    if not math.isfinite(number):
        raise SpaceEditError(f"{at}: must be finite, got {value!r}")
    return number


def _optional_number(value: object, at: str) -> float | int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_number(value, at)


def _whole(number: float | int | None) -> float | int | None:
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def _distribution(value: object, at: str) -> Distribution | None:
    if value is None or isinstance(value, Distribution):
        return value
    if isinstance(value, str):
        if value.strip().lower() in ("", "none", "fixed"):
            return None
        try:
            return Distribution(value.strip().lower())
        except ValueError:
            pass
    names = ", ".join(d.value for d in Distribution)
    return _refuse(at, f"one of {names}", value)  # type: ignore[no-any-return]


def _values(kind: ChoiceKind, value: object, at: str) -> list[Scalar]:
    if isinstance(value, str):
        items: Sequence[object] = [v for v in (p.strip() for p in value.split(",")) if v]
    elif isinstance(value, list | tuple):
        items = value
    else:
        return _refuse(at, "a list of values", value)  # type: ignore[no-any-return]
    out: list[Scalar] = []
    for item in items:
        if kind is ChoiceKind.NUMBERS:
            out.append(parse_number(item, at))
        elif isinstance(item, str):
            out.append(item)
        else:
            _refuse(at, "texts", item)
    return out


def _choice_default(node: Choice, value: object, at: str) -> Scalar | None:
    if value is None:
        return None
    if node.kind is ChoiceKind.NUMBERS:
        return parse_number(value, at)
    if isinstance(value, str):
        return value
    return _refuse(at, "a text", value)  # type: ignore[no-any-return]


_PROPOSED = ("default", "auto", "distribution", "min", "max", "mu", "sigma", "step")
_RANGE_KEYS = frozenset({"distribution", "min", "max", "step", "integer"})


def untouched(node: NumberParam) -> bool:
    """Whether a number still has the fields proposed for its name and kind (a node
    just added, not edited yet): renaming it or switching it to int proposes anew."""
    proposal = propose_number(node.name, integer=node.integer)
    return all(_same(getattr(node, key), getattr(proposal, key)) for key in _PROPOSED)


def _complete_number(node: NumberParam, planned: dict[str, Any]) -> None:
    def now(key: str) -> Any:
        return planned[key] if key in planned else getattr(node, key)

    if ({"name", "integer"} & planned.keys()) and untouched(node):
        # a new name proposes its own kind too (epochs: an int), unless the kind is set
        given = set(planned)
        proposal = propose_number(now("name"), integer=planned.get("integer"))
        for key in (*_PROPOSED, "integer"):
            planned.setdefault(key, getattr(proposal, key))
        if "default" not in given and given & (_RANGE_KEYS - {"integer"}):
            # a range given with it (16..128 int typed as text) holds the default
            inside = default_inside(planned["distribution"], planned["min"], planned["max"],
                                    planned["default"], planned["step"], planned["integer"])
            if inside is not None:
                planned["default"] = inside
        return
    explicit_default = "default" in planned
    if planned.get("integer") is True and not node.integer:
        for key in ("default", "min", "max", "mu"):
            if now(key) is not None:
                planned[key] = round(now(key))
        step = now("step")
        if step is not None:
            planned["step"] = _whole(step) if float(step).is_integer() else None
    if planned.get("auto") is True and now("distribution") is None:
        planned["distribution"] = Distribution.UNIFORM
    elif "distribution" in planned and planned["distribution"] is None and now("auto"):
        planned["auto"] = False  # "fixed": the default is used as a constant
    if "distribution" in planned and now("distribution") is not None:
        _fill_parameters(now("distribution"), now, planned)
    if "distribution" in planned:
        for key in ignored_fields(now("distribution")):
            if key not in planned and now(key) is not None:
                planned[key] = None  # validation would refuse it: it has no effect
    if not explicit_default and _RANGE_KEYS & planned.keys() and not _outside(node):
        inside = default_inside(now("distribution"), now("min"), now("max"),
                                now("default"), now("step"), now("integer"))
        if inside is not None:
            planned["default"] = inside



def _outside(node: NumberParam) -> bool:
    """Whether the default lies outside a sound range already (set there on purpose,
    say, before the range): a range change then leaves it where it is."""
    dist, low, high = node.distribution, node.min, node.max
    return (dist is not None and dist.bounded and low is not None and high is not None
            and low < high and not low <= node.default <= high)


def default_inside(dist: Distribution | None, low: float | int | None,
                   high: float | int | None, default: float | int,
                   step: float | int | None, integer: bool) -> float | int | None:
    """A default inside a changed range, when ``default`` is outside it (else None):
    the middle of the range (on a log scale the power of ten nearest its geometric
    middle), on the step, a whole number for an integer. None too when the range
    itself is broken (validation says why)."""
    if dist is None or not dist.bounded or low is None or high is None or low >= high:
        return None
    if (dist.is_log and low <= 0) or low <= default <= high:
        return None
    if dist.is_log:
        value: float = 10.0 ** round((math.log10(low) + math.log10(high)) / 2)
    else:
        value = (low + high) / 2
    if step:
        value = round(value / step) * step
        if value < low:
            value += step
        if value > high:
            value -= step
    value = min(max(value, low), high)
    if integer or dist is Distribution.RANDINT:
        whole = round(value)
        return whole if low <= whole <= high else math.ceil(low)
    return round(value, 12) if not dist.is_log else value


def _fill_parameters(dist: Distribution, now: Any, planned: dict[str, Any]) -> None:
    """Give a distribution the parameters it needs, from what the node has."""
    default = now("default")
    integer = now("integer") or dist is Distribution.RANDINT
    if dist.bounded and (now("min") is None or now("max") is None):
        low = now("min")
        if low is None:
            low = default / 10 if dist.is_log and default > 0 else min(default, 0)
        high = now("max")
        if high is None or high <= low:
            high = default * 10 if dist.is_log and default > 0 else max(default, low) + 1
        planned["min"], planned["max"] = (round(low), round(high)) if integer else (low, high)
    if dist.is_gaussian:
        if now("mu") is None:
            planned["mu"] = math.log(default) if "log" in dist.value and default > 0 else default
        if now("sigma") is None:
            low, high = now("min"), now("max")
            planned["sigma"] = (high - low) / 4 if low is not None and high is not None \
                and high > low else 1.0
    if dist.is_quantised and now("step") is None and not now("integer"):
        low, high = now("min"), now("max")
        span = high - low if low is not None and high is not None and high > low else 1.0
        planned["step"] = 10.0 ** math.floor(math.log10(span / 10))


def _complete_choice(node: Choice, planned: dict[str, Any], where: str) -> None:
    if node.kind is ChoiceKind.GROUPS:
        options: list[Any] = [b.name for b in node.branches]
    else:
        options = planned.get("values", node.values)
    default = planned.get("default", node.default)
    present = any(_same(default, v) or (is_number(default) and is_number(v) and default == v)
                  for v in options)
    if "default" in planned and default is not None and not present:
        shown = ", ".join(repr(v) for v in options) or "none"
        raise SpaceEditError(f"{where}: default: {default!r} is not among the values ({shown})")
    if "values" in planned and not present:
        # numbers: the middle one, as a changed range moves a number's default to its
        # middle; texts: the first
        middle = (len(options) - 1) // 2 if node.kind is ChoiceKind.NUMBERS else 0
        planned["default"] = options[middle] if options else None
    elif "default" in planned and default is not None and node.kind is ChoiceKind.NUMBERS:
        # store the listed number itself (1 rather than 1.0)
        planned["default"] = next(v for v in options if v == default)


RANGE_TEXT_HELP = ("min..max, then any of: log, int, step S, a distribution (1e-5..0.1 log, "
                   "16..128 step 16 int, normal 0 1, fixed)")
_RANGE_SEPARATORS = re.compile(r"\.\.|[\s,;\[\]()]+|[μσ]=?")


def parse_range_text(text: str, at: str) -> dict[str, Any]:
    """A number's distribution and parameters typed as one line of text.

    ``1e-5..0.1 log`` is log-uniform [1e-5, 0.1]; ``16..128 step 16 int`` whole numbers
    in steps of 16; ``32..256 randint``; ``normal 0 1`` (μ, σ); ``fixed`` no search. A
    distribution's name may stand for ``log``; what the range column shows
    (``loguniform [1e-05, 1e-01] step 2``) reads back the same. Returns the fields to
    set: ``distribution``, its two parameters, ``step`` (None when not given), and
    ``integer`` when ``int`` is said.

    Raises:
        SpaceEditError: a word that is neither a number nor one of these, or not two
            numbers for the range (the message says how to write one).
    """
    words = [w for w in _RANGE_SEPARATORS.split(text.strip().lower()) if w]
    numbers: list[float | int] = []
    step: float | int | None = None
    named: Distribution | None = None
    log = integer = fixed = False
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if word in ("step", "q"):
            if position >= len(words):
                raise SpaceEditError(f"{at}: 'step' needs a number after it "
                                     f"({RANGE_TEXT_HELP})")
            step = parse_number(words[position], f"{at}: step")
            position += 1
        elif word == "log":
            log = True
        elif word in ("int", "integer"):
            integer = True
        elif word in ("fixed", "none"):
            fixed = True
        elif word in {d.value for d in Distribution}:
            named = Distribution(word)
        else:
            try:
                numbers.append(parse_number(word, at))
            except SpaceEditError:
                raise SpaceEditError(f"{at}: {word!r} is not a number nor a word of a "
                                     f"range ({RANGE_TEXT_HELP})") from None
    out: dict[str, Any] = {"integer": True} if integer else {}
    if fixed and not numbers:
        return {**out, "distribution": None}
    if len(numbers) != 2:
        raise SpaceEditError(f"{at}: a range needs two numbers, got {len(numbers)} "
                             f"({RANGE_TEXT_HELP})")
    dist = named or (Distribution.LOGUNIFORM if log else Distribution.UNIFORM)
    if log and dist.is_gaussian and not dist.value.startswith(("log", "qlog")):
        dist = Distribution("q" * dist.is_quantised + "lognormal")
    if log and not dist.is_gaussian and not dist.is_log and dist is not Distribution.RANDINT:
        dist = Distribution("q" * dist.is_quantised + "loguniform")
    keys = ("mu", "sigma") if dist.is_gaussian else ("min", "max")
    return {**out, "distribution": dist, keys[0]: numbers[0], keys[1]: numbers[1],
            "step": None if dist is Distribution.RANDINT else step}
