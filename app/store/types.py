"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime` stores timezone-aware datetimes and always hands back UTC.
  SQLite has no time zones, so the value is stored as naive UTC there.
* :class:`LenientJSON` is JSON whose unreadable stored text (a file edited or damaged
  by hand: SQLite keeps JSON as text and checks nothing) reads back as
  ``{UNREADABLE_JSON: "<the start of the text>"}`` instead of failing the whole query.
* :class:`ExactFloat` is a double that keeps NaN, +inf and -inf. PostgreSQL's
  ``double precision`` holds them natively; SQLite turns a bound NaN into NULL, so
  NaN is stored as the text ``'NaN'`` there (SQLite keeps text that is not a number
  as text even in a REAL column) and read back as ``float('nan')``.

What a stored value reads back as is decided in :mod:`app.store.codec`, which these
types call: the reader that lists a SQLite database without SQLAlchemy
(:mod:`app.store.listing`) calls it too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.types import TypeDecorator

from app.store import codec
from app.store.codec import UNREADABLE_JSON

__all__ = ["UNREADABLE_JSON", "ExactFloat", "LenientJSON", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored and returned in UTC.

    Naive datetimes are refused with ValueError: a time without a zone is ambiguous.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC (naive UTC on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"datetime {value.isoformat()} has no time zone; use an aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """SQLite's stored text read by :func:`codec.sqlite_datetime`; elsewhere the
        driver's datetime, in UTC."""
        if dialect.name == "sqlite":
            return codec.sqlite_datetime
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach (or convert to) UTC."""
        return codec.utc_datetime(value)


class ExactFloat(TypeDecorator[float]):
    """A double precision float that round-trips NaN and ±inf on every backend."""

    impl = sa.Double()
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, bind NaN as text; elsewhere defer to the plain double type."""
        if dialect.name == "sqlite":
            return codec.sqlite_float
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        """Return a float (the text ``'NaN'`` from SQLite included)."""
        return codec.exact_float(value)


class LenientJSON(TypeDecorator[Any]):
    """JSON that reads unreadable stored text as ``{UNREADABLE_JSON: text start}``.

    One damaged row must not hide every other: listing experiments goes on, and the
    damaged one can be named and shown as broken.
    """

    impl = sa.JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """The JSON type's own reader inside :func:`codec.lenient_json`."""
        inner = super().result_processor(dialect, coltype)
        if inner is None:
            return None
        return partial(codec.lenient_json, loads=inner)
