"""The two forms of a trial's parameters.

Nested (what searchers hand out and ``params.json`` holds under ``"nested"``)::

    {"lr": 0.01, "optimizer": {"_name": "adam", "beta1": 0.9}}

Dotted (what a script asks for with ``sweeplab.param("optimizer.beta1")``)::

    {"lr": 0.01, "optimizer": "adam", "optimizer.beta1": 0.9}

A taken branch of a choice of groups is a dict with its branch name under
``"_name"``; in dotted form the choice's own key holds that name and the branch's
children follow under the choice's name (the branch name is not repeated).
Plain groups are dicts without ``"_name"`` and have no key of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BRANCH_KEY = "_name"


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params to dotted names, in the nested form's key order."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        if key == BRANCH_KEY:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if BRANCH_KEY in value:
                flat[path] = value[BRANCH_KEY]
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def params_document(nested: Mapping[str, Any]) -> dict[str, Any]:
    """The content of a trial's ``params.json``: both forms side by side."""
    return {"nested": dict(nested), "dotted": flatten(nested)}
