"""GuiTurns, the loader's gate, with plain threads: the loader waits only while the GUI
thread runs Python code, from when it is seen at work until its loop waits again."""

from __future__ import annotations

import threading
import time

import pytest

from app.views.loading import GuiTurns


def test_the_loader_waits_while_the_gui_thread_works_even_after_a_long_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A "GUI thread" rests (its loop's frame, blocked in C), works in a function of its
    own, and rests again; each lock it blocks on keeps its frame as it is. A long rest
    before the work (an idle window, then a click) must not pass for a window that
    never rests."""
    monkeypatch.setattr("app.views.loading.PACE_WAIT_S", 0.2)
    made: list[GuiTurns] = []
    idle, ready, working, busy, rested, done = (threading.Lock() for _ in range(6))
    for lock in (idle, ready, working, busy, rested, done):
        lock.acquire()

    def gui() -> None:
        turns = GuiTurns()
        made.append(turns)
        turns.rests()  # the loop is about to wait: this frame is the loop's
        ready.release()
        idle.acquire()  # waits for events (in C: the frame stays)

        def work() -> None:
            working.release()
            busy.acquire()  # in a slot, busy

        work()
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
        busy.release()
        assert rested.acquire(timeout=10)
        assert waited(turns) < 0.1, "the window rests again: read at once"
    finally:
        for lock in (idle, busy, done):
            if lock.locked():
                lock.release()
        thread.join(10)


def waited(turns: GuiTurns) -> float:
    begin = time.monotonic()
    turns.pace()
    return time.monotonic() - begin
