"""This machine's GPUs and CPU slots, shared by every Sweeplab process on it.

Two experiments running at once (two in the window, or the window and a
``sweeplab run`` in a terminal) each have their own executor; without a shared
record both would put a trial on GPU 0. So each place a trial can take is a lock
file (``gpu3.0.lock``, ``gpu3.1.lock`` with two trials per GPU, ``cpu.5.lock``):
a trial holds an exclusive ``flock`` on one file per GPU it uses (or on one CPU
slot file) for its whole life. The executor takes the locks before the start and
hands the open files to the trial's wrapper process (``pass_fds``), then closes its
own copies: the locks outlive a crashed app and go when the trial's last process
exits. Every executor counts the locked files as used.

POSIX only (``fcntl``); elsewhere :func:`shared_slots` gives the plain in-process
:class:`~app.remote.gpu.SlotTable`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from app.remote.gpu import NoFreeSlot, SlotTable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_ROUNDS = 3
_ROUND_PAUSE_S = 0.002


class SlotLocks:
    """Lock files in ``folder`` (created 0700), one per place."""

    def __init__(self, folder: Path) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            raise OSError("slot locks need fcntl (POSIX)")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder = folder

    def _open(self, kind: str, place: int) -> int:
        return os.open(self.folder / f"{kind}.{place}.lock", os.O_RDWR | os.O_CREAT, 0o600)

    def take(self, kind: str, places: int) -> int | None:
        """An open, locked file of a free place of ``kind``, or None when all are taken.

        Another process counting places (:meth:`used`) holds a free one for an instant,
        so a full round that finds none is tried again, twice, a moment later.
        """
        for round_ in range(_ROUNDS):
            if round_:
                time.sleep(_ROUND_PAUSE_S)  # a retry pause, not a synchronisation
            for place in range(places):
                fd = self._open(kind, place)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
        return None

    def used(self, kind: str, places: int) -> int:
        """How many places of ``kind`` some process holds now (this one included)."""
        count = 0
        for place in range(places):
            fd = self._open(kind, place)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                count += 1
            finally:
                os.close(fd)  # closing drops a lock taken just to look
        return count


class SharedSlots(SlotTable):
    """A :class:`SlotTable` that also counts what other processes use, through locks."""

    def __init__(self, gpus: Sequence[int], trials_per_gpu: int, cpu_slots: int, host: str,
                 locks: SlotLocks) -> None:
        super().__init__(gpus, trials_per_gpu, cpu_slots, host)
        self.locks = locks

    def _used(self, gpu: int | None) -> int:
        """This executor's count, or the locked places when other processes use more."""
        if gpu is None:
            return max(self._cpu_used, self.locks.used("cpu", self.cpu_slots))
        return max(self._load[gpu], self.locks.used(f"gpu{gpu}", self.trials_per_gpu))

    def claim_locked(self, n_gpus: int, what: str = "trial") -> tuple[tuple[int, ...], list[int]]:
        """:meth:`claim` that also locks each place taken; returns the GPUs and the open
        lock files, which the trial's process must inherit (and the caller then close).

        Raises:
            ValueError: ``n_gpus`` is negative or more than the host has.
            NoFreeSlot: not enough room now, counting other processes.
        """
        try:
            chosen = self._choose(n_gpus, what)
        except NoFreeSlot as exc:
            raise NoFreeSlot(f"{exc}: the places are taken (by this or another "
                             "Sweeplab)") from exc
        places: list[int | None] = list(chosen) if chosen else [None]  # None: a CPU slot
        fds: list[int] = []
        for gpu in places:
            kind, count = ("cpu", self.cpu_slots) if gpu is None else (
                f"gpu{gpu}", self.trials_per_gpu)
            fd = self.locks.take(kind, count)
            if fd is None:  # another process took it since the count
                close_all(fds)
                where = "CPU slots" if gpu is None else f"places on GPU {gpu}"
                raise NoFreeSlot(f"{what}: all {where} of {self.host} are taken "
                                 "(by this or another Sweeplab)")
            fds.append(fd)
        self.occupy(chosen)
        return chosen, fds


def close_all(fds: Sequence[int]) -> None:
    """Close lock files (a lock goes once no process has its file open)."""
    for fd in fds:
        with suppress(OSError):
            os.close(fd)


def shared_slots(gpus: Sequence[int], trials_per_gpu: int, cpu_slots: int, host: str,
                 folder: Path | None) -> SlotTable:
    """Slots shared through lock files in ``folder``; in-process only without one (or fcntl)."""
    if folder is None or fcntl is None:
        return SlotTable(gpus, trials_per_gpu, cpu_slots, host)
    return SharedSlots(gpus, trials_per_gpu, cpu_slots, host, SlotLocks(folder))
