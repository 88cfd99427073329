"""Validation errors that name every problem and where it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at a dotted path (``optimizer.sgd.momentum``) or a file position."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(ValueError):
    """One or more problems found in a user's document; ``str()`` gives one line each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            raise ValueError("a ValidationError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))


class SpaceError(ValidationError):
    """The search space is invalid."""


def join_path(prefix: str, name: str) -> str:
    """``prefix.name``, or ``name`` at the top."""
    return f"{prefix}.{name}" if prefix else name
