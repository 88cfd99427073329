"""The event queue every executor reports through: :func:`drain`."""

from __future__ import annotations

import queue

from app.engine.records import ProcessEvent


def drain(events: queue.Queue[ProcessEvent], timeout: float, who: str) -> list[ProcessEvent]:
    """Everything queued, waiting at most ``timeout`` s for the first event.

    Raises:
        ValueError: a negative timeout (``who`` names the executor).
    """
    if timeout < 0:
        raise ValueError(f"{who}: poll timeout must be >= 0, got {timeout}")
    try:
        found = [events.get(timeout=timeout) if timeout else events.get_nowait()]
    except queue.Empty:
        return []
    while True:
        try:
            found.append(events.get_nowait())
        except queue.Empty:
            return found
