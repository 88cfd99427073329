"""A monkey for the window: random clicks, keys, tab and experiment switches, dialogs
opened and left, for a while, watching for what a user must never meet.

It drives any top-level Qt window it is given from a GUI-thread timer (so it keeps
acting inside modal dialogs, whose own event loops run the timer too) and records:

- every Python exception that reaches Qt's event loop (a hook on ``sys.excepthook``,
  which PySide6 calls for an exception raised in a slot or a virtual override);
- every GUI stall: a heartbeat timer on the GUI thread, watched from another thread.
  A heartbeat late by more than the limit counts as a stall when, during it, the GUI
  thread either used as much CPU as the limit (it was busy) or slept at the same lines
  twice, 100 ms apart, with Sweeplab's code on its stack (blocked on a lock, the store,
  a process). A GUI thread that was runnable but not scheduled, or waited its turn for
  the GIL, as happens on a loaded machine, is reported but not counted. The
  stack the GUI thread had when the stall passed the limit is kept, so a failure names
  the function that blocked.

A crash kills the process that runs it, which its runner reports. Used by
``tests/views/test_monkey.py`` (short, in ``make test``) and ``bench/monkey.py`` (long).
Development only: ``app/`` never imports it.
"""

from __future__ import annotations

import faulthandler
import linecache
import os
import random
import re
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import shiboken6
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QDialog,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabBar,
    QToolBar,
    QWidget,
)

from app.application.workspace import Workspace
from app.engine.experiment import experiment_from_dict
from app.engine.trial import TrialState
from app.store.store import Store
from app.views.main_window import MainWindow

# Actions the monkey never takes: they end the program it is testing.
_FORBIDDEN_TEXT = ("quit", "exit")
_KEYS = [Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Return, Qt.Key.Key_Escape,
         Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right,
         Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Space, Qt.Key.Key_Home,
         Qt.Key.Key_End, Qt.Key.Key_PageDown, Qt.Key.Key_F2]
_CHORDS = [(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.ShiftModifier),
           (Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier),
           (Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)]
_TEXTS = ["0", "-1", "1e-4", "lr", "abc", "", "  ", "3.5", "1e308", "nan", "ünï", "a" * 300,
          "x.y", "[1, 2]", "{", "#sweeplab"]


@dataclass
class Stall:
    """A late GUI heartbeat: how long, the GUI thread's CPU in it, and where it was."""

    seconds: float
    cpu_seconds: float
    stack: list[str]
    blocked_in_app: bool
    """The GUI thread slept at the same lines from the limit on, Sweeplab's code on its
    stack."""

    @property
    def counts(self) -> bool:
        """The GUI thread was busy or blocked in our code, not merely unscheduled."""
        return self.blocked_in_app or self.cpu_seconds >= STALL_LIMIT


STALL_LIMIT = 0.2
TRACE = bool(os.environ.get("SWEEPLAB_MONKEY_TRACE"))
"""Print every action on stderr as it is taken (set ``SWEEPLAB_MONKEY_TRACE=1``)."""


@dataclass
class Report:
    """What a monkey run met."""

    seed: int
    actions: int = 0
    exceptions: list[str] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def counted_stalls(self) -> list[Stall]:
        return [stall for stall in self.stalls if stall.counts]

    def problems(self) -> str:
        """Empty when the run met nothing; else what it met, for a failure message."""
        lines = [f"exception reaching the event loop:\n{text}" for text in self.exceptions]
        for stall in self.counted_stalls:
            lines.append(f"GUI stall of {stall.seconds * 1000:.0f} ms "
                         f"({stall.cpu_seconds * 1000:.0f} ms CPU), the GUI thread at:\n"
                         + "".join(stall.stack[-12:]))
        if lines:
            lines.append(f"seed {self.seed}; last actions: " + "; ".join(self.log[-15:]))
        return "\n\n".join(lines)


