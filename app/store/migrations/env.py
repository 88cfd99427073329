"""Alembic environment for Sweeplab's schema.

Run programmatically by :func:`app.store.migrate.upgrade`, which hands over an open
connection in ``config.attributes["connection"]`` (inside its own transaction).
Batch mode is on so later migrations can alter SQLite tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from app.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate the connection we were given, or the configured URL (alembic CLI)."""
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("alembic: set sqlalchemy.url or pass a connection")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise ValueError("Sweeplab's migrations run online only")
run_migrations_online()
