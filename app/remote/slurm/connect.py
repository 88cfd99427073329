"""The login node of a cluster, by its profile: :func:`cluster_access`."""

from __future__ import annotations

from app.remote.slurm.access import ClusterAccess, LocalAccess
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile

LOCAL_TICK_S = 0.25
"""Seconds between two reads of the trial directories on this machine (plain file reads)."""
SSH_TICK_S = 1.0
"""The same over SSH (one script per read, one ``wc`` per running trial)."""


def cluster_access(profile: ClusterProfile, login: ServerProfile | None,
                   secrets: Secrets | None = None, known_hosts: KnownHosts | None = None,
                   *, connect_timeout: float = 10.0) -> ClusterAccess:
    """This machine when ``profile.login`` is None, else an SSH access through ``login``.

    Raises:
        ValueError: ``login`` does not match ``profile.login``, or SSH without known hosts.
    """
    if profile.login is None:
        return LocalAccess(profile.name, profile.workdir, profile.setup)
    if login is None or login.name != profile.login:
        raise ValueError(f"cluster {profile.name!r}: its login node is the saved server "
                         f"{profile.login!r}, got {login.name if login else None!r}")
    if known_hosts is None:
        raise ValueError(f"cluster {profile.name!r}: known hosts are needed to reach "
                         f"{login.name} over SSH")
    from app.remote.slurm.ssh_access import SshAccess  # paramiko only where needed

    return SshAccess(profile.name, login, secrets or Secrets(), known_hosts, profile.workdir,
                     profile.setup, connect_timeout=connect_timeout)


def tick_for(profile: ClusterProfile) -> float:
    """How often the executor reads the trial directories of this cluster."""
    return LOCAL_TICK_S if profile.login is None else SSH_TICK_S
