"""Saved Slurm clusters: add, remove, test, watch their queues.

The use cases both front ends call for clusters (the Servers window's cluster panel and
``sweeplab clusters``): :class:`Clusters` over one database, :class:`LoginQueueSource`
for live queue counts. A cluster logs in through a saved server (its secrets come
from that server's :class:`~app.application.servers.SecretKeeper`) or runs ``sbatch``
on this machine. No Qt here.

:class:`ClusterProfile` is the remote layer's frozen value, re-exported so that a front
end names only this layer (:class:`~app.remote.slurm.status.QueueCounts` and
``ClusterReport`` come back from :meth:`LoginQueueSource.refresh` and
:meth:`Clusters.test`).
"""

from __future__ import annotations

import builtins
import threading
from typing import TYPE_CHECKING, Protocol

from app.engine.ports import NotFound, StoreError
from app.remote.slurm.access import AccessError, ClusterAccess
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles, InvalidProfile, check_cluster
from app.store.store import Store

if TYPE_CHECKING:  # the SSH stack (paramiko) and the keyring load only when a cluster is
    # reached, so that `sweeplab clusters ls` stays light
    from app.application.servers import Servers
    from app.remote.slurm.status import ClusterReport as ClusterReport
    from app.remote.slurm.status import QueueCounts as QueueCounts

__all__ = ["ClusterProfile", "Clusters", "InvalidProfile", "LoginQueueSource", "QueueSource",
           "check_cluster"]


class QueueSource(Protocol):
    """Where a front end gets each cluster's queue (blocking; called on a worker thread)."""

    def refresh(self, profile: ClusterProfile) -> QueueCounts:
        """The cluster's queue now; trouble is a status with ``online=False``, not raised."""
        ...

    def close(self) -> None:
        """Release connections (any thread)."""
        ...


class Clusters:
    """The saved Slurm clusters of one database.

    Args:
        store: the open database.
        servers: the saved servers of the same database (login nodes, their secrets and
            the known host keys); default: over the keyring.
    """

    def __init__(self, store: Store, servers: Servers | None = None) -> None:
        self.url = store.url
        self._profiles = ClusterProfiles(store)
        self._store = store
        self._servers = servers

    @property
    def servers(self) -> Servers:
        """The saved servers (login nodes) of the same database."""
        if self._servers is None:
            from app.application.servers import Servers

            self._servers = Servers(self._store)
        return self._servers

    def list(self) -> list[ClusterProfile]:
        """Every saved cluster, by name."""
        return self._profiles.list()

    def get(self, name: str) -> ClusterProfile:
        """The saved cluster ``name`` (raises NotFound)."""
        return self._profiles.get(name)

    def names(self) -> builtins.list[str]:
        """The saved clusters' names."""
        return self._profiles.names()

    def add(self, profile: ClusterProfile) -> ClusterProfile:
        """Save a new cluster; its login server, when it names one, must be saved.

        Raises:
            InvalidProfile: every problem of the profile, each naming its field.
            ValueError: the login server is not saved (the message lists the saved ones).
            StoreError: the name is taken by a server or a cluster.
        """
        check_cluster(profile)
        if profile.login is not None:
            servers = [server.name for server in self.servers.list()]
            if profile.login not in servers:
                raise ValueError(f"--login: no saved server named {profile.login!r} (saved: "
                                 f"{', '.join(servers) or 'none'}); add it first with "
                                 f"`sweeplab servers add {profile.login} --host ... --user ...`")
        return self._profiles.add(profile)

    def remove(self, name: str) -> None:
        """Forget cluster ``name`` (jobs it has in Slurm are not touched)."""
        self._profiles.remove(name)

    def access(self, profile: ClusterProfile, *, connect_timeout: float = 10.0) -> ClusterAccess:
        """How to reach the cluster: this machine, or its login server over SSH with that
        server's secrets (not connected yet).

        Raises:
            ValueError: its login server is not saved.
            SecretStoreError: the keyring failed.
        """
        from app.remote.slurm.connect import cluster_access

        if profile.login is None:
            return cluster_access(profile, None)
        try:
            login = self.servers.get(profile.login)
        except StoreError:
            raise ValueError(f"its login server {profile.login!r} is not saved") from None
        return cluster_access(profile, login, self.servers.secrets(login.name),
                              self.servers.known_hosts, connect_timeout=connect_timeout)

    def test(self, name: str, timeout: float = 10.0) -> ClusterReport:
        """Check, in order, whether trials could be submitted to cluster ``name``
        (blocking: connects to its login node).

        Raises:
            ValueError: ``timeout`` is not positive, or its login server is not saved.
            NotFound: no cluster ``name``.
        """
        if timeout <= 0:
            raise ValueError(f"--timeout must be > 0 seconds, got {timeout:g}")
        profile = self.get(name)
        if profile.login is not None:
            try:
                self.servers.get(profile.login)
            except NotFound:
                raise ValueError(f"cluster {profile.name} logs in through the server "
                                 f"{profile.login!r}, which is not saved") from None
        from app.remote.slurm.status import probe_cluster

        access = self.access(profile, connect_timeout=timeout)
        failure = ""
        try:
            connect = getattr(access, "connect", None)
            if connect is not None:
                from app.remote.ssh.errors import SshError

                try:
                    connect(timeout + 30.0)
                except (SshError, AccessError) as exc:
                    failure = str(exc)
            return probe_cluster(profile, access, failure)
        finally:
            access.close()

    def queue_source(self) -> LoginQueueSource:
        """A source of live queue counts, one kept access per cluster."""
        return LoginQueueSource(self)


class LoginQueueSource:
    """Queues read through each cluster's login node, one kept access per cluster.

    Args:
        clusters: the saved clusters (and through them the login servers and secrets).

    Thread safety: as :class:`QueueSource` requires.
    """

    def __init__(self, clusters: Clusters) -> None:
        self._clusters = clusters
        self._lock = threading.Lock()
        self._held: dict[str, tuple[ClusterProfile, ClusterAccess]] = {}

    def refresh(self, profile: ClusterProfile) -> QueueCounts:
        """``squeue`` through the cluster's login node (connecting first if needed)."""
        from app.remote.slurm.status import QueueCounts, query_queue

        try:
            access = self._access(profile)
            connect = getattr(access, "connect", None)
            if connect is not None and not access.online:
                connect(20.0)
        except Exception as exc:  # no login server, keyring or SSH trouble: say it
            return QueueCounts(profile.name, False, error=str(exc))
        return query_queue(profile, access)

    def _access(self, profile: ClusterProfile) -> ClusterAccess:
        with self._lock:
            held = self._held.get(profile.name)
            if held is not None and held[0] == profile:
                return held[1]
        access = self._clusters.access(profile)
        with self._lock:
            stale = self._held.get(profile.name)
            self._held[profile.name] = (profile, access)
        if stale is not None:
            stale[1].close()
        return access

    def close(self) -> None:
        """Close every access."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for _profile, access in held:
            access.close()

