"""Alembic, run programmatically: bring a database to the newest schema.

No ``alembic.ini`` is needed: the script location is this package's
``migrations`` folder, which ships as package data.

Alembic (~0.3 s to import, more than a whole ``sweeplab ls``) is imported only when a
database is not at :data:`HEAD`: opening one that is reads its ``alembic_version``
table with one query.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.engine.ports import StoreError
from app.store.connect import Backend, Target
from app.store.models import Base
from app.store.revision import HEAD, VERSION_SQL, VERSION_TABLE, at_head, stored_revisions

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
__all__ = ["HEAD", "alembic_config", "current_revisions", "head_revision", "is_current",
           "schema_differences", "upgrade"]
# pg_advisory_xact_lock key ("SWPL") so two programs never migrate one database at once.
_PG_LOCK_KEY = 0x5357504C


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An alembic Config for Sweeplab's migrations, optionally bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this Sweeplab knows, read from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revisions(connection: sa.Connection) -> tuple[str, ...]:
    """The schema revisions recorded in the database (empty for a new one)."""
    from alembic.migration import MigrationContext

    return tuple(MigrationContext.configure(connection).get_current_heads())


def _stored_revisions(connection: sa.Connection) -> tuple[str, ...] | None:
    """The revisions in ``alembic_version``, or None when it cannot be read (no such
    table: a new or a foreign database, which :func:`is_current` tells apart). Read
    in a savepoint, so a failed read leaves the caller's transaction usable."""
    try:
        with connection.begin_nested():
            return stored_revisions(connection.exec_driver_sql(VERSION_SQL))
    except sa.exc.DBAPIError:
        return None


def is_current(connection: sa.Connection, target: Target) -> bool:
    """Whether the database already has the newest schema; a read, no lock taken.

    Opening a store asks this first so that a database another program is writing
    to can still be opened and read: only an upgrade needs the write lock.

    Raises:
        StoreError: the database holds someone else's tables, or a schema revision
            this Sweeplab does not know (written by a newer version).
    """
    stored = _stored_revisions(connection)
    if stored is not None and at_head(stored):
        return True
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    tables = set(sa.inspect(connection).get_table_names())
    if tables and VERSION_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:5])
        if target.is_sqlite:
            raise StoreError(
                f"the file {target.sqlite_path} is not a Sweeplab database "
                f"(it holds other tables: {shown})"
            )
        raise StoreError(
            f"{target.place} is not a Sweeplab database (it holds other tables: {shown}); "
            "give Sweeplab a database of its own"
        )
    scripts = ScriptDirectory.from_config(alembic_config())
    current = current_revisions(connection)
    if current == (scripts.get_current_head(),):
        return True
    for revision in current:
        try:
            scripts.get_revision(revision)
        except CommandError as exc:
            raise StoreError(
                f"{target.place} has schema revision {revision!r}, which this Sweeplab "
                f"does not know (newest known: {head_revision()!r}); it was written by a "
                "newer Sweeplab"
            ) from exc
    return False


def upgrade(connection: sa.Connection, target: Target) -> None:
    """Migrate the database behind ``connection`` to the newest revision.

    Runs inside the caller's transaction (a write transaction: ``BEGIN IMMEDIATE``
    on SQLite; on PostgreSQL an advisory lock keeps concurrent openers in line).
    The revision is checked again under that lock, as another program may have
    upgraded the database since the caller's :func:`is_current` read.

    Raises:
        StoreError: the database holds someone else's tables, or a schema revision
            this Sweeplab does not know (written by a newer version).
    """
    if target.backend is Backend.POSTGRESQL:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    if is_current(connection, target):
        return
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def schema_differences(connection: sa.Connection) -> list[Any]:
    """What alembic autogenerate would change to make the database match the models.

    An empty list means the migrations and :mod:`app.store.models` agree.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))
