"""GPUs of a host: discovery through ``nvidia-smi``, and slot accounting.

:func:`parse_nvidia_smi` is a pure function over the CSV that
``nvidia-smi --query-gpu=index,name,memory.total,memory.used,utilization.gpu
--format=csv,noheader,nounits`` prints (one GPU a line); :func:`probe_gpus` runs the
tool and never raises: no tool, a failing tool or unreadable output all mean "no GPU".
The SSH executor can run the same :data:`QUERY` remotely and reuse the parser.
:class:`SlotTable` decides which GPUs (or CPU slots) a trial gets.
"""

from __future__ import annotations

import csv
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.ports import CannotRun, NoRoom

log = logging.getLogger(__name__)

QUERY_FIELDS = "index,name,memory.total,memory.used,utilization.gpu"
QUERY = (f"--query-gpu={QUERY_FIELDS}", "--format=csv,noheader,nounits")
PROBE_TIMEOUT_S = 15.0
_MISSING = {"[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[Insufficient Permissions]"}


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as ``nvidia-smi`` reports it; None where it printed ``[N/A]`` or similar.

    Memory is in MiB, utilisation in percent.
    """

    index: int
    name: str
    memory_total_mib: int | None
    memory_used_mib: int | None
    utilization_pct: int | None

    @property
    def memory_free_mib(self) -> int | None:
        """Total minus used, when both are known."""
        if self.memory_total_mib is None or self.memory_used_mib is None:
            return None
        return self.memory_total_mib - self.memory_used_mib


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """GPUs from the query's CSV output, in the order printed.

    A name containing commas is kept whole (the index is the first field and the three
    numbers are the last three).

    Raises:
        ValueError: a line that is not ``index, name, total, used, utilisation``,
            naming the line number and its text.
    """
    gpus: list[GpuInfo] = []
    lines = [line for line in text.splitlines() if line.strip()]
    for number, fields in enumerate(csv.reader(lines, skipinitialspace=True), start=1):
        where = f"nvidia-smi output line {number} {lines[number - 1]!r}"
        if len(fields) < 5:
            raise ValueError(f"{where}: expected 5 comma-separated fields, got {len(fields)}")
        index = _number(fields[0], where, "index")
        if index is None:
            raise ValueError(f"{where}: the GPU index is missing")
        name = ", ".join(field.strip() for field in fields[1:-3])
        total = _number(fields[-3], where, "memory.total")
        used = _number(fields[-2], where, "memory.used")
        util = _number(fields[-1], where, "utilization.gpu")
        gpus.append(GpuInfo(index, name, total, used, util))
    return gpus


def _number(field: str, where: str, what: str) -> int | None:
    value = field.strip()
    if value in _MISSING:
        return None
    try:
        return round(float(value))
    except ValueError:
        raise ValueError(f"{where}: {what} {value!r} is not a number") from None


def probe_gpus(nvidia_smi: str = "nvidia-smi", timeout: float = PROBE_TIMEOUT_S) -> list[GpuInfo]:
    """The GPUs of this machine, or an empty list when none can be found.

    Args:
        nvidia_smi: the program to run (looked up on ``PATH``).
        timeout: seconds to wait for it (a hung driver must not hang the app).

    Returns:
        The parsed GPUs. A missing or failing program gives ``[]``; output that cannot
        be parsed gives ``[]`` and a logged warning.
    """
    try:
        result = subprocess.run(
            [nvidia_smi, *QUERY], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no GPU probe: %s", exc)
        return []
    if result.returncode != 0:
        log.debug("%s exited with %d: %s", nvidia_smi, result.returncode, result.stderr.strip())
        return []
    try:
        return parse_nvidia_smi(result.stdout)
    except ValueError as exc:
        log.warning("ignoring unreadable GPU list from %s: %s", nvidia_smi, exc)
        return []


class NoFreeSlot(NoRoom):
    """A trial was submitted while its executor had no room for it."""


class TooFewGpus(CannotRun):
    """A trial asks for more GPUs than its host has: it can never run there."""


class SlotTable:
    """Who uses which GPU (or CPU slot) on one host. Not thread-safe: guard it.

    With GPUs, each takes ``trials_per_gpu`` trials; a trial asking for ``k`` GPUs gets
    ``k`` distinct GPUs with room, least loaded first (ties by index). A trial asking
    for none takes one of ``cpu_slots`` CPU slots, as does every trial on a host
    without GPUs.

    Args:
        gpus: indices of the GPUs to use (empty: none).
        trials_per_gpu: trials sharing one GPU, at least 1.
        cpu_slots: trials without a GPU at a time, at least 1.
        host: the executor's name, for messages.

    Raises:
        ValueError: a repeated or negative GPU index, or a count below 1.
    """

    def __init__(
        self, gpus: Sequence[int], trials_per_gpu: int, cpu_slots: int, host: str
    ) -> None:
        if len(set(gpus)) != len(gpus) or any(g < 0 for g in gpus):
            raise ValueError(f"{host}: GPU indices must be distinct and >= 0, got {list(gpus)}")
        if trials_per_gpu < 1:
            raise ValueError(f"{host}: trials_per_gpu must be at least 1, got {trials_per_gpu}")
        if cpu_slots < 1:
            raise ValueError(f"{host}: cpu_slots must be at least 1, got {cpu_slots}")
        self.host = host
        self.trials_per_gpu = trials_per_gpu
        self.cpu_slots = cpu_slots
        self._load = {index: 0 for index in sorted(gpus)}
        self._cpu_used = 0

    @property
    def gpus(self) -> tuple[int, ...]:
        """The GPU indices, ascending."""
        return tuple(self._load)

    def capacity(self) -> int:
        """How many 1-GPU trials (0-GPU trials without GPUs) fit when nothing runs."""
        if self._load:
            return self.trials_per_gpu * len(self._load)
        return self.cpu_slots

    def _used(self, gpu: int | None) -> int:
        """Trials on ``gpu`` now (None: CPU slots in use); a subclass may count more."""
        return self._cpu_used if gpu is None else self._load[gpu]

    def busy_reason(self) -> str:
        """Why no trial fits now, in words."""
        if self._load:
            return (f"each GPU of {self.host} has its {self.trials_per_gpu} trial(s) "
                    "(of this or another Sweeplab run)")
        return f"all {self.cpu_slots} CPU slots of {self.host} are taken"

    def free(self) -> int:
        """How many 1-GPU trials (0-GPU trials on a host without GPUs) fit now."""
        if self._load:
            return sum(max(0, self.trials_per_gpu - self._used(g)) for g in self._load)
        return max(0, self.cpu_slots - self._used(None))

    def claim(self, n_gpus: int, what: str = "trial") -> tuple[int, ...]:
        """Reserve room for a trial needing ``n_gpus`` GPUs; returns its GPUs (``()``: CPU).

        Raises:
            ValueError: ``n_gpus`` is negative.
            TooFewGpus: ``n_gpus`` is more than the host has.
            NoFreeSlot: the host has the GPUs, but not enough with room now.
        """
        chosen = self._choose(n_gpus, what)
        self.occupy(chosen)
        return chosen

    def _choose(self, n_gpus: int, what: str) -> tuple[int, ...]:
        """The GPUs :meth:`claim` would take (least used first), counting nothing yet."""
        if n_gpus < 0:
            raise ValueError(f"{what}: gpus must be >= 0, got {n_gpus}")
        if n_gpus == 0:
            if self._used(None) >= self.cpu_slots:
                raise NoFreeSlot(f"{what}: all {self.cpu_slots} CPU slots of {self.host} are busy")
            return ()
        if n_gpus > len(self._load):
            raise TooFewGpus(
                f"{what} asks for {n_gpus} GPU(s) but {self.host} has {len(self._load)}"
            )
        used = {index: self._used(index) for index in self._load}
        room = sorted((load, index) for index, load in used.items()
                      if load < self.trials_per_gpu)
        if len(room) < n_gpus:
            raise NoFreeSlot(f"{what}: only {len(room)} GPU(s) of {self.host} have room, "
                             f"{n_gpus} needed")
        return tuple(sorted(index for _, index in room[:n_gpus]))

    def occupy(self, gpus: Sequence[int]) -> None:
        """Count a trial already running on ``gpus`` (``()``: a CPU slot), even over capacity."""
        if not gpus:
            self._cpu_used += 1
        for index in gpus:
            if index in self._load:  # a GPU no longer configured is not counted
                self._load[index] += 1

    def release(self, gpus: Sequence[int]) -> None:
        """Give back what :meth:`claim` or :meth:`occupy` took for ``gpus``."""
        if not gpus:
            self._cpu_used = max(0, self._cpu_used - 1)
        for index in gpus:
            if index in self._load:
                self._load[index] = max(0, self._load[index] - 1)
