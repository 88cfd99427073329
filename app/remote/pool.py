"""Several hosts as one executor: :class:`Pool` places each trial on the host with the
most free room relative to its size, so every host is equally busy.

The hosts share one event queue, so the runner waits on one queue whatever the
number of hosts. Placement (AETROS: "all servers equally busy based on max parallel
jobs and queue length"): :func:`~app.engine.balance.most_room`, the rule the runner
uses between executors too. A host that finds it cannot start a trial after all (an
SSH server whose GPU another run took) gives it back when another host has room; the
runner then submits it again, other hosts first. A host with fewer GPUs than the run's
trials ask for is passed over once it has said so.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.engine.balance import most_room
from app.engine.ports import NoRoom
from app.engine.records import LaunchClaim, ProcessEvent, ProcessEventKind, TrialRecord, TrialSpec
from app.remote.events import EventQueue, drain
from app.remote.gpu import TooFewGpus

log = logging.getLogger(__name__)


class Host(Protocol):
    """What the pool needs of a host's executor (the Executor protocol)."""

    name: str

    def capacity(self) -> int: ...

    def busy_reason(self) -> str: ...

    def free_slots(self) -> int: ...

    def pack_folder(self, path: str) -> bytes: ...

    def submit(self, spec: TrialSpec) -> None: ...

    def stop(self, trial_id: int, grace: float) -> None: ...

    def follow(self, trial_id: int, trial_dir: Path | str, offset: int, pid: int | None,
               *, gpus: Sequence[int] = (), queued: bool = False) -> None: ...

    def claim(self, trial_dir: str) -> LaunchClaim: ...

    def close(self) -> None: ...


