"""Searchers: what to try next."""

from __future__ import annotations

from app.engine.errors import Problem, SpaceError
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


def searcher_problems(algorithm: Algorithm, space: Space) -> list[Problem]:
    """Why ``algorithm`` cannot search the valid ``space``; empty when it can.

    Only grid search refuses a valid space: it must count every searched number
    (a step, or an integer, and bounds).
    """
    if algorithm is not Algorithm.GRID:
        return []
    try:
        GridSearcher(space)
    except SpaceError as exc:
        return list(exc.problems)
    return []


__all__ = [
    "Algorithm",
    "Goal",
    "GridSearcher",
    "HyperoptSearcher",
    "Searcher",
    "grid_size",
    "make_searcher",
    "searcher_problems",
]