class StallWatch:
    """A GUI-thread heartbeat and a watching thread that records late ones."""

    def __init__(self, report: Report, interval_ms: int = 10,
                 own_code: tuple[str, ...] = ("/app/",)) -> None:
        self._report = report
        self._own_code = own_code
        self._gui = threading.get_ident()
        self._task = f"/proc/self/task/{threading.get_native_id()}/stat"
        self._clock = time.pthread_getcpuclockid(self._gui) \
            if hasattr(time, "pthread_getcpuclockid") else None
        self._beat = time.monotonic()
        self._cpu_at_beat = self._cpu()
        self._open: Stall | None = None
        self._lock = threading.Lock()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_beat)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)

    def _cpu(self) -> float:
        return time.clock_gettime(self._clock) if self._clock is not None else 0.0

    def start(self) -> None:
        self._beat = time.monotonic()
        self._timer.start()
        self._thread.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stop.set()
        self._thread.join(timeout=5)

    def _on_beat(self) -> None:
        now, cpu = time.monotonic(), self._cpu()
        with self._lock:
            if self._open is not None:
                self._open.seconds = now - self._beat
                self._open.cpu_seconds = cpu - self._cpu_at_beat
                self._report.stalls.append(self._open)
                self._open = None
            self._beat, self._cpu_at_beat = now, cpu

    def _watch(self) -> None:
        first: tuple[object, ...] | None = None  # where the GUI thread slept at the limit
        with tempfile.TemporaryFile("w+") as scratch:
            while not self._stop.wait(0.02):
                with self._lock:
                    late = time.monotonic() - self._beat
                    if late < STALL_LIMIT:
                        first = None
                        continue
                    where = stack_of(self._gui, scratch)
                    if self._open is None:
                        stack = [f'  File "{file}", line {line}, in {name}\n'
                                 for file, line, name in reversed(where)]
                        self._open = Stall(late, self._cpu() - self._cpu_at_beat, stack, False)
                        first = where if self._sleeping() else None
                    elif first is not None and late >= STALL_LIMIT + BLOCK_CHECK:
                        # Asleep at the very same lines twice, 100 ms apart, with our
                        # code on the stack: blocked there (a lock, the store, a process),
                        # not merely waiting its turn for the GIL or the CPU, which moves
                        # on in between.
                        self._open.blocked_in_app = (
                            self._sleeping() and where == first and not in_event_loop(where)
                            and any(part in file for file, _line, _name in where
                                    for part in self._own_code))
                        first = None

    def _sleeping(self) -> bool:
        """The GUI thread waits (on a lock, a file, a socket) rather than runs or queues."""
        try:
            with open(self._task) as stat:
                text = stat.read()
        except OSError:
            return False
        return text[text.rfind(")") + 2] in "SD"


BLOCK_CHECK = 0.1


def stack_of(thread_id: int, scratch: IO[str]) -> tuple[tuple[str, int, str], ...]:
    """A thread's stack as (file, line, function), innermost first, read through
    :func:`faulthandler.dump_traceback` into ``scratch``.

    Not through ``sys._current_frames()``: a frame object taken from the GUI thread
    keeps its locals alive after the function returned, so the watching thread became
    the last holder of Qt wrappers (a painter, an item) and released them there, which
    makes PySide6 delete their C++ objects from a pending call at a random point of the
    GUI thread: the native crashes (SIGSEGV) the monkey once met in 1 run of 10.
    """
    scratch.seek(0)
    scratch.truncate()
    faulthandler.dump_traceback(scratch, all_threads=True)
    scratch.seek(0)
    wanted = f"0x{thread_id:016x}"
    where: list[tuple[str, int, str]] = []
    inside = False
    for line in scratch.read().splitlines():
        if line.startswith(("Thread ", "Current thread ")):
            inside = wanted in line
        elif inside and (found := _FRAME_LINE.match(line)):
            where.append((found["file"], int(found["line"]), found["name"]))
    return tuple(where)


def in_event_loop(where: tuple[tuple[str, int, str], ...]) -> bool:
    """The innermost Python frame is a call into a Qt event loop (a modal dialog's
    ``exec``, ``QMessageBox.question``, a file dialog): asleep there, the GUI thread
    waits for events or for its turn at the GIL, it is not blocked in Sweeplab's code."""
    if not where:
        return False
    file, line, _name = where[0]
    return bool(_EVENT_LOOP_CALL.search(linecache.getline(file, line)))


_EVENT_LOOP_CALL = re.compile(
    r"\.(exec_?|question|warning|information|critical|about|getSaveFileName|"
    r"getOpenFileName|getExistingDirectory|getText|getItem|getInt|getDouble)\(")
_FRAME_LINE = re.compile(r'\s+File "(?P<file>.*)", line (?P<line>\d+) in (?P<name>.*)$')


def _type_text(widget: QWidget, text: str) -> None:
    """Types ``text`` into ``widget`` key by key; QTest's own typing takes ASCII only."""
    for char in text:
        if char.isascii():
            QTest.keyClick(widget, char)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier,
                                                         char))


