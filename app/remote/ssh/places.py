"""A server's GPU places as one executor sees them, with what other runs hold.

Each run that uses a server counts only its own trials, so two experiments (two
programs, two machines) could both put a trial on GPU 0. The trial helper therefore
locks one place per GPU on the server before it starts anything
(:data:`app.remote.ssh.scripts.TRIAL_HELPER`) and answers ``@busy gpuN`` when the
GPU has none left. :class:`RemoteSlots` then counts that GPU as full for
:data:`HELD_S` seconds, so the trial (and the next ones) go to another GPU, or wait
and look again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from app.remote.gpu import SlotTable

HELD_S = 5.0
"""How long a GPU another run holds counts as full before it is tried again."""
_GPU_KIND = re.compile(r"^gpu(\d+)$")


class RemoteSlots(SlotTable):
    """A :class:`SlotTable` that also keeps out GPUs the server said are taken.

    Args:
        clock: seconds, monotonic (for tests).
    """

    def __init__(self, gpus: Sequence[int], trials_per_gpu: int, cpu_slots: int, host: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(gpus, trials_per_gpu, cpu_slots, host)
        self._clock = clock
        self._held_until: dict[int, float] = {}

    def mark_held(self, kind: str, seconds: float = HELD_S) -> int | None:
        """Count the GPU of ``kind`` (``gpu3``, as the helper says it) as full for a
        while; returns its index (None when ``kind`` names no GPU of this table)."""
        match = _GPU_KIND.match(kind)
        if match is None or int(match.group(1)) not in self.gpus:
            return None
        gpu = int(match.group(1))
        self._held_until[gpu] = self._clock() + seconds
        return gpu

    def _used(self, gpu: int | None) -> int:
        if gpu is not None and self._held_until.get(gpu, 0.0) > self._clock():
            return self.trials_per_gpu
        return super()._used(gpu)
