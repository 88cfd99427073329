"""The event queue every executor reports through: :class:`EventQueue` and :func:`drain`.

Trial followers read logs in blocks of up to a megabyte and queue the lines as OUTPUT
events; the runner takes them all at each poll. A trial that prints faster than the
runner parses would otherwise pile its whole log up in the queue. :class:`EventQueue`
holds at most ``output_limit`` characters of queued lines: a follower putting more
waits until the runner has taken some, which also slows the trial's own reading (a
local log waits on disk, an SSH stream in the server's buffers).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from app.engine.records import ProcessEvent, ProcessEventKind

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 8 * 1024 * 1024
"""Characters of log lines queued before a follower waits."""
STALL_S = 10.0
"""A follower waits no longer than this without the runner taking anything."""


def output_size(event: ProcessEvent) -> int:
    """The characters of log lines an event carries (0 but for OUTPUT)."""
    if event.kind is not ProcessEventKind.OUTPUT:
        return 0
    return sum(len(line) for line in event.lines)


class EventQueue(queue.Queue[ProcessEvent]):
    """A FIFO of process events that bounds the log lines it holds.

    A ``put`` of an OUTPUT event waits while the queue already holds more than
    ``output_limit`` characters of lines. It never waits on the thread that takes
    events (that would wait for itself), after :meth:`release`, or for longer than
    ``stall_s`` without any event being taken (a runner that stopped polling must not
    hang a follower; memory then grows as before). Other events never wait.

    Raises:
        ValueError: ``output_limit`` or ``stall_s`` is not positive.
    """

    def __init__(self, output_limit: int = OUTPUT_LIMIT, stall_s: float = STALL_S) -> None:
        if output_limit <= 0:
            raise ValueError(f"EventQueue: output_limit must be > 0, got {output_limit}")
        if stall_s <= 0:
            raise ValueError(f"EventQueue: stall_s must be > 0, got {stall_s}")
        super().__init__()
        self.output_limit = output_limit
        self._stall_s = stall_s
        self._queued = 0
        self._taken_at = time.monotonic()
        self._taker: int | None = None
        self._released = False

    @property
    def queued_output(self) -> int:
        """Characters of log lines queued now."""
        with self.mutex:
            return self._queued

    def put(self, item: ProcessEvent, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``item``; an OUTPUT event first waits for room (see the class)."""
        if block and item.kind is ProcessEventKind.OUTPUT:  # its size is counted in _put
            self._wait_for_room()
        super().put(item, block, timeout)

    def release(self) -> None:
        """Stop waiting for room, now and from now on (the executors are closing)."""
        with self.mutex:
            self._released = True
            self.not_full.notify_all()

    def _wait_for_room(self) -> None:
        with self.not_full:  # notified by every get, and by release
            while (self._queued > self.output_limit and not self._released
                   and threading.get_ident() != self._taker):
                idle = time.monotonic() - self._taken_at
                if idle >= self._stall_s:
                    log.warning("nothing taken from the event queue for %.0f s; "
                                "queuing %d characters of output anyway", idle, self._queued)
                    return
                self.not_full.wait(self._stall_s - idle)

    def _put(self, item: ProcessEvent) -> None:
        self._queued += output_size(item)
        super()._put(item)

    def _get(self) -> ProcessEvent:
        item = super()._get()
        self._queued -= output_size(item)
        self._taken_at = time.monotonic()
        self._taker = threading.get_ident()
        self.not_full.notify_all()  # several followers may wait; get() wakes only one
        return item


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
