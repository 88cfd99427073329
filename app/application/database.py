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

from app.store.listing import Listing, read_sqlite_listing
from app.store.places import make_private_folder

if TYPE_CHECKING:
    from app.store.store import Store

__all__ = ["Listing", "data_dir", "database_url", "experiment_listing", "open_store"]

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
    url = url or os.environ.get(DB_ENV)
    return url if url else f"sqlite:///{data_dir() / 'sweeplab.db'}"


def open_store(url: str | None = None) -> Store:
    """The database at ``url``, ``$SWEEPLAB_DB``, or the default SQLite file."""
    from app.store.store import Store  # SQLAlchemy: not for a listing read without it

    return Store.open(database_url(url))


def experiment_listing(url: str | None = None) -> Listing:
    """Every experiment of the database :func:`open_store` opens, with its trials added
    up. A SQLite file at the newest schema is read without SQLAlchemy
    (:func:`app.store.listing.read_sqlite_listing`, ~0.4 s less to start); anything
    else is opened as a Store, upgraded if it must be, with the Store's messages.

    Raises:
        StoreError: the database cannot be opened or read.
    """
    url = database_url(url)
    listing = read_sqlite_listing(url)
    if listing is not None:
        return listing
    with open_store(url) as store:
        return Listing(store.url, store.list_experiments(), store.trial_tallies())
