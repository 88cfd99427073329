"""Hand the program's own QApplication to a watcher, for what times or inspects
``sweeplab gui`` from inside its process (``bench/startup.py``, ``tests/test_startup.py``).

Imports only the standard library, and nothing of the program before the program does:
what is imported, and when, stays the program's own.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


def watch_application(watch: Callable[[Any], None]) -> None:
    """Call ``watch`` with the QApplication that ``app.main._application`` makes, once
    the program has imported ``app.main`` (as it would: Qt after SQLAlchemy) and made it."""
    sys.meta_path.insert(0, _AfterAppMain(watch))


class _AfterAppMain(importlib.abc.MetaPathFinder):
    """Wraps ``app.main._application`` as the module is executed, then steps aside."""

    def __init__(self, watch: Callable[[Any], None]) -> None:
        self._watch = watch

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != "app.main":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module
        watch = self._watch

        def exec_module(module: ModuleType) -> None:
            run(module)
            make = module.__dict__["_application"]

            def application() -> Any:
                app = make()
                watch(app)
                return app

            module.__dict__["_application"] = application

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
