"""GuiTurns, the loader's gate, with plain threads: the loader waits only while the GUI
thread is at work (uses CPU), from when it is seen at work until its loop waits again."""

from __future__ import annotations

import threading
import time

import pytest

from app.views.loading import GuiTurns


def test_the_loader_waits_while_the_gui_thread_works_even_after_a_long_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A "GUI thread" rests (blocked: no CPU used), works (a busy loop), and rests
    again. A long rest before the work (an idle window, then a click) must not pass for
    a window that never rests."""
    monkeypatch.setattr("app.views.loading.PACE_WAIT_S", 0.2)
    made: list[GuiTurns] = []
    idle, ready, working, rested, done = (threading.Lock() for _ in range(5))
    for lock in (idle, ready, working, rested, done):
        lock.acquire()
    busy = threading.Event()

    def gui() -> None:
        turns = GuiTurns()
        made.append(turns)
        turns.rests()  # the loop is about to wait
        ready.release()
        idle.acquire()  # waits for events
        begin = time.thread_time()
        while time.thread_time() - begin < 0.005:  # at work, well past REST_SLACK_S
            pass
        working.release()
        while not busy.is_set():  # and on
            pass
        turns.rests()
        rested.release()
        done.acquire()

    thread = threading.Thread(target=gui, name="gui")
    thread.start()
    try:
        assert ready.acquire(timeout=10)
        turns = made[0]
        assert waited(turns) < 0.1, "the window rests: read at once"
        time.sleep(0.3)  # a window idle for longer than NEVER_RESTS_S (not a sync)
        idle.release()
        assert working.acquire(timeout=10)
        assert waited(turns) >= 0.15, "the window works: the loader waited its turn"
        busy.set()
        assert rested.acquire(timeout=10)
        assert waited(turns) < 0.1, "the window rests again: read at once"
    finally:
        busy.set()
        for lock in (idle, done):
            if lock.locked():
                lock.release()
        thread.join(10)


def waited(turns: GuiTurns) -> float:
    begin = time.monotonic()
    turns.pace()
    return time.monotonic() - begin

