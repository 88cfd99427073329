"""The names a user picks from on the command line: the searchers and the space file
formats, in a module that imports nothing else of the engine.

``sweeplab --help`` and the parsing of every command offer these as choices; importing
them from the searcher or space packages would load those packages (the space, the
searchers, YAML) before a command even runs. :mod:`app.engine.search.base` and
:mod:`app.engine.space.files` hand the same enums on.
"""

from __future__ import annotations

from enum import Enum


class Algorithm(str, Enum):
    """The searchers a user can pick."""

    RANDOM = "random"
    TPE = "tpe"
    ANNEAL = "anneal"
    GRID = "grid"


class SpaceFormat(str, Enum):
    """Formats a space file can be written in."""

    SWEEPLAB = "sweeplab"
    NNI = "nni"
