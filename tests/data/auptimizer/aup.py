"""A stand-in for Auptimizer's client module ``aup`` (its ``aup/utils.py`` minimal API).

Auptimizer lets this file be copied to a machine instead of installing the package;
what a training script uses of it: ``BasicConfig().load(path)`` (a dict whose keys
read as attributes, loaded from a ``.json`` file) and ``print_result(value)``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def print_result(result: Any) -> None:
    """The result line Auptimizer parses, on stderr."""
    print(f"\n#Auptimizer:{str(result).lstrip()}", file=sys.stderr, flush=True)


class BasicConfig(dict):  # type: ignore[type-arg]
    """A dict with attribute access, loaded from JSON."""

    def load(self, filename: str) -> BasicConfig:
        if not filename.endswith(".json"):
            raise ValueError(f"{filename}: Auptimizer loads .json or .pkl files")
        with open(filename) as handle:
            data = json.load(handle)
        if type(data) is not dict:
            raise TypeError("Config must be dict")
        self.update(data)
        return self

    def __getattr__(self, name: str) -> Any:
        return self[name]
