"""Turn driver and SQLAlchemy errors into :class:`StoreError` messages for a person."""

from __future__ import annotations

from app.engine.ports import StoreError
from app.store.connect import Target

_LOCKED = ("database is locked", "database table is locked")
_NOT_A_DB = ("file is not a database",)
_DAMAGED = ("database disk image is malformed", "disk i/o error", "database or disk is full")


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException, target: Target, busy_timeout: float) -> StoreError:
    """A :class:`StoreError` that says what went wrong with ``target`` and what to do.

    Args:
        exc: a SQLAlchemy or DB-API exception.
        target: the database it happened on.
        busy_timeout: the SQLite busy timeout in seconds, quoted for locks.
    """
    reason = _reason(exc)
    lowered = reason.lower()
    if target.is_sqlite:
        path = target.sqlite_path or ":memory:"
        if any(marker in lowered for marker in _LOCKED):
            return StoreError(
                f"the database file {path} is locked by another program "
                f"(waited {busy_timeout:g} s); close the other program or try again"
            )
        if any(marker in lowered for marker in _NOT_A_DB):
            return StoreError(f"the file {path} is not a Sweeplab database ({reason})")
        if any(marker in lowered for marker in _DAMAGED):
            return StoreError(
                f"the database file {path} is damaged or cannot be written ({reason}); "
                "free disk space, or restore it from a backup (or move it aside to start "
                "a new one)"
            )
        if "unable to open database file" in lowered:
            return StoreError(
                f"cannot open the database file {path} ({reason}); check that its "
                "folder exists and that you may write there"
            )
        if "readonly database" in lowered:
            return StoreError(
                f"the database file {path} is read-only ({reason}); make it and its folder "
                "writable, or name another database with --db"
            )
        return StoreError(f"{target.place}: {reason}")
    if "connection" in lowered or "connect" in lowered or "timeout" in lowered:
        return StoreError(f"cannot reach {target.place}: {reason}")
    return StoreError(f"{target.place}: {reason}")
