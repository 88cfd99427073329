"""Tables of named profiles: :class:`NamedRows`, what saved servers and clusters share.

A saved server (:mod:`app.store.servers`) and a saved Slurm cluster
(:mod:`app.store.clusters`) are each one row found by a unique name and handed out as a
frozen profile value. This module holds the repository code they have in common: find
a row by name, refuse a taken name, turn a unique-name violation at flush (another
program was faster) into a :class:`~app.engine.ports.StoreError`, and get, list, update
and remove by name. A subclass names its row class and its kind, and supplies three
hooks: check a profile, fill a row from one, read one from a row.

Servers and clusters also share one namespace: an experiment's ``hosts`` names either,
so neither kind may take a name the other holds (:data:`HOST_TABLES`). The schema
cannot say so (two tables), so :meth:`NamedRows.add` checks both; on PostgreSQL an
advisory lock keeps two programs from both passing that check at once (SQLite's
``BEGIN IMMEDIATE`` already lets one writer in at a time).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Final, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.engine.ports import NotFound, StoreError
from app.store.models import Base, ClusterProfileRow, ServerProfileRow
from app.store.store import Store

__all__ = ["HOST_TABLES", "InvalidProfile", "NamedRows"]


class _Named(Protocol):
    """A profile value: it has a name."""

    @property
    def name(self) -> str: ...


RowT = TypeVar("RowT", bound=Base)
"""A row class with an ``id`` and a unique ``name`` column."""
ProfileT = TypeVar("ProfileT", bound=_Named)

HOSTS_CLASH = ("a {kind} named {name!r} already exists; an experiment's hosts name either a "
               "server or a cluster, so the two could not be told apart")
"""The refusal of a name the other kind of host holds (``kind``: "server" or "cluster")."""

HOST_TABLES: Final[tuple[tuple[type[Base], str], ...]] = (
    (ServerProfileRow, "server"), (ClusterProfileRow, "cluster"))
"""The tables whose names an experiment's ``hosts`` picks from, each with the word for
its kind: a name may be in one of them only."""

_PG_LOCK_KEY = 0x5357484E
"""``pg_advisory_xact_lock`` key ("SWHN", Sweeplab host names) held while adding a row
to one of :data:`HOST_TABLES`."""


def _name(table: type[Base]) -> sa.ColumnElement[str]:
    """The ``name`` column of a profile table (typed for any row class)."""
    return table.__table__.c.name


def _taken(session: Session, table: type[Base], name: str) -> bool:
    """Whether a row of ``table`` is called ``name``."""
    return session.scalar(sa.select(table.__table__.c.id).where(_name(table) == name)) is not None


class InvalidProfile(StoreError):
    """A profile with problems; ``problems`` holds one line per problem, naming the field."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        if not self.problems:
            raise ValueError("an InvalidProfile needs at least one problem")
        super().__init__("\n".join(self.problems))


class NamedRows(ABC, Generic[RowT, ProfileT]):
    """The saved profiles of one kind in one database, by name.

    Every public method is one session scope of the store (commit, or roll back and
    raise :class:`~app.engine.ports.StoreError`); profiles handed out are frozen values.
    Thread safety: as the store's, any thread.

    A subclass sets ``_row_type`` (its row class, one of :data:`HOST_TABLES`) and
    ``_noun`` (its kind in messages: "no {noun} named 'x'") and implements
    :meth:`_check`, :meth:`_fill` and :meth:`_to_profile`.

    Args:
        store: the open store whose database holds the profiles.
    """

    _row_type: type[RowT]
    _noun: str

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- hooks ----------------------------------------------------------------

    @abstractmethod
    def _check(self, profile: object) -> ProfileT:
        """``profile`` if valid; raises ValueError (wrong type) or InvalidProfile."""

    @abstractmethod
    def _fill(self, row: RowT, profile: ProfileT) -> None:
        """Set every column of ``row`` from ``profile`` (name included)."""

    @abstractmethod
    def _to_profile(self, row: RowT) -> ProfileT:
        """The frozen profile that ``row`` holds."""

    # -- shared within a session ----------------------------------------------

    def _row(self, session: Session, name: str, *, lock: bool = False) -> RowT:
        """The row called ``name`` (``FOR UPDATE`` when ``lock``). Raises NotFound."""
        if not isinstance(name, str):
            raise ValueError(f"a {self._noun} name must be text, got {name!r}")
        query = sa.select(self._row_type).where(_name(self._row_type) == name)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(f"no {self._noun} named {name!r} in {self._store.url}")
        return row

    def _refuse_taken(self, session: Session, name: str) -> None:
        """Raise StoreError if this kind, or another of :data:`HOST_TABLES`, has ``name``."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if _taken(session, self._row_type, name):
            raise StoreError(f"a {self._noun} named {name!r} already exists")
        for rival, word in HOST_TABLES:
            if rival is not self._row_type and _taken(session, rival, name):
                raise StoreError(HOSTS_CLASH.format(kind=word, name=name))

    def _flush_new(self, session: Session, name: str) -> None:
        """Flush a new row; a unique-name violation becomes StoreError."""
        try:
            session.flush()
        except IntegrityError as exc:  # another program took the name meanwhile
            raise StoreError(f"a {self._noun} named {name!r} already exists") from exc

    # -- public ---------------------------------------------------------------

    def add(self, profile: ProfileT) -> ProfileT:
        """Save a new profile.

        Raises:
            ValueError: not a profile of this kind at all.
            InvalidProfile: the profile has problems (all are listed).
            StoreError: a profile of this kind, or of the other kind in
                :data:`HOST_TABLES`, has that name already.
        """
        profile = self._check(profile)
        row = self._row_type()
        self._fill(row, profile)
        with self._store._session(write=True) as session:
            self._refuse_taken(session, profile.name)
            session.add(row)
            self._flush_new(session, profile.name)
            return self._to_profile(row)

    def get(self, name: str) -> ProfileT:
        """The profile called ``name``. Raises NotFound."""
        with self._store._session(write=False) as session:
            return self._to_profile(self._row(session, name))

    def list(self) -> builtins.list[ProfileT]:
        """Every saved profile, by name."""
        with self._store._session(write=False) as session:
            rows = session.scalars(sa.select(self._row_type).order_by(_name(self._row_type)))
            return [self._to_profile(row) for row in rows]

    def names(self) -> builtins.list[str]:
        """The saved profiles' names, sorted."""
        column = _name(self._row_type)
        with self._store._session(write=False) as session:
            return list(session.scalars(sa.select(column).order_by(column)))

    def update(self, profile: ProfileT) -> ProfileT:
        """Replace every field of the saved profile with ``profile.name``.

        The name is the key, so an update never renames (no name can be taken by it).

        Raises:
            ValueError: not a profile of this kind at all.
            InvalidProfile: the profile has problems.
            NotFound: no profile has that name (use :meth:`add`).
        """
        profile = self._check(profile)
        with self._store._session(write=True) as session:
            row = self._row(session, profile.name, lock=True)
            self._fill(row, profile)
            return self._to_profile(row)

    def remove(self, name: str) -> None:
        """Forget the profile called ``name``.

        Raises:
            NotFound: no such profile.
        """
        with self._store._session(write=True) as session:
            session.delete(self._row(session, name, lock=True))
