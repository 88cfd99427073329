"""The application layer: what both front ends (the window and the command line) do.

Qt-free. ``app.views`` and ``app.commands`` call this package and nothing below it
(the store and the remote executors), only reading the engine's value types. The
import-linter contracts in ``pyproject.toml`` hold every module of ``app`` to it.
"""
