"""The hyperparameter tree, its file format and its sampling."""

from __future__ import annotations

from app.engine.space.document import SPACE_VERSION, space_from_dict, space_to_dict
from app.engine.space.nodes import (
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
from app.engine.space.validate import validate

__all__ = [
    "SPACE_VERSION",
    "BooleanParam",
    "Choice",
    "ChoiceKind",
    "Distribution",
    "Group",
    "Node",
    "NumberParam",
    "Space",
    "StringParam",
    "space_from_dict",
    "space_to_dict",
    "validate",
]
