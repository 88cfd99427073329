"""The window's side of opening an experiment: the application layer's loader
(:mod:`app.application.loading`) reads on its worker thread; its parts reach the GUI
thread through a :class:`~app.views.bridge.GuiInbox`, and only those of the latest
load get through.

What a part holds is handed to the window in steps of bounded cost, one step per
turn of the GUI thread's event loop (a zero-time timer), so the window paints and
answers between them: every trial record at once (cheap for the charts; the grid and
the table take the first chunk), then the rest of the trials for the grid and table
in chunks taking turns with the points, batch by batch (the curves fill in), from
the first batch of points on.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QAbstractEventDispatcher, QObject, QTimer, Signal, Slot

from app.application.loading import BoundsRead, LoadEnded, LoadPart, PointsRead, TrialsRead
from app.application.workspace import Workspace
from app.engine.experiment import Kpi
from app.engine.ports import StoreError
from app.views.bridge import GuiInbox, Mailbox, start_worker

log = logging.getLogger(__name__)
TRIALS_PER_STEP = 50
"""Trials added to the grid and the table per step (a few ms a step: the table formats
a row's cells only when it is shown)."""
ARRIVED_MS = 20
"""How often the parts a worker read are taken in (GUI thread). Each look wakes the
GUI thread, which then wants the interpreter the loader is using: every 5 ms made an
opening of 10,000 trials ~10 % slower (``bench/gui_load_store.py``)."""
POINTS_PER_STEP = 5_000
"""About how many points one step hands to the charts (whole trials)."""
LOADING_GC_THRESHOLD = 50_000
"""While a load runs, the garbage collector's first threshold (Python's default: 700).
The worker makes a tuple per stored point: at the default, collections ran thousands
of times a load, and each older-generation one, holding the GIL, stalled the GUI
thread for up to ~100 ms. Restored when the load ends."""
LOADING_SWITCH_S = 0.001
"""While a load runs, the interpreter's switch interval (Python's default: 5 ms). The
GUI thread lets go of the GIL in every Qt call; while the worker turns rows into
objects it got it back only when the worker's interval ran out, so a paint of a few
hundred Qt calls waited up to 5 ms per call. Restored when the load ends."""
PACE_WAIT_S = 0.02
"""The longest the loader waits, between two reads, for the GUI thread to wait for
events (see :class:`GuiTurns`): a turn of the window's (a paint, a batch of curves)
is rarely longer; then it reads on, the window busy or not."""
NEVER_RESTS_S = 0.1
"""A GUI thread at work this long without waiting for events is taken for one that
polls instead (``QTest.qWait``, a busy loop): the loader reads on without waiting."""
REST_SLACK_S = 0.0005
"""The GUI thread's CPU time, since its loop was about to wait, that still counts as
resting: what it takes to get from ``aboutToBlock`` into the wait, and a wake-up that
finds nothing to do."""


class LoadingTuning:
    """The interpreter's settings while any experiment loads: the collector's first
    threshold raised (:data:`LOADING_GC_THRESHOLD`), the switch interval shortened
    (:data:`LOADING_SWITCH_S`); as they were before the first load once the last one
    has ended. One for the process (:data:`LOADING_TUNING`), since the settings are
    the interpreter's: each window's loader saving and restoring what it found, two
    overlapping loads left the raised threshold for good. GUI thread only."""

    def __init__(self) -> None:
        self._loads = 0
        self._saved: tuple[tuple[int, int, int], float] | None = None

    @property
    def loads(self) -> int:
        """How many loads run now."""
        return self._loads

    def begin(self) -> None:
        """A load starts."""
        if self._loads == 0:
            thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
            self._saved = thresholds, switch
            gc.set_threshold(max(thresholds[0], LOADING_GC_THRESHOLD), *thresholds[1:])
            sys.setswitchinterval(min(switch, LOADING_SWITCH_S))
        self._loads += 1

    def end(self) -> None:
        """A load has ended (or was cancelled)."""
        self._loads -= 1
        if self._loads == 0 and self._saved is not None:
            thresholds, switch = self._saved
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(switch)
            self._saved = None


LOADING_TUNING = LoadingTuning()


class GuiTurns:
    """Whether the GUI thread is at work now: the loader reads only while it is not.

    Python runs one thread at a time. A loader reading beside a busy window made each
    of the window's Qt calls that lets go of the interpreter wait its turn: opening
    10,000 trials, a paint took three times its CPU and the window froze for 300–400
    ms. So the loader's :meth:`pace` holds it between two reads once the GUI thread
    was seen at work (a paint, a step of the load, any slot) until its event loop is
    about to wait again (at most :data:`PACE_WAIT_S` at a time, and not at all once the
    window has been at work for :data:`NEVER_RESTS_S` without a rest, so a window that
    never rests still gets its data). Qt-free: the loader's thread is given
    :meth:`pace` only.

    How it knows: the event loop says when it is about to wait (:meth:`rests`, from
    the dispatcher's ``aboutToBlock``), and notes the GUI thread's CPU time then; a
    thread that waits for events uses none, so more than :data:`REST_SLACK_S` of it
    since is work. Neither the dispatcher's ``awake`` (with glib it comes only for
    loops that do not wait; the timers of a pass, a paint's among them, run after
    ``aboutToBlock``) nor an event filter of the application (PySide crashed in it:
    the parent of a widget being destroyed is handed to the filter half-destroyed)
    could tell. Nor may the loader look at the GUI thread's Python frames
    (``sys._current_frames``): a frame it holds while its function returns keeps that
    function's locals, Qt objects among them, until the loader lets go, and a Qt
    object freed on another thread than its own can crash the process. Where a thread's
    CPU time cannot be read from another (macOS, Windows), the loader does not wait.
    """

    def __init__(self) -> None:
        self._clock = _cpu_clock_of(threading.get_ident())  # made on the GUI thread
        self._resting = threading.Event()
        self._resting.set()
        self._rested_at: float | None = None
        """The GUI thread's CPU time when its loop last began to wait; None: at work."""
        self._busy_since = time.monotonic()  # when it was first seen at work since

    def pace(self) -> None:
        """Wait until the GUI thread rests (see the class). Worker thread."""
        if self._resting.is_set():
            if self._idles():
                return
            self._busy_since = time.monotonic()
            self._resting.clear()  # seen at work: busy until the loop waits again
            if self._idles():  # it began to wait meanwhile
                self._resting.set()
                return
        if time.monotonic() - self._busy_since < NEVER_RESTS_S:
            self._resting.wait(PACE_WAIT_S)

    def _idles(self) -> bool:
        if self._clock is None:
            return True
        rested = self._rested_at
        try:
            used = time.clock_gettime(self._clock)
        except OSError:  # that thread has ended: nothing to wait for
            return True
        return rested is not None and used - rested < REST_SLACK_S

    def rests(self) -> None:
        """The GUI thread is about to wait for events (or is not watched). GUI thread,
        called from the event loop (a slot of ``aboutToBlock``) or from Python."""
        self._rested_at = time.thread_time()
        self._resting.set()

    def works(self) -> None:
        """The GUI thread starts a load in this turn: the loader's first read waits for
        the turn to end."""
        self._rested_at = None
        self._busy_since = time.monotonic()
        self._resting.clear()


def _cpu_clock_of(thread_id: int) -> int | None:
    """The clock of the CPU time thread ``thread_id`` (a :func:`threading.get_ident`)
    uses, readable from any thread; None where there is none (macOS, Windows)."""
    clock_of = getattr(time, "pthread_getcpuclockid", None)
    if clock_of is None:
        return None
    try:
        clock = clock_of(thread_id)
        time.clock_gettime(clock)
    except OSError:
        return None
    return int(clock)


class ExperimentLoading(QObject):
    """Loads one experiment at a time for the window; a new load cancels the last.

    Signals:
        trialsRead(object TrialsRead): the log and every trial; the grid and the table
            show the first :attr:`trials_per_step` of them, the rest follow through
            ``trialsAdded``.
        trialsAdded(object tuple[TrialRecord, ...]): more trials for the grid and table.
        boundsRead(object BoundsRead): the bounds of the KPI's points, as soon as read
            (before or between the other parts).
        pointsRead(object PointsRead): a batch of points of whole trials.
        loadEnded(object LoadEnded): the load is over (``failure`` says if it failed).
    """

    trialsRead = Signal(object)
    trialsAdded = Signal(object)
    boundsRead = Signal(object)
    pointsRead = Signal(object)
    loadEnded = Signal(object)
    def __init__(self, workspace: Workspace, parent: QObject | None = None, *,
                 batch_points: int = POINTS_PER_STEP,
                 trials_per_step: int = TRIALS_PER_STEP) -> None:
        super().__init__(parent)
        self._inbox: GuiInbox[LoadPart] = GuiInbox(self._hand_over_all, ARRIVED_MS, self)
        self._turns = GuiTurns()
        self._loader = workspace.loader(self._inbox.mailbox.post, batch_points=batch_points,
                                        pace=self._turns.pace)
        self._dispatcher = QAbstractEventDispatcher.instance(self.thread())
        self._watching = False
        self.trials_per_step = trials_per_step
        self._loading: int | None = None
        self._steps: deque[Callable[[], None]] = deque()
        self._table_steps: deque[Callable[[], None]] = deque()
        """Trials for the grid and the table, taking turns with the points once the
        first points (or the end) have come: until then the loader, reading them, has
        the interpreter to itself (the chunks delayed the first curves by ~0.2 s)."""
        self._table_go = False
        self._turn = False
        self._ended: LoadEnded | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)
        self._tuned = False

    def _loading_mode(self, loading: bool) -> None:
        """Tune the interpreter for loading (:data:`LOADING_TUNING`) and let the loader
        read while the event loop rests (:class:`GuiTurns`); undo both after."""
        self._watch_turns(loading)
        if loading and not self._tuned:
            LOADING_TUNING.begin()
        elif not loading and self._tuned:
            LOADING_TUNING.end()
        self._tuned = loading

    def _watch_turns(self, loading: bool) -> None:
        if self._dispatcher is None or loading == self._watching:
            return
        self._watching = loading
        if loading:
            self._dispatcher.aboutToBlock.connect(self._turns.rests)
        else:
            self._dispatcher.aboutToBlock.disconnect(self._turns.rests)
            self._turns.rests()

    @property
    def loading(self) -> int | None:
        """The experiment being loaded now, or None."""
        return self._loading

    def load(self, experiment_id: int, kpi: Kpi | None = None) -> None:
        """Read ``experiment_id`` (cancelling the load in progress); ``kpi``: its KPI,
        for the best trial of the summary read with the trials and the bounds of its
        points."""
        self._steps.clear()
        self._table_steps.clear()
        self._table_go = False
        self._ended = None
        self._loading = experiment_id
        self._inbox.start()  # until the load has ended
        self._loading_mode(True)
        if self._watching:
            self._turns.works()
        self._loader.load(experiment_id, kpi)

    def cancel(self) -> None:
        """Read no further; nothing more of the load in progress is handed over."""
        self._steps.clear()
        self._table_steps.clear()
        self._ended = None
        self._loading = None
        self._inbox.stop()
        self._loading_mode(False)
        self._loader.cancel()

    def close(self) -> None:
        """Cancel, and let the worker release the store (the window closes)."""
        self.cancel()
        self._loader.close()

    def _hand_over_all(self, parts: list[LoadPart]) -> None:
        for part in parts:
            self._hand_over(part)

    def _hand_over(self, part: LoadPart) -> None:
        if part.ticket != self._loader.ticket or self._loading is None:
            return  # a cancelled load's last part, already on its way
        if isinstance(part, BoundsRead):
            self.boundsRead.emit(part)  # cheap, and the sooner the better
            return
        if isinstance(part, TrialsRead):
            self._steps.append(lambda: self._trials_read(part))
        elif isinstance(part, PointsRead):
            self._steps.append(lambda: self.pointsRead.emit(part))
            self._table_go = True
        elif isinstance(part, LoadEnded):
            self._ended = part
            self._table_go = True
        if not self._timer.isActive():
            self._timer.start()

    def _trials_read(self, part: TrialsRead) -> None:
        self.trialsRead.emit(part)
        size = self.trials_per_step
        for start in range(size, len(part.trials), size):
            chunk = part.trials[start:start + size]
            self._table_steps.append(lambda chunk=chunk: self.trialsAdded.emit(chunk))  # type: ignore[misc]

    @Slot()
    def _step(self) -> None:
        table: deque[Callable[[], None]] = self._table_steps if self._table_go else deque()
        self._turn = not self._turn
        first, second = (table, self._steps) if self._turn else (self._steps, table)
        if first:
            first.popleft()()
        elif second:
            second.popleft()()
        elif self._ended is not None and self._loading is not None:
            ended, self._ended = self._ended, None
            self._loading = None
            self._inbox.stop()
            self._loading_mode(False)
            self.loadEnded.emit(ended)
        if self._steps or table or self._ended is not None:
            self._timer.start()


