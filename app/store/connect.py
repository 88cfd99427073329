"""Database URLs and engines: the default SQLite file, SQLite pragmas, PostgreSQL.

SQLite is set up for one writer and many readers: WAL journal, foreign keys on, a
busy timeout, and write transactions opened with ``BEGIN IMMEDIATE`` so that two
programs writing at once wait for each other instead of failing half way.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from app.engine.ports import StoreError
from app.store.places import (
    create_private_file,
    looks_like_path,
    sqlite_url,
)

ENV_VAR = "SWEEPLAB_DB"
"""Environment variable that overrides the default database (a URL or a file path)."""

WRITE_OPTION = "sweeplab_write"
"""Execution option that marks a connection used for a write transaction."""
# Pauses between tries of the WAL switch (SQLite's busy handler: 1 ms up to 100 ms).
_FIRST_PAUSE = 0.001
_LAST_PAUSE = 0.05


class Backend(StrEnum):
    """The databases Sweeplab stores data in."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


def default_database_url() -> str:
    """The database Sweeplab uses when none is named.

    ``$SWEEPLAB_DB`` if set (a URL, or a path to a SQLite file), else
    ``sweeplab.db`` in the user data directory (e.g. ``~/.local/share/sweeplab``).
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return override if "://" in override else sqlite_url(Path(override))
    return sqlite_url(Path(platformdirs.user_data_dir("sweeplab")) / "sweeplab.db")


def _mask_raw(url: str) -> str:
    """``url`` as typed, with everything between the user's ``:`` and the last ``@``
    shown as ``***``: for a URL SQLAlchemy cannot parse, so that a password holding
    ``@``, ``:`` or ``/`` is hidden whole. Without ``://`` (``me:pw@host/db``, a typo
    such as ``postgresql:/me:pw@host/db``) the password starts at the first ``:`` not
    followed by ``/`` (at the first ``:`` when every one is)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, place = (rest if sep else url).rpartition("@")
    if not at:
        return url
    if sep:
        user, colon, _ = userinfo.partition(":")
        return f"{scheme}://{user}{':***' if colon else ''}@{place}"
    colons = [i for i, c in enumerate(userinfo) if c == ":"]
    if not colons:
        return url
    cut = next((i for i in colons if not userinfo.startswith("/", i + 1)), colons[0])
    return f"{userinfo[:cut]}:***@{place}"


def _port_problem(url: str) -> str:
    """What is wrong with the port of a URL SQLAlchemy could not read (it fails on a
    port that is not a number); never a part of the password."""
    place = url.partition("://")[2].rpartition("@")[2]
    host_port = re.split(r"[/?]", place, maxsplit=1)[0]
    port = host_port.rpartition("]")[2] if host_port.startswith("[") else host_port
    if ":" in port and not port.rpartition(":")[2].isdigit():
        return (f"its port {port.rpartition(':')[2]!r} is not a number (expected a whole "
                "number from 1 to 65535)")
    return _UNSPLIT


_UNSPLIT = ("it cannot be split into user, password, host and port (write '@', ':' and '/' "
            "inside a user name or password as %40, %3A and %2F)")


def _check_parts(url: str, parsed: URL) -> None:
    """Refuse what SQLAlchemy reads but no database server could be: a host holding
    ``@`` (the rest of a password with an ``@`` in it) or a port outside 1 to 65535."""
    if parsed.host is not None and "@" in parsed.host:
        raise StoreError(f"the database URL {_mask_raw(url)!r} is not usable: {_UNSPLIT}")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise StoreError(f"the database URL {parsed.render_as_string(hide_password=True)!r}: "
                         f"its port {parsed.port} is outside 1 to 65535")


@dataclass(frozen=True)
class Target:
    """Where a store points, described for messages (password masked)."""

    url: URL
    masked: str
    backend: Backend
    sqlite_path: str | None

    @property
    def is_sqlite(self) -> bool:
        """True for a SQLite database (file or memory)."""
        return self.backend is Backend.SQLITE

    @property
    def is_memory(self) -> bool:
        """True for a SQLite database in memory (one connection, shared by every
        thread)."""
        return self.is_sqlite and self.sqlite_path is None

    @property
    def place(self) -> str:
        """``the database file /x/y.db`` or ``the database at postgresql://...``."""
        if self.is_sqlite:
            return f"the database file {self.sqlite_path or ':memory:'}"
        return f"the database at {self.masked}"


