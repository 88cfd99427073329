"""Names a module hands on from modules it imports only when a name is first asked for.

A package whose names live in heavy modules (numpy and pyqtgraph behind the Trials tab,
paramiko and keyring behind the servers' use cases) would load them all with its first
import; a module ``__getattr__`` (PEP 562) made by :func:`lazy_names` imports each
name's module when the name is first used, and keeps the name in the module after that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(module: dict[str, Any], package: str,
               places: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the module whose ``globals()`` is ``module``.

    Args:
        module: the module's ``globals()``; each name is kept there once imported.
        package: where the modules named in ``places`` live (``app.remote.ssh``).
        places: each name handed on, and the module of ``package`` that defines it.
    """
    def __getattr__(name: str) -> Any:
        place = places.get(name)
        if place is None:
            raise AttributeError(f"module {module['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{place}"), name)
        module[name] = value
        return value

    return __getattr__
