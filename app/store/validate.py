"""Argument checks for the store: bad input raises ValueError naming what and where."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from app.engine.records import MetricPoint
from app.engine.trial import TrialState
from app.store.models import NAME_LENGTH

E = TypeVar("E", bound=Enum)


def json_dict(value: object, what: str) -> dict[str, Any]:
    """A mapping that serialises to strict JSON (no NaN or infinity, string keys)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc
    return dict(value)


def enum_member(enum: type[E], value: object, what: str) -> E:
    """A member of ``enum``, given as the member or its value."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise ValueError(f"{what} must be one of {allowed}; got {value!r}") from None


def optional_int(value: object, what: str) -> int | None:
    """None or an int (bool refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer or None, got {value!r}")
    return value


def optional_float(value: object, what: str) -> float | None:
    """None or a real number, as float (bool refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number or None, got {value!r}")
    return float(value)


def optional_str(value: object, what: str) -> str | None:
    """None or a str; path-like values become their path string."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[no-any-return]
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string or None, got {value!r}")
    return value


def optional_bool(value: object, what: str) -> bool | None:
    """None or a bool."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{what} must be True, False or None, got {value!r}")
    return value


def aware_datetime(value: object, what: str) -> datetime | None:
    """None or a timezone-aware datetime, converted to UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime or None, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (e.g. datetime.now(UTC)), got {value}")
    return value.astimezone(UTC)


def gpu_list(value: object, what: str) -> list[int]:
    """A sequence of GPU indices (non-negative ints)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a sequence of GPU indices, got {value!r}")
    for index in value:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"{what} must hold GPU indices (ints >= 0), got {index!r}")
    return list(value)


def log_offset(value: object, what: str) -> int:
    """A byte offset (int >= 0)."""
    number = optional_int(value, what)
    if number is None or number < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return number


def _params(value: object, what: str) -> dict[str, Any]:
    return json_dict(value, what)


def _state(value: object, what: str) -> TrialState:
    return enum_member(TrialState, value, what)


TRIAL_FIELDS: dict[str, Callable[[object, str], Any]] = {
    "state": _state,
    "params": _params,
    "host": optional_str,
    "gpus": gpu_list,
    "pid": optional_int,
    "trial_dir": optional_str,
    "started_at": aware_datetime,
    "ended_at": aware_datetime,
    "exit_code": optional_int,
    "kpi": optional_float,
    "error": optional_str,
    "log_offset": log_offset,
    "commit": optional_str,
    "dirty": optional_bool,
}
"""The trial fields :meth:`Store.update_trial` may set, each with its check."""

_FIXED = ("id", "experiment_id", "number", "created_at", "rerun_of", "early_stopping")


def trial_fields(trial_id: int, fields: Mapping[str, object]) -> dict[str, Any]:
    """Checked and normalised ``update_trial`` fields (``state`` as a TrialState)."""
    unknown = sorted(set(fields) - set(TRIAL_FIELDS))
    if unknown:
        fixed = [key for key in unknown if key in _FIXED]
        if fixed:
            raise ValueError(f"update_trial({trial_id}): {', '.join(fixed)} cannot be changed")
        raise ValueError(
            f"update_trial({trial_id}): unknown field(s) {', '.join(unknown)}; "
            f"known: {', '.join(TRIAL_FIELDS)}"
        )
    return {
        key: TRIAL_FIELDS[key](value, f"update_trial({trial_id}): {key}")
        for key, value in fields.items()
    }


MetricRowTuple = tuple[int, str, int | None, float, float]
"""(trial_id, name, step, value, time): the order of :data:`app.store.bulk.COLUMNS`."""


def metric_rows(points: Sequence[MetricPoint]) -> list[MetricRowTuple]:
    """Checked metric points as insert rows, in order.

    The common case (float value, int or None step, float time, str name) takes
    a fast path of exact type checks; anything else gets the full check.
    """
    rows: list[MetricRowTuple] = []
    append = rows.append
    for index, point in enumerate(points):
        if type(point) is not MetricPoint:
            _check_point(index, point)
        value, step, when, name_ = point.value, point.step, point.time, point.name
        if (
            type(value) is not float
            or type(when) is not float
            or (step is not None and type(step) is not int)
            or type(point.trial_id) is not int
            or type(name_) is not str
            or not 0 < len(name_) <= NAME_LENGTH
        ):
            _check_point(index, point)
            value, when = float(value), float(when)
        append((point.trial_id, name_, step, value, when))
    return rows


def _check_point(index: int, point: object) -> None:
    where = f"add_metrics: point {index}"
    if not isinstance(point, MetricPoint):
        raise ValueError(f"{where} is a {type(point).__name__}, not a MetricPoint")
    value, step, when = point.value, point.step, point.time
    if isinstance(value, bool) or not isinstance(value, float | int):
        raise ValueError(f"{where} ({point.name!r}): value must be a number, got {value!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise ValueError(f"{where} ({point.name!r}): step must be an int or None, got {step!r}")
    if isinstance(when, bool) or not isinstance(when, float | int):
        raise ValueError(f"{where} ({point.name!r}): time must be a number, got {when!r}")
    if not isinstance(point.name, str) or not point.name or len(point.name) > NAME_LENGTH:
        raise ValueError(f"{where}: name must be a non-empty string, got {point.name!r}")
    if isinstance(point.trial_id, bool) or not isinstance(point.trial_id, int):
        raise ValueError(f"{where}: trial_id must be an int, got {point.trial_id!r}")
