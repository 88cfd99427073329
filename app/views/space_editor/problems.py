"""Validation problems of a space, attached to the nodes they name (no Qt here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.engine.errors import Problem
from app.engine.space.nodes import Node, Space
from app.engine.space.validate import validate


@dataclass(frozen=True)
class Findings:
    """Every problem of a space, and which node (by identity) each one names.

    A problem whose path is shared by several nodes (duplicate sibling names)
    marks all of them.
    """

    problems: list[Problem] = field(default_factory=list)
    by_node: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """No problem at all."""
        return not self.problems

    def summary(self) -> str:
        """The first problem with its path, and how many more there are; empty when valid."""
        if not self.problems:
            return ""
        more = len(self.problems) - 1
        return str(self.problems[0]) + (f" (and {more} more)" if more else "")

    def messages(self, node: Node) -> tuple[str, ...]:
        """The problems naming ``node``."""
        return self.by_node.get(id(node), ())


def examine(space: Space) -> Findings:
    """Validate ``space`` and attach each problem to the node at its path."""
    problems = validate(space)
    by_path: dict[str, list[str]] = {}
    for problem in problems:
        by_path.setdefault(problem.path, []).append(problem.message)
    by_node = {id(node): tuple(by_path[path]) for path, node in space.walk() if path in by_path}
    return Findings(problems, by_node)