class Pool:
    """The hosts of one run as one executor.

    Args:
        make_hosts: builds the hosts, each given the shared event queue.

    Raises:
        ValueError: no host, or two hosts with one name.
    """

    name = "pool"

    def __init__(self, make_hosts: Callable[[EventQueue], Sequence[Host]]) -> None:
        self._events = EventQueue()
        self.hosts = list(make_hosts(self._events))
        if not self.hosts:
            raise ValueError("a pool needs at least one host")
        names = [host.name for host in self.hosts]
        if len(set(names)) != len(names):
            raise ValueError(f"host names must differ, got {names}")
        self._placed: dict[int, Host] = {}
        self._lock = threading.Lock()
        self._too_few: dict[str, tuple[int, str]] = {}
        """Per host, the fewest GPUs a trial asked for that it has not (for this run),
        with its words."""
        self._need = 0
        """The GPUs of the last trial submitted (what :meth:`free_slots` counts room for)."""
        for host in self.hosts:
            if hasattr(host, "elsewhere"):  # it may give a waiting trial back (RETURNED)
                host.elsewhere = functools.partial(self._room_elsewhere, host)

    def _room_elsewhere(self, asker: Host, gpus: int) -> bool:
        """Whether a host other than ``asker`` has room now for ``gpus`` 1-GPU places."""
        return any(host.free_slots() >= max(1, gpus) for host in self._fitting(gpus)
                   if host is not asker)

    def _fitting(self, gpus: int) -> list[Host]:
        """The hosts not known to have fewer than ``gpus`` GPUs."""
        return [host for host in self.hosts
                if gpus <= 0 or self._too_few.get(host.name, (gpus + 1, ""))[0] > gpus]

    def host(self, name: str) -> Host:
        """The host of that name (KeyError if none)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def capacity(self) -> int:
        """The sum of the capacities of the hosts that can run the run's trials."""
        return sum(host.capacity() for host in self._fitting(self._need))

    def free_slots(self) -> int:
        """The sum of the free slots of the hosts that can run the run's trials (a host
        without enough GPUs for them, found at the first submit, no longer counts)."""
        return sum(max(0, host.free_slots()) for host in self._fitting(self._need))

    def busy_reason(self) -> str:
        """Each host's reason for having no room (those with too few GPUs say so)."""
        fitting = self._fitting(self._need)
        reasons = [host.busy_reason() for host in fitting if host.free_slots() <= 0]
        reasons += [f"{host.name} has too few GPUs for these trials" for host in self.hosts
                    if host not in fitting]
        return "; ".join(reasons)

    def pick(self, avoid: Sequence[str] = (), gpus: int = 0) -> Host | None:
        """The host the next trial goes to, or None when all are full; hosts named in
        ``avoid`` only when no other has room, hosts known to have fewer than ``gpus``
        GPUs never."""
        return most_room(self._fitting(gpus), last_resort=lambda host: host.name in avoid)

    def _submit_restoring(self, spec: TrialSpec, source_name: str) -> None:
        """A trial continuing from a checkpoint on host ``source_name``: started there
        when it has room (the checkpoint is copied on that host), else on the host with
        most room, the checkpoint carried through this program.

        Raises:
            NoRoom: no host has room now.
            OSError: the checkpoint cannot be read on its host.
        """
        source = self.host(source_name)
        if source.free_slots() > 0:
            self._submit_to(source, spec)
            return
        target = self.pick((), spec.gpus)
        if target is None:
            raise NoRoom(f"trial {spec.trial_id}: every host is full")
        assert spec.restore_from is not None
        began = time.monotonic()
        archive = source.pack_folder(spec.restore_from)
        log.info("trial %s: its checkpoint came from %s to %s (%d bytes in %.1f s)",
                 spec.trial_id, source.name, target.name, len(archive),
                 time.monotonic() - began)
        self._submit_to(target, dataclasses.replace(spec, restore_from=None,
                                                    restore_archive=archive,
                                                    restore_host=None))

    def _submit_to(self, host: Host, spec: TrialSpec) -> None:
        """Start the trial on ``host`` only.

        Raises:
            NoRoom: that host is full now.
        """
        if host.free_slots() <= 0:
            raise NoRoom(f"trial {spec.trial_id}: {host.name} is full")
        host.submit(spec)
        with self._lock:
            self._placed[spec.trial_id] = host

    def submit(self, spec: TrialSpec) -> None:
        """Start the trial on :meth:`pick`'s host (on ``spec.restore_host`` when it names
        one). A host with fewer GPUs than the trial asks for (a laptop beside GPU
        servers) is passed over, from now on.

        Raises:
            NoRoom: every host that can run it is full (check :meth:`free_slots` first).
            TooFewGpus: no host has that many GPUs.
        """
        self._need = spec.gpus
        if spec.restore_host is not None:
            self._submit_restoring(spec, spec.restore_host)
            return
        while (host := self.pick(spec.avoid_hosts, spec.gpus)) is not None:
            try:
                host.submit(spec)
            except TooFewGpus as exc:
                log.info("%s; such trials go to other hosts", exc)
                self._too_few[host.name] = (spec.gpus, str(exc))
                continue
            with self._lock:
                self._placed[spec.trial_id] = host
            return
        if not self._fitting(spec.gpus):
            raise TooFewGpus("; ".join(words for _, words in self._too_few.values()))
        raise NoRoom(f"trial {spec.trial_id}: every host is full")

    def follow(self, host_name: str, trial_id: int, trial_dir: Path | str, offset: int,
               pid: int | None, *, gpus: Sequence[int] = (), queued: bool = False) -> None:
        """Re-attach to a trial an earlier run started on ``host_name`` (``queued``: its
        job still waits in a batch queue).

        Raises:
            KeyError: no host of that name in this pool.
            ValueError: the host follows that trial already, or a bad offset.
        """
        host = self.host(host_name)
        host.follow(trial_id, trial_dir, offset, pid, gpus=gpus, queued=queued)
        with self._lock:
            self._placed[trial_id] = host

    def claim(self, trial: TrialRecord) -> LaunchClaim:
        """Claim a trial stored with a launch intent (host and folder) on its host, for
        a resume: did its process start? (See :class:`LaunchClaim`.)"""
        if trial.host is None or trial.trial_dir is None:
            return LaunchClaim.UNKNOWN
        try:
            host = self.host(trial.host)
        except KeyError:
            return LaunchClaim.UNKNOWN
        return host.claim(trial.trial_dir)

    def poll(self, timeout: float) -> list[ProcessEvent]:
        """Events of every host since the last call, waiting at most ``timeout`` s."""
        events = drain(self._events, timeout, self.name)
        with self._lock:
            for event in events:
                if event.kind in (ProcessEventKind.EXITED, ProcessEventKind.START_FAILED,
                                  ProcessEventKind.LOST, ProcessEventKind.RETURNED):
                    self._placed.pop(event.trial_id, None)
        return events

    def stop(self, trial_id: int, grace: float) -> None:
        """Stop the trial on the host that runs it; unknown trials are ignored."""
        with self._lock:
            host = self._placed.get(trial_id)
        if host is not None:
            host.stop(trial_id, grace)

    def close(self) -> None:
        """Close every host; trials keep running."""
        self._events.release()
        for host in self.hosts:
            host.close()


if TYPE_CHECKING:
    from app.engine.ports import Executor

    def _is_an_executor(pool: Pool) -> Executor:
        return pool
