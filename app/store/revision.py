"""The newest schema revision and how a database records its own, without SQLAlchemy
or alembic: :mod:`app.store.migrate` opens a store with it, and so does the reader that
lists a SQLite database without SQLAlchemy (:mod:`app.store.listing`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

HEAD = "0007"
"""The newest revision under ``migrations/versions`` (what
:func:`app.store.migrate.head_revision` reads from the scripts;
``tests/store/test_store_migrations.py`` checks the two agree)."""
VERSION_TABLE = "alembic_version"
"""The table in which alembic records a database's schema revision."""
VERSION_SQL = f"SELECT version_num FROM {VERSION_TABLE}"
"""The revisions recorded in a database (one row: its revision)."""


def stored_revisions(rows: Iterable[Sequence[object]]) -> tuple[str, ...]:
    """The revisions of :data:`VERSION_SQL`'s rows."""
    return tuple(str(row[0]) for row in rows)


def at_head(revisions: tuple[str, ...]) -> bool:
    """Whether a database recording ``revisions`` has the newest schema, :data:`HEAD`."""
    return revisions == (HEAD,)
