"""Saved Slurm clusters in the database: :class:`ClusterProfiles`.

Rows of ``cluster_profiles`` go in and out as frozen
:class:`~app.remote.slurm.profile.ClusterProfile` values. A cluster's login node is a
saved server (by name), whose secrets stay in the OS keyring; nothing secret is stored
here. A cluster may not share its name with a saved server: an experiment's ``hosts``
names either.
"""

from __future__ import annotations

import builtins

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.engine.ports import NotFound, StoreError
from app.remote.slurm.profile import ClusterProfile
from app.store.models import NAME_LENGTH, ClusterProfileRow, ServerProfileRow
from app.store.servers import InvalidProfile
from app.store.store import Store

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


def _to_profile(row: ClusterProfileRow) -> ClusterProfile:
    return ClusterProfile(
        name=row.name, login=row.login, workdir=row.workdir, partition=row.partition or "",
        account=row.account or "", qos=row.qos or "", cpus_per_trial=row.cpus_per_trial,
        memory=row.memory or "", gpus_per_trial=row.gpus_per_trial,
        max_parallel=row.max_parallel, setup=row.setup_command or "", python=row.python,
        sbatch_args=tuple(row.sbatch_args or ()),
    )


def _fill(row: ClusterProfileRow, profile: ClusterProfile) -> None:
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


class ClusterProfiles:
    """The saved clusters of one database.

    Every method is one session scope of the store (commit, or roll back and raise
    :class:`~app.engine.ports.StoreError`); profiles handed out are frozen values.
    Thread safety: as the store's, any thread.

    Args:
        store: the open store whose database holds the profiles.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def _row(self, session: Session, name: str, *, lock: bool = False) -> ClusterProfileRow:
        if not isinstance(name, str):
            raise ValueError(f"a cluster name must be text, got {name!r}")
        query = sa.select(ClusterProfileRow).where(ClusterProfileRow.name == name)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(f"no cluster named {name!r} in {self._store.url}")
        return row

    def add(self, profile: ClusterProfile) -> ClusterProfile:
        """Save a new cluster.

        Raises:
            InvalidProfile: the profile has problems (all are listed).
            StoreError: a cluster or a server with that name exists already.
        """
        profile = check_cluster(profile)
        row = ClusterProfileRow()
        _fill(row, profile)
        with self._store._session(write=True) as session:
            for table, what in ((ClusterProfileRow, "cluster"), (ServerProfileRow, "server")):
                taken = session.scalar(sa.select(table.id).where(table.name == profile.name))
                if taken is not None:
                    raise StoreError(f"a {what} named {profile.name!r} already exists; an "
                                     "experiment's hosts could not tell them apart")
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:  # another program took the name meanwhile
                raise StoreError(f"a cluster named {profile.name!r} already exists") from exc
            return _to_profile(row)

    def get(self, name: str) -> ClusterProfile:
        """The cluster called ``name``. Raises NotFound."""
        with self._store._session(write=False) as session:
            return _to_profile(self._row(session, name))

    def list(self) -> builtins.list[ClusterProfile]:
        """Every saved cluster, by name."""
        with self._store._session(write=False) as session:
            rows = session.scalars(sa.select(ClusterProfileRow).order_by(ClusterProfileRow.name))
            return [_to_profile(row) for row in rows]

    def names(self) -> builtins.list[str]:
        """The saved clusters' names, sorted (what the new-optimisation dialog offers)."""
        with self._store._session(write=False) as session:
            return list(session.scalars(sa.select(ClusterProfileRow.name)
                                        .order_by(ClusterProfileRow.name)))

    def update(self, profile: ClusterProfile) -> ClusterProfile:
        """Replace every field of the saved cluster with ``profile.name``.

        Raises:
            InvalidProfile: the profile has problems.
            NotFound: no cluster has that name (use :meth:`add`).
        """
        profile = check_cluster(profile)
        with self._store._session(write=True) as session:
            row = self._row(session, profile.name, lock=True)
            _fill(row, profile)
            return _to_profile(row)

    def remove(self, name: str) -> None:
        """Forget the cluster called ``name`` (its jobs in Slurm are not touched).

        Raises:
            NotFound: no such cluster.
        """
        with self._store._session(write=True) as session:
            session.delete(self._row(session, name, lock=True))
