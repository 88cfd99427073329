"""Saved Slurm clusters in the database: :class:`ClusterProfiles`.

Rows of ``cluster_profiles`` go in and out as frozen
:class:`~app.remote.slurm.profile.ClusterProfile` values. A cluster's login node is a
saved server (by name), whose secrets stay in the OS keyring; nothing secret is stored
here. A cluster may not share its name with a saved server: an experiment's ``hosts``
names either. The repository code itself is :class:`~app.store.named.NamedRows`.
"""

from __future__ import annotations

from app.remote.slurm.profile import ClusterProfile
from app.store.models import NAME_LENGTH, ClusterProfileRow
from app.store.named import InvalidProfile, NamedRows

__all__ = ["ClusterProfiles", "InvalidProfile", "check_cluster"]


def _type_problems(profile: ClusterProfile) -> list[str]:
    where = f"cluster {profile.name!r}"
    found: list[str] = []
    for field in ("name", "workdir", "partition", "account", "qos", "memory", "setup",
                  "python"):
        if not isinstance(getattr(profile, field), str):
            found.append(f"{where}: {field} must be text, got {getattr(profile, field)!r}")
    for field in ("cpus_per_trial", "max_parallel"):
        value = getattr(profile, field)
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{where}: {field.replace('_', ' ')} must be an integer, got {value!r}")
    gpus = profile.gpus_per_trial
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int)):
        found.append(f"{where}: GPUs per trial must be an integer or None, got {gpus!r}")
    if profile.login is not None and not isinstance(profile.login, str):
        found.append(f"{where}: login must be a server name or None, got {profile.login!r}")
    args = profile.sbatch_args
    if not isinstance(args, tuple) or not all(isinstance(arg, str) for arg in args):
        found.append(f"{where}: sbatch arguments must be a tuple of text, got {args!r}")
    return found


def check_cluster(profile: object) -> ClusterProfile:
    """``profile`` if it is a valid ClusterProfile that fits the schema.

    Raises:
        ValueError: not a ClusterProfile at all.
        InvalidProfile: every problem found, each naming the field.
    """
    if not isinstance(profile, ClusterProfile):
        raise ValueError(f"expected a ClusterProfile, got {type(profile).__name__}")
    found = _type_problems(profile)
    if found:
        raise InvalidProfile(found)
    found = profile.problems()
    if len(profile.name) > NAME_LENGTH:
        found.append(f"cluster {profile.name!r}: name is longer than {NAME_LENGTH} characters")
    if found:
        raise InvalidProfile(found)
    return profile


class ClusterProfiles(NamedRows[ClusterProfileRow, ClusterProfile]):
    """The saved clusters of one database: add, get, list, names, update, remove (see
    :class:`~app.store.named.NamedRows`).

    Every method is one session scope of the store (commit, or roll back and raise
    :class:`~app.engine.ports.StoreError`); profiles handed out are frozen values.
    Thread safety: as the store's, any thread. A cluster may not take a saved server's
    name. Removing a cluster does not touch its jobs in Slurm.

    Args:
        store: the open store whose database holds the profiles.
    """

    _row_type = ClusterProfileRow
    _noun = "cluster"

    def _check(self, profile: object) -> ClusterProfile:
        return check_cluster(profile)

    def _to_profile(self, row: ClusterProfileRow) -> ClusterProfile:
        return ClusterProfile(
            name=row.name, login=row.login, workdir=row.workdir,
            partition=row.partition or "", account=row.account or "", qos=row.qos or "",
            cpus_per_trial=row.cpus_per_trial, memory=row.memory or "",
            gpus_per_trial=row.gpus_per_trial, max_parallel=row.max_parallel,
            setup=row.setup_command or "", python=row.python,
            sbatch_args=tuple(row.sbatch_args or ()),
        )

    def _fill(self, row: ClusterProfileRow, profile: ClusterProfile) -> None:
        row.name = profile.name
        row.login = profile.login
        row.workdir = profile.workdir
        row.partition = profile.partition or None
        row.account = profile.account or None
        row.qos = profile.qos or None
        row.cpus_per_trial = profile.cpus_per_trial
        row.memory = profile.memory or None
        row.gpus_per_trial = profile.gpus_per_trial
        row.max_parallel = profile.max_parallel
        row.setup_command = profile.setup or None
        row.python = profile.python
        row.sbatch_args = list(profile.sbatch_args)
