"""Deterministic crashes for the crash-safety tests: :func:`crash_point`.

``SWEEPLAB_CRASH_AT=NAME[:N]`` makes this process SIGKILL itself the ``N``-th time
(default the first) it passes the point called ``NAME``: no cleanup, no ``finally``,
as a ``kill -9`` from outside. Unset (always, outside tests), a point costs one
dictionary look-up. The points, in the order a trial meets them:

- ``trial-stored``: a new trial is stored QUEUED, nothing launched yet;
- ``intent-stored``: its host and folder are stored, its process not started;
- ``pending-seen``: a batch queue took its job, the job id is not stored yet;
- ``started-seen``: its process runs, the trial is not stored RUNNING yet;
- ``output-stored``: a batch of its points is stored with the log offset after it;
- ``exit-seen``: its process has ended, the ending is not stored yet;
- ``ended-stored``: its ending is stored (with its last points when its end came
  before they were stored: those pass no ``output-stored``);

and under population-based training (:mod:`app.engine.population`):

- ``exploit-stored``: a trial's next segment (donor, checkpoint, params) is stored, the
  trial not stopped yet;
- ``segment-intent-stored``: that segment's folder is stored (its launch intent), its
  process not started.
"""

from __future__ import annotations

import os
import signal
import threading
from enum import Enum

CRASH_ENV = "SWEEPLAB_CRASH_AT"


class CrashPoint(str, Enum):
    """The places :func:`crash_point` may kill the process (see the module's text)."""

    TRIAL_STORED = "trial-stored"
    INTENT_STORED = "intent-stored"
    PENDING_SEEN = "pending-seen"
    STARTED_SEEN = "started-seen"
    OUTPUT_STORED = "output-stored"
    EXIT_SEEN = "exit-seen"
    ENDED_STORED = "ended-stored"
    EXPLOIT_STORED = "exploit-stored"
    SEGMENT_INTENT_STORED = "segment-intent-stored"


_passes: dict[CrashPoint, int] = {}
_lock = threading.Lock()


def crash_point(point: CrashPoint) -> None:
    """SIGKILL this process if ``$SWEEPLAB_CRASH_AT`` names ``point`` and this is the
    pass it counts to."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point.value:
        return
    with _lock:
        _passes[point] = _passes.get(point, 0) + 1
        seen = _passes[point]
    if seen == (int(count) if count.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)
