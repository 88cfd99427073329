"""Searchers: what to try next."""

from __future__ import annotations

from app.engine.search.base import Algorithm, Goal, Searcher
from app.engine.search.grid import GridSearcher, grid_size
from app.engine.search.hyperopt_searcher import DEFAULT_INITIAL_RANDOM, HyperoptSearcher
from app.engine.space.nodes import Space


def make_searcher(
    algorithm: Algorithm,
    space: Space,
    goal: Goal = Goal.MIN,
    seed: int = 0,
    initial_random: int = DEFAULT_INITIAL_RANDOM,
) -> Searcher:
    """The searcher for ``algorithm`` (GRID ignores goal, seed and initial_random)."""
    if algorithm is Algorithm.GRID:
        return GridSearcher(space)
    return HyperoptSearcher(space, algorithm, goal, seed, initial_random)


__all__ = [
    "Algorithm",
    "Goal",
    "GridSearcher",
    "HyperoptSearcher",
    "Searcher",
    "grid_size",
    "make_searcher",
]