def parse_url(url: str) -> Target:
    """Check and describe a database URL; a file path is read as a SQLite file.

    Raises:
        StoreError: the text is not a URL, or names a database Sweeplab does not support.
    """
    if looks_like_path(url):
        url = sqlite_url(Path(url))
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"{_mask_raw(url)!r} is not a database URL; expected e.g. "
            "sqlite:////path/to/sweeplab.db or postgresql+psycopg://user@host:5432/db"
        ) from exc
    except ValueError:  # int() of the port; its message may quote a part of a password
        raise StoreError(f"the database URL {_mask_raw(url)!r} is not usable: "
                         f"{_port_problem(url)}") from None
    _check_parts(url, parsed)
    name = parsed.get_backend_name()
    if name not in {b.value for b in Backend}:
        raise StoreError(
            f"Sweeplab stores data in SQLite or PostgreSQL, not {name!r} "
            f"({parsed.render_as_string(hide_password=True)})"
        )
    backend = Backend(name)
    if backend is Backend.POSTGRESQL and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    path = None
    if backend is Backend.SQLITE and parsed.database not in (None, "", ":memory:"):
        path = str(parsed.database)
    return Target(parsed, parsed.render_as_string(hide_password=True), backend, path)


def make_engine(target: Target, busy_timeout: float = 10.0) -> Engine:
    """An engine for ``target``; SQLite gets its pragmas and explicit transactions.

    Args:
        target: from :func:`parse_url`.
        busy_timeout: seconds a SQLite writer waits for another program's lock.

    Raises:
        ValueError: ``busy_timeout`` is negative.
        StoreError: the driver is missing (psycopg for PostgreSQL).
    """
    if busy_timeout < 0:
        raise ValueError(f"busy_timeout must be >= 0 seconds, got {busy_timeout}")
    try:
        if target.is_sqlite:
            return _sqlite_engine(target, busy_timeout)
        return sa.create_engine(
            target.url, pool_pre_ping=True, connect_args={"connect_timeout": 10}
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"cannot use {target.masked}: its driver is missing ({exc}); for PostgreSQL "
            "install psycopg (pip install 'sweeplab[postgres]')"
        ) from exc


def _sqlite_engine(target: Target, busy_timeout: float) -> Engine:
    if target.sqlite_path is not None:
        create_private_file(Path(target.sqlite_path))
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": busy_timeout, "check_same_thread": False},
    }
    if target.sqlite_path is None:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(target.url, **kwargs)
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event open transactions (pysqlite's own are wrong
        # for DDL and never IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    # The dialect's own begin, not a "begin" event: an engine with any connection event
    # listened to runs SQLAlchemy's event dispatch around every statement (~0.1 ms of
    # CPU each, a fifth of a trial write), and the event's BEGIN was a statement of its
    # own through the whole execution path. Errors here come wrapped as any statement's.
    def _do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.execute("BEGIN IMMEDIATE" if _BEGIN.immediate else "BEGIN")

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]
    return engine


class _Begin(threading.local):
    """Whether the transactions this thread opens now are writes (see :func:`writing`)."""

    immediate = False


_BEGIN = _Begin()


@contextmanager
def writing(immediate: bool = True) -> Iterator[None]:
    """Meanwhile, a SQLite transaction this thread opens takes the write lock at once
    (``BEGIN IMMEDIATE``): two programs writing at once then wait for each other in
    the busy timeout instead of failing half way. ``immediate=False``: a read's plain
    ``BEGIN``, also inside a write (a read never waits for the write lock it would
    itself hold). Other databases ignore it."""
    before, _BEGIN.immediate = _BEGIN.immediate, immediate
    try:
        yield
    finally:
        _BEGIN.immediate = before


def use_wal(engine: Engine, busy_timeout: float) -> None:
    """Switch a SQLite file to WAL (persistent; readers then never wait for the writer).

    Called once the file is known to be Sweeplab's, so a foreign file is never changed.

    SQLite applies no busy timeout to this switch: the pragma reads the file header
    under a read lock, then upgrades it to a write lock, and an upgrade that finds
    another writer fails at once (waiting there could deadlock with that writer). So
    a program opening a new database while another still wrote its schema, or
    switched it, failed at once with "database is locked". The switch is tried again
    here, from no lock held, until ``busy_timeout`` has passed: the wait that the busy
    timeout gives every other write.

    Raises:
        sqlite3.OperationalError: still locked after ``busy_timeout`` seconds, or
            another SQLite error.
    """
    deadline = time.monotonic() + busy_timeout
    pause = _FIRST_PAUSE
    raw = engine.raw_connection()
    try:
        while True:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or left <= 0:
                    raise
            finally:
                cursor.close()
            # Nothing tells when the other writer is done: poll, as SQLite's own
            # busy handler does, holding no lock in between.
            time.sleep(min(pause, left))
            pause = min(pause * 2, _LAST_PAUSE)
    finally:
        raw.close()


def write_engine(engine: Engine) -> Engine:
    """The same engine (same pool), with connections marked for writing (open its
    transactions inside :func:`writing`)."""
    return engine.execution_options(**{WRITE_OPTION: True})
