"""Where a SQLite database lies and how it is opened, without SQLAlchemy: file paths
and URLs, the private folder and file, the busy timeout. :mod:`app.store.connect`
builds its engines with these, and the reader that lists a SQLite database without
SQLAlchemy (:mod:`app.store.listing`) finds its file with them."""

from __future__ import annotations

import math
import os
from pathlib import Path

BUSY_TIMEOUT_ENV = "SWEEPLAB_BUSY_TIMEOUT"
"""Environment variable: seconds a SQLite write waits for another program's lock."""
DEFAULT_BUSY_TIMEOUT = 10.0
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def resolve_busy_timeout(busy_timeout: float | None) -> float:
    """``busy_timeout`` if given, else ``$SWEEPLAB_BUSY_TIMEOUT``, else 10 seconds.

    The variable lets a script (or a test) that would rather fail fast than wait
    for another program's write lock say so without a command-line option.

    Raises:
        ValueError: the value is not a finite number of seconds >= 0 (naming the
            variable when it came from there).
    """
    if busy_timeout is None:
        raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
        if not raw:
            return DEFAULT_BUSY_TIMEOUT
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{BUSY_TIMEOUT_ENV} must be a number of seconds >= 0, "
                             f"got {raw!r}")
        return seconds
    if not math.isfinite(busy_timeout) or busy_timeout < 0:
        raise ValueError(f"busy_timeout must be >= 0 seconds, got {busy_timeout}")
    return float(busy_timeout)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.expanduser().absolute()}"


def looks_like_path(text: str) -> bool:
    """True for a file path rather than a URL: ``/x/y.db``, ``~/y.db``, ``./y``, ``y.sqlite``."""
    return "://" not in text and (
        text.startswith(("/", "~", "./", "../")) or text.endswith(_SQLITE_SUFFIXES))


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) if missing; the folder itself only for its
    owner (0700). An existing folder is left as it is: its mode is the user's choice.

    Raises:
        OSError: it cannot be created.
    """
    if folder.is_dir():
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode passes through the umask


def create_private_file(path: Path) -> None:
    """Create an empty ``path`` readable and writable by its owner only (0600), unless
    it exists. SQLite takes an empty file for a new database and gives its -wal and
    -shm files the same mode. Failing quietly is fine: SQLite then reports why."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # it exists, or cannot be made here: SQLite says so in its words
        return
    try:
        os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
    finally:
        os.close(fd)
