"""The balancing rule: where the next trial goes when there is more than one place.

One rule for the runner choosing between executors (:mod:`app.engine.dispatch`) and
for a pool choosing between hosts (:mod:`app.remote.pool`): the most free room
relative to its size (AETROS: "all servers equally busy based on max parallel jobs
and queue length"), then the most free slots, then the order given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar


class HasRoom(Protocol):
    """A place trials run in: an executor, a host of a pool."""

    def free_slots(self) -> int:
        """How many more trials it takes now."""
        ...

    def capacity(self) -> int:
        """How many trials fit when none runs."""
        ...


Place = TypeVar("Place", bound=HasRoom)


def most_room(places: Iterable[Place],
              last_resort: Callable[[Place], bool] = lambda _place: False) -> Place | None:
    """The place the next trial goes to, or None when none has a free slot.

    Each place's :meth:`~HasRoom.free_slots` is asked once: the answer may come from a
    remote machine, and may change between two questions.

    Args:
        places: the candidates, in order of preference among equals.
        last_resort: places it says yes for are taken only when no other has room
            (the hosts a trial was just given back by).
    """
    best: Place | None = None
    best_key = (False, 0.0, 0)
    for place in places:
        free = place.free_slots()
        if free <= 0:
            continue
        key = (not last_resort(place), free / max(1, place.capacity()), free)
        if best is None or key > best_key:
            best, best_key = place, key
    return best