class SummaryReading(QObject):
    """Reads every experiment and its trial counts (one aggregate) on a worker thread,
    for the list on the left when another program adds or removes experiments.

    Signals:
        summariesRead(object list[ExperimentRecord], object dict[int, TrialTally]).
    """

    summariesRead = Signal(object, object)

    def __init__(self, workspace: Workspace, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workspace = workspace
        self._inbox: GuiInbox[tuple[object, object]] = GuiInbox(self._hand_over_all,
                                                                ARRIVED_MS, self)
        self._busy = False
        self._again = False
        self._closed = False

    def close(self) -> None:
        """Read no more and hand nothing more over (the window closes)."""
        self._closed = True

    def read(self) -> None:
        """Read now, or once more after the read in progress (requests coalesce)."""
        if self._closed:
            return
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._inbox.start()
        start_worker(_read_summaries, self._workspace, self._inbox.mailbox,
                     name="read experiment summaries")

    def _hand_over_all(self, reads: list[tuple[object, object]]) -> None:
        self._inbox.stop()
        records, tallies = reads[-1]  # one read at a time
        self._busy = False
        if self._closed:
            return
        if self._again:
            self._again = False
            self.read()
            return
        if records is not None:
            self.summariesRead.emit(records, tallies)


def _read_summaries(workspace: Workspace, mailbox: Mailbox[tuple[object, object]]) -> None:
    """The worker thread: every experiment and the counts of its trials."""
    try:
        records: object = workspace.experiments()
        tallies: object = workspace.tallies()
    except StoreError:  # busy or gone for a moment: the next change reads again
        log.debug("reading the experiments failed", exc_info=True)
        records, tallies = None, None
    mailbox.post((records, tallies))