class Monkey:
    """Random input into ``window`` and whatever it opens, one action per tick.

    Args:
        window: the main window; the monkey also acts in dialogs it opens.
        seed: the random seed; a run is repeatable from it as far as timing allows.
        on_tick: called after each action (e.g. to stop after a number of them).
        own_code: path parts naming the code whose blocking counts (Sweeplab's).
    """

    def __init__(self, window: QWidget, seed: int, *, interval_ms: int = 25,
                 on_tick: Callable[[Monkey], None] | None = None,
                 own_code: tuple[str, ...] = ("/app/",)) -> None:
        self.window = window
        self.report = Report(seed)
        self._rng = random.Random(seed)
        self._on_tick = on_tick
        self._stopped = False
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._watch = StallWatch(self.report, own_code=own_code)
        self._previous_hook = sys.excepthook
        self._modal_steps = 0
        self._typing: tuple[QLineEdit, list[str | Qt.Key]] | None = None

    # --- running ---------------------------------------------------------------------

    def start(self) -> None:
        sys.excepthook = self._hook
        self._stopped = False
        self._watch.start()
        self._timer.start()

    def stop(self) -> Report:
        """Stops acting, closes what it opened, and returns the report."""
        self._stopped = True  # an action already scheduled (_tick) is not taken
        self._timer.stop()
        self._watch.stop()
        self._close_dialogs()
        sys.excepthook = self._previous_hook
        return self.report

    def _hook(self, kind: type[BaseException], value: BaseException,
              tb: TracebackType | None) -> None:
        self.report.exceptions.append("".join(traceback.format_exception(kind, value, tb)))

    def _tick(self) -> None:
        # The action runs from a timer of its own: an action that opens a modal dialog
        # blocks in its event loop, and Qt never fires a timer whose slot is still
        # running, so acting here directly would stop the monkey at the first dialog.
        QTimer.singleShot(0, self._act_once)

    def _act_once(self) -> None:
        if self._stopped:  # stopped meanwhile: a modal opened now would wait forever
            return
        try:
            self._act()
        except Exception:  # the monkey's own trouble (a widget gone mid-action) is not the app's
            self.report.log.append("(monkey: " + traceback.format_exc(limit=1).strip()[-120:]
                                   + ")")
        self.report.actions += 1
        if self._on_tick is not None:
            self._on_tick(self)

    # --- choosing ----------------------------------------------------------------------

    def _root(self) -> QWidget:
        popup = QApplication.activePopupWidget()
        if popup is not None:
            return popup
        modal = QApplication.activeModalWidget()
        if modal is not None:
            self._modal_steps += 1
            return modal
        self._modal_steps = 0
        others = [w for w in QApplication.topLevelWidgets()
                  if w.isVisible() and w is not self.window and not isinstance(w, QMenu)]
        if others and self._rng.random() < 0.3:
            return self._rng.choice(others)
        return self.window

    def _act(self) -> None:
        if self._type_next():
            return
        root = self._root()
        if isinstance(root, QMenu):
            self._menu(root)
            return
        if root is not self.window and (self._modal_steps > self._rng.randint(3, 12)
                                        or self._rng.random() < 0.08):
            self._leave(root)
            return
        choice = self._rng.random()
        if choice < 0.30:
            self._click_button(root)
        elif choice < 0.45:
            self._key(root)
        elif choice < 0.55:
            self._type(root)
        elif choice < 0.65:
            self._switch_tab(root)
        elif choice < 0.75:
            self._click_item(root)
        elif choice < 0.85:
            self._click_anywhere(root)
        elif choice < 0.93:
            self._hover(root)
        else:
            self._trigger_action(root)

    def _visible(self, root: QWidget, kind: type[QWidget]) -> list[QWidget]:
        return [w for w in root.findChildren(kind)
                if w.isVisible() and w.isEnabled() and w.window() is root.window()]

    def _note(self, text: str) -> None:
        self.report.log.append(text)
        if TRACE:  # a crash leaves no report: the trace on stderr shows the last actions
            print(f"monkey: {text}", file=sys.stderr, flush=True)

    # --- actions -----------------------------------------------------------------------

    def _click_button(self, root: QWidget) -> None:
        buttons = [b for b in self._visible(root, QAbstractButton)
                   if isinstance(b, QAbstractButton)
                   and not any(word in b.text().lower() for word in _FORBIDDEN_TEXT)]
        if buttons:
            button = self._rng.choice(buttons)
            self._note(f"click {type(button).__name__} {button.text()!r}")
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)

    def _key(self, root: QWidget) -> None:
        target = QApplication.focusWidget() or root
        if self._rng.random() < 0.3:
            key, modifiers = self._rng.choice(_CHORDS)
        else:
            key, modifiers = self._rng.choice(_KEYS), Qt.KeyboardModifier.NoModifier
        self._note(f"key {key.name}{'+mod' if modifiers else ''} on {type(target).__name__}")
        QTest.keyClick(target, key, modifiers)

    def _type(self, root: QWidget) -> None:
        """Starts typing into a line edit; the keys go one per tick, as a person types
        (a whole string in one go would starve the event loop, which no user does)."""
        fields = self._visible(root, QLineEdit)
        if not fields:
            return
        line = self._rng.choice(fields)
        text = self._rng.choice(_TEXTS)
        self._note(f"type {text[:20]!r} into {line.objectName() or type(line).__name__}")
        line.setFocus()
        keys: list[str | Qt.Key] = list(text)
        if self._rng.random() < 0.5:
            keys.append(Qt.Key.Key_Return)
        self._typing = (line, keys)

    def _type_next(self) -> bool:
        """Sends the next key of what is being typed; False when nothing is."""
        if self._typing is None:
            return False
        line, keys = self._typing
        # The field may be gone (its dialog closed, e.g. by a key typed into it): a person
        # then stops typing too; without this check the monkey failed on it every tick and
        # never acted again, leaving the run stuck in whatever modal dialog was open.
        if (not keys or not shiboken6.isValid(line) or not line.isVisible()
                or not line.isEnabled()):
            self._typing = None
            return False
        key = keys.pop(0)
        if isinstance(key, Qt.Key):
            QTest.keyClick(line, key)
        else:
            _type_text(line, key)
        return True

    def _switch_tab(self, root: QWidget) -> None:
        bars = [b for b in self._visible(root, QTabBar) if isinstance(b, QTabBar)]
        if not bars:
            return
        bar = self._rng.choice(bars)
        if bar.count() == 0:
            return
        index = self._rng.randrange(bar.count())
        self._note(f"tab {bar.tabText(index)!r}")
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())

    def _click_item(self, root: QWidget) -> None:
        views = [v for v in self._visible(root, QAbstractItemView)
                 if isinstance(v, QAbstractItemView) and v.model() is not None
                 and v.model().rowCount() > 0]
        if not views:
            return
        view = self._rng.choice(views)
        model = view.model()
        index = model.index(self._rng.randrange(model.rowCount()), 0)
        rect = view.visualRect(index)
        if not rect.isValid():
            return
        self._note(f"item {index.row()} of {type(view).__name__}")
        double = self._rng.random() < 0.15
        click = QTest.mouseDClick if double else QTest.mouseClick
        click(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    def _click_anywhere(self, root: QWidget) -> None:
        widgets = self._visible(root, QWidget)
        if not widgets:
            return
        widget = self._rng.choice(widgets)
        point = QPoint(self._rng.randrange(max(1, widget.width())),
                       self._rng.randrange(max(1, widget.height())))
        button = Qt.MouseButton.RightButton if self._rng.random() < 0.15 else \
            Qt.MouseButton.LeftButton
        self._note(f"click {button.name} in {type(widget).__name__} at {point.toTuple()}")
        QTest.mouseClick(widget, button, pos=point)

    def _hover(self, root: QWidget) -> None:
        widgets = self._visible(root, QWidget)
        if not widgets:
            return
        widget = self._rng.choice(widgets)
        for _ in range(3):
            point = QPoint(self._rng.randrange(max(1, widget.width())),
                           self._rng.randrange(max(1, widget.height())))
            QTest.mouseMove(widget, point)
        self._note(f"hover {type(widget).__name__}")

    def _trigger_action(self, root: QWidget) -> None:
        """Triggers an action a person can reach: in the menu bar or on a shown tool bar
        (not, say, a chart's context-menu entry, which expects the right-click first)."""
        reachable: list[QAction] = []
        if isinstance(root, QMainWindow):
            menus = [a.menu() for a in root.menuBar().actions() if a.menu()]
            while menus:
                menu = menus.pop()
                for action in menu.actions():
                    if action.menu():
                        menus.append(action.menu())
                    else:
                        reachable.append(action)
            for bar in self._visible(root, QToolBar):
                reachable.extend(bar.actions())
        actions = [a for a in reachable
                   if a.isEnabled() and a.isVisible() and a.text() and not a.isSeparator()
                   and not any(word in a.text().lower() for word in _FORBIDDEN_TEXT)]
        if actions:
            action = self._rng.choice(actions)
            self._note(f"action {action.text()!r}")
            action.trigger()

    def _menu(self, menu: QMenu) -> None:
        actions = [a for a in menu.actions() if a.isEnabled() and not a.isSeparator()
                   and not any(word in a.text().lower() for word in _FORBIDDEN_TEXT)]
        if actions and self._rng.random() < 0.5:
            action = self._rng.choice(actions)
            self._note(f"menu {action.text()!r}")
            menu.hide()
            action.trigger()
        else:
            self._note("menu closed")
            menu.close()

    def _leave(self, root: QWidget) -> None:
        """Closes a dialog as a person would: Cancel, Escape, or the window's close."""
        self._modal_steps = 0
        self._note(f"leave {type(root).__name__} {root.windowTitle()!r}")
        if isinstance(root, QMessageBox):
            button = root.escapeButton() or root.defaultButton()
            if button is not None and self._rng.random() < 0.8:
                button.click()
                return
        if isinstance(root, QDialog):
            root.reject()
        else:
            root.close()

    def _close_dialogs(self) -> None:
        for _ in range(20):
            popup = QApplication.activePopupWidget() or QApplication.activeModalWidget()
            if popup is None:
                break
            if isinstance(popup, QDialog):
                popup.reject()
            else:
                popup.close()
        for widget in QApplication.topLevelWidgets():
            if widget is not self.window and widget.isVisible() and isinstance(widget, QDialog):
                widget.reject()


TRAIN = """\
import time
import sweeplab
x = sweeplab.param("x", 0.5)
for epoch in range(1, 41):
    time.sleep(0.05)
    print("plain output line", epoch, flush=True)
    sweeplab.report("loss", (x - 0.3) ** 2 / epoch, step=epoch)
    sweeplab.report("val_acc", 1 - abs(x - 0.3) - 1 / epoch, step=epoch)
    sweeplab.progress(epoch, 40)
"""


def _document(folder: Path, name: str, max_trials: int) -> dict[str, object]:
    return {"version": 1, "name": name, "code_dir": str(folder / "code"),
            "command": "{python} train.py", "kpi": {"name": "val_acc", "goal": "max"},
            "space": {"version": 1, "space": [
                {"name": "x", "type": "number", "auto": True, "distribution": "uniform",
                 "min": 0.0, "max": 1.0, "default": 0.5}]},
            "algorithm": {"name": "random", "seed": 1},
            "limits": {"max_trials": max_trials, "max_parallel": 2}}


@contextmanager
def busy_window(folder: Path) -> Iterator[MainWindow]:
    """A shown window over ``folder/gui.db`` with three experiments: "running" runs real
    trials two at a time (40 steps of 50 ms each), "finished" holds 12 ended trials and
    "empty" none. At the end every run stops, then the window and the store close.
    Set ``SWEEPLAB_HOME`` (and a keyring backend) before, as the caller sees fit."""
    (folder / "code").mkdir(parents=True, exist_ok=True)
    (folder / "code" / "train.py").write_text(TRAIN)
    store = Store(f"sqlite:///{folder / 'gui.db'}")
    workspace = Workspace(store, grace=0.5)
    running = workspace.create(experiment_from_dict(_document(folder, "running", 200), folder))
    done = workspace.create(experiment_from_dict(_document(folder, "finished", 12), folder))
    for number in range(12):
        trial = store.create_trial(done.id, {"x": number / 12})
        store.update_trial(trial.id, state=TrialState.RUNNING, host="local")
        ok = number % 4 != 0
        store.update_trial(trial.id, state=TrialState.COMPLETED if ok else TrialState.FAILED,
                           kpi=1 - abs(number / 12 - 0.3) if ok else None)
    workspace.create(experiment_from_dict(_document(folder, "empty", 10), folder))
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(workspace, "monkey", settings)
    window.resize(1200, 800)
    window.show()
    workspace.start(running.id)
    try:
        yield window
    finally:
        workspace.close()  # every run ends first (the monkey may have started more), and
        window.panels.space.undo_stack.setClean()  # space edits are dropped, so closing
        window.close()                             # asks nothing (no one would answer)
        QApplication.processEvents()  # what the runs said as they ended, before the store
        window.deleteLater()          # closes
        store.close()


def keep_out_of_the_users_things(home: Path) -> None:
    """Points Sweeplab's home at ``home`` and the keyring at one that refuses, so a
    monkey saving a server or settings by accident touches nothing of the user's."""
    os.environ["SWEEPLAB_HOME"] = str(home)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
