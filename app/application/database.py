"""Where Sweeplab keeps its data, and opening its database: what every command that
only reads needs, without the executors, SSH, Slurm and the runner that
:mod:`app.application.wiring` brings (``sweeplab ls`` imports this, not the wiring).

Importing this module imports no SQLAlchemy: :func:`experiment_listing` reads a SQLite
file at the newest schema without it (``sweeplab ls``), and the Store is imported when
a store is opened.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from app.engine.ports import StoreError
from app.store.listing import Listing, read_sqlite_listing, sqlite_file
from app.store.places import make_private_folder

if TYPE_CHECKING:
    from app.store.store import Store

__all__ = ["Listing", "MissingDatabase", "data_dir", "database_url", "experiment_listing",
           "open_if_stored", "open_store"]

HOME_ENV = "SWEEPLAB_HOME"
DB_ENV = "SWEEPLAB_DB"


def data_dir() -> Path:
    """Where Sweeplab keeps its database, snapshots and trial directories."""
    override = os.environ.get(HOME_ENV)
    path = Path(override) if override else platformdirs.user_data_path("sweeplab", "Sweeplab")
    make_private_folder(path)  # 0700 when created here: it holds the database and trials
    return path


def database_url(url: str | None = None) -> str:
    """``url``, else ``$SWEEPLAB_DB``, else the default SQLite file's URL."""
    return _chosen_database(url)[0]


def _chosen_database(url: str | None) -> tuple[str, str | None]:
    """The database's URL (see :func:`database_url`) and who chose it: ``--db``,
    ``$SWEEPLAB_DB``, or None for the default file."""
    if url:
        return url, "--db"
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV], f"${DB_ENV}"
    return f"sqlite:///{data_dir() / 'sweeplab.db'}", None


class MissingDatabase(StoreError):
    """A command that only reads or changes what is stored found no SQLite file where it
    looked (it makes none: a mistyped path would otherwise list nothing, silently).

    Attributes:
        path: the file looked for.
        chosen: whether a person chose it (``--db``, ``$SWEEPLAB_DB``) rather than it
            being the default file, which the first run makes.
    """

    def __init__(self, path: str, source: str | None) -> None:
        self.path, self.chosen = path, source is not None
        where = f" (from {source})" if source else ""
        check = "; is the path right?" if source else ""
        super().__init__(f"no database at {path}{where}: nothing was stored there yet "
                         f"(`sweeplab run FILE` or the app makes it){check}")


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """The database at ``url``, ``$SWEEPLAB_DB``, or the default SQLite file.

    Args:
        create: make a SQLite file that does not exist yet (what runs and added
            servers do); False for a command that needs what is stored.

    Raises:
        MissingDatabase: ``create`` is False and the SQLite file does not exist.
        StoreError: the database cannot be opened.
    """
    from app.store.store import Store  # SQLAlchemy: not for a listing read without it

    url, source = _chosen_database(url)
    if not create and _nothing_stored_yet(url, source):
        raise MissingDatabase(_sqlite_path(url) or url, source)
    return Store.open(url)


def open_if_stored(url: str | None = None) -> Store | None:
    """What a listing opens: :func:`open_store` that makes nothing, or None for the
    default file before the first run made it (nothing stored yet).

    Raises:
        MissingDatabase: a SQLite file a person chose does not exist.
        StoreError: the database cannot be opened.
    """
    url, source = _chosen_database(url)
    return None if _nothing_stored_yet(url, source) else open_store(url)


def _nothing_stored_yet(url: str, source: str | None) -> bool:
    """Whether ``url`` is the default SQLite file, not made yet.

    Raises:
        MissingDatabase: it is a SQLite file a person chose (``source``) that does not
            exist.
    """
    path = _sqlite_path(url)
    if path is None or os.path.exists(path):
        return False
    if source is not None:
        raise MissingDatabase(path, source)
    return True


def _sqlite_path(url: str) -> str | None:
    found = sqlite_file(url)
    return None if found is None else found[0]


def experiment_listing(url: str | None = None) -> Listing:
    """Every experiment of the database :func:`open_store` opens, with its trials added
    up. A SQLite file at the newest schema is read without SQLAlchemy
    (:func:`app.store.listing.read_sqlite_listing`, ~0.4 s less to start); anything
    else is opened as a Store, upgraded if it must be, with the Store's messages. The
    default file not made yet lists no experiments (and is not made).

    Raises:
        MissingDatabase: a SQLite file a person chose does not exist.
        StoreError: the database cannot be opened or read.
    """
    url, source = _chosen_database(url)
    if _nothing_stored_yet(url, source):
        return Listing(url, [], {})
    listing = read_sqlite_listing(url)
    if listing is not None:
        return listing
    with open_store(url) as store:
        return Listing(store.url, store.list_experiments(), store.trial_tallies())
