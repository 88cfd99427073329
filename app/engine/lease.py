"""Who drives an experiment: a lease held by the one process whose runner runs it.

Two programs must never drive one experiment at once: both would start trials,
settle each other's "leftovers" and write conflicting states. So a runner holds
its experiment's lease (``driver`` and ``driver_seen`` on the stored experiment):
taken before leftovers are settled, renewed from the runner loop every few
seconds, released when the run ends. Another program may take the lease only when
it is free, when its holder has not renewed it for :data:`LEASE_SECONDS`, or when
the holder is a process of this very host that no longer exists (a crash: no need
to wait), or this very process. A runner that finds its lease taken stops driving
and leaves the trials to the new holder, which re-attached them.

Clocks: renewal times are written by each driver's own clock; hosts sharing a
PostgreSQL database should keep their clocks within a few seconds (NTP).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from app.engine.ports import StoreError
from app.engine.processes import is_alive

LEASE_SECONDS = 30.0
"""A driver not heard of for this long is gone; its experiment may be taken over."""
RENEW_SECONDS = 3.0
"""How often a runner renews its lease."""
ENCODED_LIMIT = 255
"""The longest stored driver (the column's size)."""


@dataclass(frozen=True)
class Driver:
    """One process driving experiments: what it is, where, and a token of its own."""

    label: str
    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls, label: str) -> Driver:
        """A new driver for this process (a fresh token for every claim)."""
        return cls(label, socket.gethostname(), os.getpid(), secrets.token_hex(4))

    def encode(self) -> str:
        """The stored form: ``token pid@host label``, at most 255 characters (the label is
        cut first)."""
        return f"{self.token} {self.pid}@{self.host} {self.label}"[:ENCODED_LIMIT]

    @classmethod
    def decode(cls, text: str) -> Driver | None:
        """The driver ``encode`` wrote, or None for text it did not."""
        token, _, rest = text.partition(" ")
        where, _, label = rest.partition(" ")
        pid, _, host = where.partition("@")
        if not token or not host or not pid.isdigit():
            return None
        return cls(label, host, int(pid), token)

    def describe(self) -> str:
        """For a person: ``sweeplab run (pid 4242 on lab-pc)``."""
        return f"{self.label or 'a Sweeplab'} (pid {self.pid} on {self.host})"

    def is_replaceable(self) -> bool:
        """Whether this process may take over from this driver without waiting.

        True for a process of this host that no longer runs, and for this very
        process: within one process the Workspace (or the CLI's single run) already
        guards against two runners, and a runner that just ended may not have
        released its lease yet.
        """
        if self.host != socket.gethostname():
            return False
        return self.pid == os.getpid() or not is_alive(self.pid)


def other_driver(holder: str | None) -> Driver | None:
    """The driver ``holder`` encodes, unless it is none or this very process."""
    driver = Driver.decode(holder) if holder else None
    if driver is None or (driver.host == socket.gethostname() and driver.pid == os.getpid()):
        return None
    return driver


class DrivenElsewhere(ValueError):
    """Another live program drives the experiment; the message says which and how to go on."""

    def __init__(self, experiment: str, holder: str, seen: datetime | None) -> None:
        driver = Driver.decode(holder)
        who = driver.describe() if driver is not None else holder
        ago = ""
        if seen is not None:
            ago = f", last seen {max(0, round((utc_now() - seen).total_seconds()))} s ago"
        super().__init__(
            f"{experiment} is being run by {who}{ago}. Stop it there (or with "
            f"`sweeplab stop`); if that program died, it is free at once on its own "
            f"machine, and from others {LEASE_SECONDS:.0f} s after it was last seen")
        self.holder = holder


class LeaseRepository(Protocol):
    """The store's side of the lease: compare-and-set on the experiment row."""

    def experiment_driver(self, experiment_id: int) -> tuple[str | None, datetime | None]:
        """The stored driver and when it last renewed (None, None when free)."""
        ...

    def claim_experiment(self, experiment_id: int, driver: str, expected: str | None) -> bool:
        """Become the driver if the stored one is still ``expected``; False if it changed."""
        ...

    def renew_experiment(self, experiment_id: int, driver: str) -> bool:
        """Mark ``driver`` seen now; False when it no longer holds the lease."""
        ...

    def release_experiment(self, experiment_id: int, driver: str) -> None:
        """Free the lease if ``driver`` still holds it."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_free(holder: str | None, seen: datetime | None, *,
            lease_seconds: float = LEASE_SECONDS) -> bool:
    """Whether a lease held by ``holder``, last renewed at ``seen``, may be taken."""
    if holder is None:
        return True
    if seen is None or utc_now() - seen > timedelta(seconds=lease_seconds):
        return True
    driver = Driver.decode(holder)
    return driver is not None and driver.is_replaceable()


def check_not_driven(repo: LeaseRepository, experiment_id: int, name: str) -> None:
    """Raise :class:`DrivenElsewhere` when another live program runs the experiment."""
    holder, seen = repo.experiment_driver(experiment_id)
    if not is_free(holder, seen):
        raise DrivenElsewhere(name, holder or "another program", seen)


class Lease:
    """A runner's hold on its experiment. Take it with :meth:`claim`."""

    def __init__(self, repo: LeaseRepository, experiment_id: int, driver: Driver) -> None:
        self._repo = repo
        self._experiment_id = experiment_id
        self.driver = driver
        self._next_renewal = 0.0
        self.lost = False

    @classmethod
    def claim(cls, repo: LeaseRepository, experiment_id: int, name: str, label: str, *,
              lease_seconds: float = LEASE_SECONDS) -> Lease:
        """Take the experiment's lease for this process.

        Raises:
            DrivenElsewhere: a live program holds it (the message names it).
        """
        driver = Driver.this_process(label)
        holder, seen = repo.experiment_driver(experiment_id)
        if not is_free(holder, seen, lease_seconds=lease_seconds) or not repo.claim_experiment(
                experiment_id, driver.encode(), holder):
            holder, seen = repo.experiment_driver(experiment_id)
            raise DrivenElsewhere(name, holder or "another program", seen)
        lease = cls(repo, experiment_id, driver)
        lease._next_renewal = time.monotonic() + RENEW_SECONDS
        return lease

    def renew(self) -> bool:
        """Renew when due (cheap otherwise); False once another program took over."""
        if self.lost:
            return False
        if time.monotonic() < self._next_renewal:
            return True
        self._next_renewal = time.monotonic() + RENEW_SECONDS
        try:
            if not self._repo.renew_experiment(self._experiment_id, self.driver.encode()):
                self.lost = True
        except StoreError:
            pass  # a busy database: the lease holds LEASE_SECONDS, try again next time
        return not self.lost

    def release(self) -> None:
        """Let the experiment go (a no-op once lost)."""
        if not self.lost:
            self._repo.release_experiment(self._experiment_id, self.driver.encode())
