"""The trial table's data without Qt: cell text, numpy sort keys and the filter.

:class:`TrialRows` keeps one entry per trial in arrival order. The Qt model
(:mod:`app.views.trials.table_model`) asks it for the visible rows in order — a
numpy ``argsort`` over one column's key array — and for cell text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from app.application.analysis.ranking import top_k_mask
from app.engine.best import competing_kpi
from app.engine.params import flatten
from app.engine.records import TrialRecord
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.views.trials.text import (
    MISSING,
    duration_seconds,
    format_duration,
    format_gpus,
    format_time,
    format_value,
    state_label,
)

IndexArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
_STATE_CODE = {state: code for code, state in enumerate(TrialState)}


class Column(IntEnum):
    """The fixed columns; parameter columns follow them, one per dotted name."""

    NUMBER = 0
    STATE = 1
    KPI = 2
    DURATION = 3
    HOST = 4
    GPUS = 5
    STARTED = 6
    ENDED = 7


FIXED_HEADERS = {Column.NUMBER: "#", Column.STATE: "state", Column.KPI: "KPI",
                 Column.DURATION: "duration", Column.HOST: "host", Column.GPUS: "GPUs",
                 Column.STARTED: "started", Column.ENDED: "ended"}
FIXED_COUNT = len(Column)
NUMERIC_FIXED = frozenset({Column.NUMBER, Column.KPI, Column.DURATION})
PARAM_KEY_PREFIX = "param:"
TIME_COLUMNS = {Column.STARTED: "started_at", Column.ENDED: "ended_at"}


@dataclass(frozen=True)
class TrialFilter:
    """Which trials the table lists.

    Attributes:
        states: the states shown (None: all). CREATED goes with QUEUED.
        text: case-insensitive text that some cell must contain ("" matches all).
        top_k: show only the K completed trials with the best KPI, goal-aware (None:
            all trials); the states and text then filter those.
    """

    states: frozenset[TrialState] | None = None
    text: str = ""
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top K needs K >= 1 (or None for all), got {self.top_k}")

    def accepts_state(self, state: TrialState) -> bool:
        """Whether trials in ``state`` pass the state part of the filter."""
        if self.states is None:
            return True
        return state in self.states or (state is TrialState.CREATED
                                        and TrialState.QUEUED in self.states)


class _Row:
    """One trial's entry: its record and flattened params; the cell texts are formatted
    when first asked for (:attr:`cells`), since opening an experiment adds thousands of
    rows of which the table shows a few dozen (formatting every row's cells on arrival
    was most of the GUI thread's time opening 10,000 trials)."""

    __slots__ = ("_cells", "_haystack", "_params", "flat", "record")

    def __init__(self, record: TrialRecord, flat: dict[str, Any]) -> None:
        self.record = record
        self.flat = flat
        self._cells: list[str] | None = None
        self._params: dict[str, str] | None = None
        self._haystack: str | None = None

    @property
    def cells(self) -> list[str]:
        """The fixed columns' texts (a finished trial's duration; "" while it runs)."""
        if self._cells is None:
            self._cells = _fixed_cells(self.record)
        return self._cells

    @property
    def params(self) -> dict[str, str]:
        """Each dotted parameter's text."""
        if self._params is None:
            self._params = {name: format_value(value) for name, value in self.flat.items()}
        return self._params

    @property
    def haystack(self) -> str:
        """Every cell's text in lower case, for the text filter."""
        if self._haystack is None:
            cells = self.cells
            searchable = [cell for i, cell in enumerate(cells)
                          if i != Column.DURATION or cell]
            self._haystack = "\x00".join([*searchable, *self.params.values()]).lower()
        return self._haystack

    def param_text(self, name: str) -> str | None:
        """A parameter's text, None when the trial has no such parameter."""
        if self._params is not None:
            return self._params.get(name)
        return format_value(self.flat[name]) if name in self.flat else None


class TrialRows:
    """Trials with their cells, in arrival order; not thread safe (GUI thread)."""

    def __init__(self, kpi_name: str = "KPI", goal: Goal = Goal.MIN) -> None:
        self.kpi_name = kpi_name
        self.goal = goal
        self.param_names: list[str] = []
        self._param_set: set[str] = set()
        self._rows: list[_Row] = []
        self._index: dict[int, int] = {}
        self._keys: dict[int, FloatArray] = {}
        self._numeric_params: dict[str, bool] = {}
        self._mask: tuple[TrialFilter, npt.NDArray[np.bool_]] | None = None
        self._top: tuple[int, Goal, npt.NDArray[np.bool_]] | None = None
        self._running: list[int] = []

    # --- content ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every trial and parameter column."""
        self.param_names.clear()
        self._param_set.clear()
        self._rows.clear()
        self._index.clear()
        self._keys.clear()
        self._numeric_params.clear()
        self._mask = None
        self._top = None

    def new_param_names(self, flat: Mapping[str, Any]) -> list[str]:
        """Dotted names in ``flat`` (a trial's flattened params) that have no column yet."""
        return [name for name in flat if name not in self._param_set]

    def add_param_names(self, names: Iterable[str]) -> None:
        """Append parameter columns."""
        for name in names:
            if name not in self._param_set:
                self._param_set.add(name)
                self.param_names.append(name)

    def upsert(self, record: TrialRecord,
               flat: dict[str, Any] | None = None) -> tuple[int, bool]:
        """Add or replace a trial; returns its index and whether it is new.

        Args:
            record: the trial.
            flat: ``flatten(record.params)`` when the caller has it already.

        Raises:
            ValueError: when the record has parameters without a column (add them first).
        """
        flat = flatten(record.params) if flat is None else flat
        missing = [name for name in flat if name not in self._param_set]
        if missing:
            raise ValueError(f"trial {record.id}: parameters {missing} have no column; "
                             "call add_param_names first")
        row = _Row(record, flat)
        numeric = dict(self._numeric_params)
        for name, value in flat.items():
            self._numeric_params[name] = self._numeric_params.get(name, True) and _is_number(value)
        self._top = None
        index = self._index.get(record.id)
        if index is None:
            self._index[record.id] = index = len(self._rows)
            self._rows.append(row)
            self._extend_cache(numeric)
            return index, True
        self._rows[index] = row
        self._keys.clear()
        self._mask = None
        return index, False

    def _extend_cache(self, numeric_before: dict[str, bool]) -> None:
        """The last row is new: the cached sort keys and filter mask stay, to be extended
        by the rows added since when next asked for (an experiment being opened adds
        thousands; rebuilding them, or copying them, per row was quadratic). Keys that
        depend on every row (ranks of texts, durations of running trials) and a top-K
        mask are dropped, to be built again when asked."""
        if self._mask is not None and self._mask[0].top_k is not None:
            self._mask = None
        for column in list(self._keys):
            kept = column in (Column.NUMBER, Column.STATE, Column.KPI) or column in TIME_COLUMNS
            if column >= FIXED_COUNT:
                name = self.param_names[column - FIXED_COUNT]
                kept = numeric_before.get(name, True) and self._numeric_params.get(name, True)
            if not kept:
                del self._keys[column]

    def index_of(self, trial_id: int) -> int | None:
        """The trial's index (arrival order), or None."""
        return self._index.get(trial_id)

    def record(self, index: int) -> TrialRecord:
        """The trial at ``index``."""
        return self._rows[index].record

    def has_running(self) -> bool:
        """Whether any trial runs (its duration cell changes with time)."""
        return any(row.record.state is TrialState.RUNNING for row in self._rows)

    # --- columns ------------------------------------------------------------------------

    def column_count(self) -> int:
        """Fixed columns plus one per parameter."""
        return FIXED_COUNT + len(self.param_names)

    def header(self, column: int) -> str:
        """A column's title (the KPI column is titled with the KPI's name)."""
        if column == Column.KPI:
            return self.kpi_name
        if column < FIXED_COUNT:
            return FIXED_HEADERS[Column(column)]
        return self.param_names[column - FIXED_COUNT]

    def column_key(self, column: int) -> str:
        """A column's stable name across experiments and KPI names: ``kpi``, ``started``,
        ``param:optimizer.lr``.

        Raises:
            ValueError: when the column does not exist.
        """
        if not 0 <= column < self.column_count():
            raise ValueError(f"no column {column}: the table has {self.column_count()}")
        if column < FIXED_COUNT:
            return Column(column).name.lower()
        return PARAM_KEY_PREFIX + self.param_names[column - FIXED_COUNT]

    def column_of(self, key: str) -> int | None:
        """The column with :meth:`column_key` ``key``, or None."""
        if key.startswith(PARAM_KEY_PREFIX):
            name = key[len(PARAM_KEY_PREFIX):]
            if name not in self._param_set:
                return None
            return FIXED_COUNT + self.param_names.index(name)
        try:
            return int(Column[key.upper()])
        except KeyError:
            return None

    def is_numeric(self, column: int) -> bool:
        """Whether a column holds numbers (drawn right-aligned, sorted by value)."""
        if column < FIXED_COUNT:
            return column in NUMERIC_FIXED
        return self._numeric_params.get(self.param_names[column - FIXED_COUNT], True)

    def cell(self, index: int, column: int, now: datetime | None = None) -> str:
        """A cell's text; a running trial's duration is measured to ``now``."""
        row = self._rows[index]
        if column == Column.DURATION and row.record.state is TrialState.RUNNING:
            return format_duration(duration_seconds(row.record, now))
        if column < FIXED_COUNT:
            return row.cells[column]
        return row.param_text(self.param_names[column - FIXED_COUNT]) or ""

    # --- sorting and filtering ----------------------------------------------------------

    def key_array(self, column: int, now: datetime | None = None) -> FloatArray:
        """One float per trial to sort ``column`` by; NaN where the cell is empty.

        Text columns (and parameters holding any non-number) sort by rank of the text.

        Raises:
            ValueError: when the column does not exist.
        """
        if not 0 <= column < self.column_count():
            raise ValueError(f"no column {column}: the table has {self.column_count()}")
        cached = self._keys.get(column)
        if cached is None:
            cached = self._keys[column] = self._build_keys(column)
        elif len(cached) < len(self._rows):  # rows appended since (see _extend_cache)
            cached = self._keys[column] = np.concatenate(
                [cached, self._build_keys(column, self._rows[len(cached):])])
        if column != Column.DURATION or not self._running:
            return cached
        moment = now or datetime.now(UTC)  # running trials' durations move: not cached
        keys = cached.copy()
        keys[self._running] = _floats(duration_seconds(self._rows[i].record, moment)
                                      for i in self._running)
        return keys

    def _build_keys(self, column: int, rows: list[_Row] | None = None) -> FloatArray:
        rows = self._rows if rows is None else rows
        if column == Column.NUMBER:
            return _floats(row.record.number for row in rows)
        if column == Column.STATE:
            return _floats(_STATE_CODE[row.record.state] for row in rows)
        if column == Column.KPI:
            return _floats(row.record.kpi for row in rows)
        if column == Column.DURATION:
            self._running = [i for i, row in enumerate(rows)
                             if row.record.state is TrialState.RUNNING]
            return _floats(duration_seconds(row.record) for row in rows)
        if column in TIME_COLUMNS:
            attribute = TIME_COLUMNS[Column(column)]
            return _floats(moment.timestamp() if (moment := getattr(row.record, attribute))
                           else None for row in rows)
        if column == Column.HOST:  # host, GPUs: by text
            return _text_ranks([row.record.host or None for row in rows])
        if column == Column.GPUS:
            return _text_ranks([format_gpus(row.record.gpus) if row.record.gpus else None
                                for row in rows])
        name = self.param_names[column - FIXED_COUNT]
        if self.is_numeric(column):
            return _floats(row.flat.get(name) for row in rows)
        return _text_ranks([row.param_text(name) for row in rows])

    def mask(self, flt: TrialFilter) -> npt.NDArray[np.bool_]:
        """Which trials pass the filter (kept until the trials change)."""
        known = self._mask[1] if self._mask is not None and self._mask[0] == flt else None
        if known is not None and len(known) == len(self._rows):
            return known
        if flt.top_k is not None:
            known = None  # (dropped when rows are appended; see _extend_cache)
        needle = flt.text.strip().lower()
        new = self._rows[0 if known is None else len(known):]  # rows appended since
        mask = np.fromiter(
            (flt.accepts_state(row.record.state) and (not needle or needle in row.haystack)
             for row in new), dtype=bool, count=len(new))
        if known is not None:
            self._mask = (flt, np.concatenate([known, mask]))
            return self._mask[1]
        if flt.top_k is not None:
            mask &= self.top_mask(flt.top_k)
        self._mask = (flt, mask)
        return mask

    def top_mask(self, k: int) -> npt.NDArray[np.bool_]:
        """Which trials are among the ``k`` best completed ones by KPI, for :attr:`goal`.

        Raises:
            ValueError: when ``k`` is below 1.
        """
        if self._top is not None and self._top[:2] == (k, self.goal):
            return self._top[2]
        competing = np.fromiter((competing_kpi(row.record) is not None for row in self._rows),
                                dtype=bool, count=len(self._rows))
        mask = top_k_mask(self.key_array(Column.KPI), competing, self.goal, k)
        self._top = (k, self.goal, mask)
        return mask

    def accepts(self, index: int, flt: TrialFilter) -> bool:
        """Whether the trial at ``index`` passes the filter."""
        row = self._rows[index]
        needle = flt.text.strip().lower()
        if flt.top_k is not None and not self.top_mask(flt.top_k)[index]:
            return False
        return flt.accepts_state(row.record.state) and (not needle or needle in row.haystack)

    def order(self, flt: TrialFilter, column: int | None, descending: bool,
              now: datetime | None = None) -> IndexArray:
        """Indices of the trials passing ``flt``, sorted by ``column`` with empty cells last.

        Ties keep arrival order; None for ``column`` keeps arrival order throughout.
        """
        indices = np.flatnonzero(self.mask(flt))
        if column is None or column < 0:
            return indices
        keys = self.key_array(column, now)[indices]
        if descending:
            keys = -keys
        return indices[np.argsort(keys, kind="stable")]


def _fixed_cells(record: TrialRecord) -> list[str]:
    return [
        str(record.number),
        state_label(record),
        format_value(record.kpi),
        format_duration(duration_seconds(record)) if record.state.is_finished() else "",
        record.host or MISSING,
        format_gpus(record.gpus),
        format_time(record.started_at),
        format_time(record.ended_at),
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _floats(values: Iterable[Any]) -> FloatArray:
    """Numbers as float64; None, booleans, text and non-finite values become NaN."""
    def number(value: Any) -> float:
        if _is_number(value) and math.isfinite(value):
            return float(value)
        return math.nan
    return np.fromiter((number(v) for v in values), dtype=np.float64)


def _text_ranks(values: list[str | None]) -> FloatArray:
    """Each text's rank among the distinct texts (case-insensitive); NaN for None."""
    keys = np.full(len(values), np.nan)
    present = [i for i, value in enumerate(values) if value is not None]
    if present:
        texts = np.array([str(values[i]).lower() for i in present])
        _, ranks = np.unique(texts, return_inverse=True)
        keys[present] = ranks
    return keys
