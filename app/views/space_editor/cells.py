"""What each cell of the space tree shows, as text (no Qt here)."""

from __future__ import annotations

from enum import IntEnum

from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Group,
    Node,
    NumberParam,
    StringParam,
)


class Column(IntEnum):
    """The columns of the space tree."""

    NAME = 0
    TYPE = 1
    AUTO = 2
    DEFAULT = 3
    SEARCH = 4


HEADERS = {
    Column.NAME: "Name",
    Column.TYPE: "Type",
    Column.AUTO: "Auto",
    Column.DEFAULT: "Default",
    Column.SEARCH: "Distribution / range / values",
}


def format_number(value: float | int | None, scientific: bool = False) -> str:
    """A number as a person reads it: ints plainly, floats short, ``1e-04`` on log scales."""
    if value is None:
        return "?"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if scientific and value != 0:
        mantissa, exponent = f"{value:.6e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    return f"{value:.10g}"


def is_scientific(node: NumberParam) -> bool:
    """Numbers of a log-scale distribution are shown in scientific notation."""
    return node.distribution is not None and node.distribution.is_log and not node.gives_int


def type_text(node: Node, branch: bool) -> str:
    """The Type column: the node's kind, or ``branch`` for a branch of a choice of groups."""
    return "branch" if branch else node.kind_label


def default_text(node: Node) -> str:
    """The Default column."""
    if isinstance(node, NumberParam):
        return format_number(node.default, is_scientific(node))
    if isinstance(node, BooleanParam):
        return "true" if node.default else "false"
    if isinstance(node, StringParam):
        return node.default
    if isinstance(node, Choice):
        return "" if node.default is None else _scalar_text(node.default)
    return ""


def search_text(node: Node) -> str:
    """The distribution / range / values column."""
    if isinstance(node, NumberParam):
        return number_range_text(node)
    if isinstance(node, Choice):
        if node.kind is ChoiceKind.GROUPS:
            return " | ".join(b.name for b in node.branches)
        return ", ".join(_scalar_text(v) for v in node.values if not isinstance(v, Group))
    if isinstance(node, BooleanParam):
        return "false, true" if node.auto else ""
    return ""


def number_range_text(node: NumberParam) -> str:
    """``loguniform [1e-04, 1e-01]``, ``normal(μ=0, σ=1)``, ``quniform [1, 9] step 2``."""
    dist = node.distribution
    if dist is None:
        return "fixed"
    sci = is_scientific(node)
    if dist.is_gaussian:
        text = f"{dist.value}(μ={format_number(node.mu)}, σ={format_number(node.sigma)})"
    else:
        text = (f"{dist.value} [{format_number(node.min, sci)}, "
                f"{format_number(node.max, sci)}]")
    if node.step is not None:
        text += f" step {format_number(node.step, sci)}"
    return text


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return format_number(value)
    return str(value)
