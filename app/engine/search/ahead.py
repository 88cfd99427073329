"""Suggest ahead: the next suggestion is ready before a slot frees.

With TPE at 1,000–2,000 finished trials a suggestion costs 90–170 ms. Asked for when a
slot frees, that is the time a slot stands empty. :class:`SuggestAhead` wraps a
searcher that can draw a point without recording it (:class:`Proposer`) and keeps one
point drawn, on a worker thread of its own, while the trials run; a free slot takes it
at once.

The rule, and what it costs the model:

- A point is drawn right after the previous suggestion is handed out, from the results
  told before that hand-out. Every suggestion handed out is recorded in the searcher
  (pending until its result is told) before the next point is drawn, so the next point
  is drawn knowing every trial that runs or waits; a point drawn is handed out once.
- A result told while a point is ready does not redraw it: the slot that frees with
  that result takes the point as it is, so TPE's model then lags by at most one result.
  A second result told before the point is taken (two trials ended at once, or a re-run
  took the slot) drops it, and the worker draws a new one from every result told.
- Results are queued and told to the searcher on the worker thread, in the order
  given, just before it draws; a suggestion asked for while none is ready waits for
  the point being drawn (what a synchronous suggestion costs anyway), or draws one.

With one trial at a time the run stays deterministic for its seed: trial n + 1 is
drawn from the results of trials 1 to n - 1, always.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from app.engine.search.base import Searcher
from app.engine.trial import TrialState


@runtime_checkable
class Proposer(Searcher, Protocol):
    """A searcher that can draw a point without recording it. It never runs out."""

    def propose(self, trial_id: int) -> dict[str, Any]:
        """A point (in the searcher's own form) drawn from the results told so far,
        recorded nowhere."""
        ...

    def accept(self, trial_id: int, point: dict[str, Any]) -> dict[str, Any]:
        """Record ``point`` as trial ``trial_id``'s suggestion; returns its params."""
        ...


@dataclass(frozen=True)
class _Ready:
    """A point drawn; ``told``: how many results had been told when it was drawn."""

    point: dict[str, Any]
    told: int


@dataclass(frozen=True)
class _Told:
    trial_id: int
    value: float | None
    state: TrialState


MAX_LAG = 1
"""Results a ready point may miss; one more and it is drawn again."""


class SuggestAhead:
    """A :class:`Searcher` that draws its next suggestion before it is asked for.

    The caller says which trial id comes next (:meth:`prepare`) once it wants one more
    suggestion, after handing out the last one (so that one is pending when the next
    is drawn); the worker started by :meth:`start` draws it, and :meth:`suggest` hands
    it out at once, under whatever id it is given.

    Args:
        inner: the searcher; from now on only this object calls it.

    Thread safety: every method but :attr:`ready` comes from one thread (the runner's);
    the worker is the only other thread that touches ``inner``. Until :meth:`start`,
    and after :meth:`close`, every call goes straight to ``inner``.

    An error of ``inner`` on the worker (a result it refuses, a failed draw) is raised
    by the next :meth:`suggest` or :meth:`restore`.
    """

    def __init__(self, inner: Proposer) -> None:
        self._inner = inner
        self._using = threading.Lock()  # held while inner is called
        self._changed = threading.Condition()  # guards everything below
        self._told: list[_Told] = []  # results not yet given to inner
        self._told_count = 0  # results given to this object so far
        self._base = 0  # the results the next point is drawn from (a count)
        self._want: int | None = None
        self._ready: _Ready | None = None
        self._drawing = False
        self._asking = False  # a suggestion waits for the point being drawn
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.handed_ready = 0
        """Suggestions handed out that were ready when asked for."""
        self.waited = 0
        """Suggestions that were not: drawn while the slot waited."""

    # -- lifetime ---------------------------------------------------------------

    def start(self, name: str = "suggest-ahead") -> None:
        """Start the worker that draws points."""
        if self._thread is not None:
            raise RuntimeError("suggest-ahead has already been started")
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the worker; waits for a point being drawn (at most one suggestion's
        time). Results not yet given to the searcher are given now."""
        with self._changed:
            self._closed = True
            self._want = None
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._using:
            self._tell_inner()

    @property
    def ready(self) -> bool:
        """A point is drawn and waits for the next suggestion (any thread)."""
        with self._changed:
            return self._ready is not None

    def prepare(self, trial_id: int) -> None:
        """Draw the point for the next suggestion, likely for ``trial_id``, from the
        results told so far; returns at once."""
        with self._changed:
            if self._thread is None or self._closed or self._ready is not None:
                return
            self._want = trial_id
            self._base = self._told_count
            self._changed.notify_all()

    # -- the Searcher interface: the runner's thread ------------------------------

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """The point drawn ahead, handed out as ``trial_id``; when none is ready, the
        one being drawn (waited for), else one drawn now."""
        with self._changed:
            self._raise_error()
            if self._ready is None and self._drawing:
                self._asking = True
                while self._drawing:
                    self._changed.wait()
                self._asking = False
                self._raise_error()
            ready, self._ready, self._want = self._ready, None, None
            if self._thread is not None and not self._closed:
                if ready is None:
                    self.waited += 1
                else:
                    self.handed_ready += 1
        with self._using:
            if ready is None:
                self._tell_inner()
                return self._inner.suggest(trial_id)
            # the results queued are told on the worker, before the next draw: off
            # the path from one trial to the next (hyperopt's refresh is O(trials))
            return self._inner.accept(trial_id, ready.point)

    def on_trial_complete(self, trial_id: int, value: float | None, state: TrialState) -> None:
        """Queue the result for the searcher; returns at once. The worker gives it, in
        order, before it draws the next point."""
        with self._changed:
            direct = self._thread is None or self._closed
            if not direct:
                self._told.append(_Told(trial_id, value, state))
                self._told_count += 1
                if self._ready is not None and self._told_count - self._ready.told > MAX_LAG:
                    self._ready = None  # too old: draw again from every result
                    self._base = self._told_count
                    self._changed.notify_all()
                # else the worker has nothing to do: waking it would only take the
                # GIL from this thread, on its way to start the next trial
        if direct:
            with self._using:
                self._tell_inner()
                self._inner.on_trial_complete(trial_id, value, state)

    def restore(self, trial_id: int, params: dict[str, Any], value: float | None,
                state: TrialState) -> None:
        """Tell the searcher a trial it did not suggest (a re-run), after the results
        queued before it; waits while a point is being drawn."""
        with self._changed:
            self._raise_error()
        with self._using:
            self._tell_inner()
            self._inner.restore(trial_id, params, value, state)

    # -- the worker ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._closed and not self._wants_point():
                    self._changed.wait()
                if self._closed or self._want is None:
                    return
                want, base = self._want, self._base
                self._drawing = True
            try:
                with self._using:
                    self._tell_inner(upto=base)
                    point = self._inner.propose(want)
            except Exception as exc:  # raised on the runner's thread
                with self._changed:
                    self._error = exc
                    self._drawing = False
                    self._changed.notify_all()
                return
            with self._changed:
                self._drawing = False
                if self._want == want and self._base == base:
                    if self._told_count - base <= MAX_LAG:
                        self._ready = _Ready(point, base)
                    elif self._asking:  # let the waiting suggestion draw from them all
                        self._want = None
                    else:  # results came while it was drawn: draw again from them
                        self._base = self._told_count
                self._changed.notify_all()

    def _wants_point(self) -> bool:
        return self._ready is None and self._want is not None and not self._drawing

    def _tell_inner(self, upto: int | None = None) -> None:
        """Give the searcher the results queued (those before result number ``upto``
        only, when given). Holds ``_using``."""
        with self._changed:
            given = self._told_count - len(self._told)
            count = len(self._told) if upto is None else max(0, min(len(self._told),
                                                                     upto - given))
            batch, self._told = self._told[:count], self._told[count:]
        for told in batch:
            self._inner.on_trial_complete(told.trial_id, told.value, told.state)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def suggest_ahead(searcher: Searcher) -> SuggestAhead | None:
    """``searcher`` wrapped to suggest ahead, or None when it cannot draw a point
    without recording it."""
    if isinstance(searcher, Proposer):
        return SuggestAhead(searcher)
    return None
