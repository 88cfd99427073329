"""Frozen records the store hands out and the executors describe work with.

Nothing here holds a live database or process object: every record is a plain,
immutable snapshot that may be passed between threads freely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.engine.trial import EarlyStopping, ExperimentState, TrialState

if TYPE_CHECKING:  # numpy is imported where the arrays are made, not with the engine
    import numpy as np
    import numpy.typing as npt

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class ExperimentRecord:
    """One stored experiment.

    ``definition`` is the experiment file as a JSON-able dict (space included), so
    the experiment can be rebuilt from the database alone.
    """

    id: int
    name: str
    definition: JSONDict
    state: ExperimentState
    created_at: datetime
    updated_at: datetime
    snapshot_hash: str | None = None
    commit: str | None = None
    dirty: bool | None = None
    driver: str | None = None
    """The program running it now, as :class:`app.engine.lease.Driver` encodes it."""
    driver_seen: datetime | None = None
    """When that program last renewed its lease."""


@dataclass(frozen=True)
class TrialRecord:
    """One stored trial. ``params`` is the nested form the searcher handed out."""

    id: int
    experiment_id: int
    number: int
    state: TrialState
    params: JSONDict
    created_at: datetime
    host: str | None = None
    gpus: tuple[int, ...] = ()
    pid: int | None = None
    trial_dir: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    kpi: float | None = None
    error: str | None = None
    log_offset: int = 0
    commit: str | None = None
    dirty: bool | None = None
    rerun_of: int | None = None
    """The number of the trial whose params this one repeats (a re-run or a requeued
    lost trial); None for a trial the searcher suggested. Only those count against
    max trials."""
    updated_at: datetime | None = None
    """When the stored trial last changed (None for a record not read from a store)."""
    early_stopping: EarlyStopping = EarlyStopping.SCHEDULED
    """Whether the early-stopping scheduler may prune it (a re-run may be exempt)."""


@dataclass(frozen=True)
class MetricPoint:
    """One reported value. ``time`` is seconds since the epoch (UTC)."""

    trial_id: int
    name: str
    value: float
    step: int | None
    time: float


@dataclass(frozen=True, eq=False)
class MetricSeries:
    """Every stored point of one metric of one trial, by step (points without a step
    first, in the order they were stored): what loading a whole experiment reads.

    ``steps`` and ``values`` are read-only float64 arrays of one length, a point
    without a step having a NaN step: an experiment holds millions of points, which
    a chart takes as arrays (one Python object per point cost the window's thread
    most of its time opening one). Compared by identity, as arrays have no single
    truth value.
    """

    trial_id: int
    name: str
    steps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]

    @property
    def last_step(self) -> int | None:
        """The newest step (the last, the series being by step); None when no point has one."""
        if not len(self.steps):
            return None
        step = float(self.steps[-1])
        return None if math.isnan(step) else int(step)


@dataclass(frozen=True)
class EventRecord:
    """A line of an experiment's history (state changes, warnings) for the Log tab."""

    id: int
    experiment_id: int
    trial_id: int | None
    time: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    """A code snapshot: one archive of the code directory and its content hash.

    ``archive`` is a ``.tar.gz`` on this machine; every trial unpacks its own copy.
    """

    archive: Path
    content_hash: str
    commit: str | None
    dirty: bool


@dataclass(frozen=True)
class TrialSpec:
    """Everything an executor needs to start one trial, and nothing about searchers.

    ``command`` is the experiment's template; the executor renders it with
    :func:`app.engine.protocol.render_command` once it knows the trial directory.
    """

    trial_id: int
    experiment_id: int
    command: str
    params: Mapping[str, Any]
    snapshot: Snapshot
    env: Mapping[str, str] = field(default_factory=dict)
    gpus: int = 0
    max_epochs: int | None = None
    avoid_hosts: tuple[str, ...] = ()
    """Hosts to use only when no other has room (a retry goes elsewhere first)."""
    segment: int = 0
    """Population-based training: which segment of the trial this launch is (0: its
    fresh start). Segment N > 0 runs in a folder of its own (the trial's with ``.N``)."""
    start_step: int = 0
    """The step the trial continues from (``SWEEPLAB_START_STEP``)."""
    restore_from: str | None = None
    """A checkpoint folder on the host ``restore_host`` (a donor's published checkpoint)
    copied into the trial's folder as ``restore/`` before it starts, on that host
    (``SWEEPLAB_RESTORE_DIR``)."""
    restore_host: str | None = None
    """The host ``restore_from`` is on: a pool starts the trial there when it has room,
    else on another host with the checkpoint carried over as ``restore_archive``."""
    restore_archive: bytes | None = field(default=None, compare=False, repr=False)
    """A checkpoint brought from another host (a ``.tar.gz`` of its folder), unpacked
    into the trial's folder as ``restore/`` (instead of ``restore_from``)."""
    on_launch: Callable[[str, str], None] | None = field(default=None, compare=False,
                                                          repr=False)
    """The launch intent: called by the executor, on its own thread, with the host's
    name and the trial's folder there, once the folder is ready and before the process
    starts. The runner stores both with the still QUEUED trial, so a resume after a
    crash knows where to look (see :class:`LaunchClaim`). If it raises, the trial is
    not started (START_FAILED)."""


class LaunchClaim(str, Enum):
    """What a resume finds in the folder of a trial stored with a launch intent but not
    seen starting (the driver died between the two).

    The trial's wrapper and the resume both claim the trial by creating its ``pid``
    file exclusively; whoever creates it first wins, so a wrapper that starts late
    exits without running the command once the resume has decided "never started".
    """

    STARTED = "started"
    """The wrapper won: the trial runs, or ran; follow its log from the start."""
    ABANDONED = "abandoned"
    """The resume won: the command never ran and never will; the trial runs again."""
    UNKNOWN = "unknown"
    """The host did not answer: the trial's fate is unknown there."""


class ProcessEventKind(str, Enum):
    """What an executor reports about a trial process."""

    STARTED = "started"
    OUTPUT = "output"
    EXITED = "exited"
    START_FAILED = "start_failed"
    LOST = "lost"
    """The host has been unreachable past its timeout; the trial's fate is unknown."""
    PENDING = "pending"
    """The trial waits before it starts: a batch scheduler (Slurm) holds it in its
    queue, or a server's GPU is taken by another run; ``message`` says why. Sent again
    whenever the reason changes; the trial stays QUEUED until STARTED."""
    RETURNED = "returned"
    """The host gives back a trial it has not started and cannot start now, because
    another host has room (``message`` says why). Nothing of it runs; the runner
    submits it again, other hosts first."""


@dataclass(frozen=True)
class ProcessEvent:
    """One observation of a trial process, produced by an executor.

    ``lines`` are complete log lines decoded as UTF-8 with replacement; ``offset``
    is the byte offset in ``output.log`` just after them, so a follower that
    restarts there neither loses nor repeats a line.
    """

    trial_id: int
    kind: ProcessEventKind
    host: str
    lines: tuple[str, ...] = ()
    offset: int = 0
    pid: int | None = None
    exit_code: int | None = None
    gpus: tuple[int, ...] = ()
    trial_dir: str | None = None
    message: str = ""
