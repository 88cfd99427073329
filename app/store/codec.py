"""How the store's columns are stored and read back, without SQLAlchemy.

The column types of :mod:`app.store.types` call these functions, and so does the
reader that lists a SQLite database without SQLAlchemy (:mod:`app.store.listing`): one
decoding for both, so the two cannot read a row differently.

* Times are timezone-aware UTC; SQLite keeps them as naive UTC text
  (``2026-12-06 15:51:01.123456``), read back with UTC attached.
* JSON whose stored text cannot be read (a file edited or damaged by hand: SQLite keeps
  JSON as text and checks nothing) reads as ``{UNREADABLE_JSON: "<the start of the
  text>"}`` instead of failing the whole query.
* Floats keep NaN and the infinities; SQLite turns a bound NaN into NULL, so NaN is
  stored there as the text ``'NaN'`` (SQLite keeps text that is not a number as text
  even in a REAL column) and read back as ``float('nan')``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, overload

UNREADABLE_JSON = "__unreadable_json__"
"""The key of the one-entry dict :func:`lenient_json` gives for text that is not JSON."""
_SHOWN_CHARS = 60


@overload
def utc_datetime(value: datetime) -> datetime: ...
@overload
def utc_datetime(value: None) -> None: ...
def utc_datetime(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: a naive one is UTC (SQLite), an aware
    one is converted (PostgreSQL)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@overload
def sqlite_datetime(value: str) -> datetime: ...
@overload
def sqlite_datetime(value: None) -> None: ...
def sqlite_datetime(value: str | None) -> datetime | None:
    """A time as SQLite stores it (ISO text, naive UTC), as an aware UTC datetime."""
    if value is None:
        return None
    return utc_datetime(datetime.fromisoformat(value))


def sqlite_float(value: Any) -> Any:
    """A float as it is bound on SQLite: NaN as the text ``'NaN'``, None as NULL."""
    if value is None:
        return None
    number = float(value)
    return "NaN" if math.isnan(number) else number


def exact_float(value: Any) -> float | None:
    """A stored float (the text ``'NaN'`` from SQLite included), or None."""
    return None if value is None else float(value)


def stored_bool(value: Any) -> bool | None:
    """A stored boolean (SQLite keeps 0 and 1), or None."""
    return None if value is None else bool(value)


def lenient_json(value: Any, loads: Callable[[Any], Any] = json.loads) -> Any:
    """Stored JSON text read with ``loads``; text that is not JSON reads as
    ``{UNREADABLE_JSON: the start of the text}``; None (NULL) as None."""
    if value is None:
        return None
    try:
        return loads(value)
    except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        shown = text[:_SHOWN_CHARS] + ("…" if len(text) > _SHOWN_CHARS else "")
        return {UNREADABLE_JSON: shown}
