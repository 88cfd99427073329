"""Where Sweeplab keeps its data, and opening its database: what every command that
only reads needs, without the executors, SSH, Slurm and the runner that
:mod:`app.application.wiring` brings (``sweeplab ls`` imports this, not the wiring).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from app.store.connect import make_private_folder
from app.store.store import Store

HOME_ENV = "SWEEPLAB_HOME"
DB_ENV = "SWEEPLAB_DB"


def data_dir() -> Path:
    """Where Sweeplab keeps its database, snapshots and trial directories."""
    override = os.environ.get(HOME_ENV)
    path = Path(override) if override else platformdirs.user_data_path("sweeplab", "Sweeplab")
    make_private_folder(path)  # 0700 when created here: it holds the database and trials
    return path


def open_store(url: str | None = None) -> Store:
    """The database at ``url``, ``$SWEEPLAB_DB``, or the default SQLite file."""
    url = url or os.environ.get(DB_ENV)
    if url:
        return Store.open(url)
    return Store.open(f"sqlite:///{data_dir() / 'sweeplab.db'}")
