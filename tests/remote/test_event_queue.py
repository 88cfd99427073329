"""The event queue bounds the log lines it holds: a follower faster than the runner waits."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from app.engine.records import ProcessEvent, ProcessEventKind, Snapshot
from app.remote.events import EventQueue, drain
from app.remote.local import LocalExecutor
from tests.remote.remote_support import PYTHON, spec, wait_until

OUTPUT, EXITED = ProcessEventKind.OUTPUT, ProcessEventKind.EXITED


def output(trial_id: int, chars: int) -> ProcessEvent:
    return ProcessEvent(trial_id=trial_id, kind=OUTPUT, host="h", lines=("x" * chars,))


def putter(events: EventQueue, event: ProcessEvent, take_first: bool = False) -> threading.Thread:
    """A thread that puts ``event`` (after taking one event when ``take_first``)."""
    def body() -> None:
        if take_first:
            events.get()
        events.put(event)
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def full_queue(stall_s: float = 60.0) -> EventQueue:
    events = EventQueue(output_limit=15, stall_s=stall_s)
    events.put(output(1, 10))
    events.put(output(2, 10))  # 20 > 15: the next output waits
    return events


def test_an_output_over_the_limit_waits_until_the_runner_takes_events() -> None:
    events = full_queue()
    late = putter(events, output(3, 10))
    assert drain(events, 0, "test") == [output(1, 10), output(2, 10)]
    late.join(5)
    assert not late.is_alive(), "the waiting put did not go on once events were taken"
    assert events.get_nowait() == output(3, 10)
    assert events.queued_output == 0


def test_a_waiting_put_gives_up_when_nothing_is_taken(caplog: pytest.LogCaptureFixture) -> None:
    events = full_queue(stall_s=0.3)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="app.remote.events"):
        putter(events, output(3, 10)).join(10)
    assert time.monotonic() - began >= 0.3  # it did wait, then queued anyway
    assert events.qsize() == 3 and events.queued_output == 30
    assert "nothing taken from the event queue" in caplog.text


def test_release_ends_every_wait() -> None:
    events = full_queue()
    waiting = [putter(events, output(n, 10)) for n in (3, 4)]
    wait_until(lambda: len(events.not_full._waiters) == 2, 5, "both puts to wait")
    events.release()
    for thread in waiting:
        thread.join(5)
        assert not thread.is_alive()
    assert events.qsize() == 4


def test_other_events_and_the_taking_thread_never_wait() -> None:
    events = full_queue()
    end = ProcessEvent(trial_id=1, kind=EXITED, host="h", exit_code=0)
    ending = putter(events, end)
    ending.join(5)
    assert not ending.is_alive(), "an EXITED event waited for room"
    events = EventQueue(output_limit=15, stall_s=60)
    events.put(output(1, 5))
    events.put(output(2, 20))  # once the first is taken, 20 > 15 characters remain
    taker = putter(events, output(3, 10), take_first=True)
    taker.join(5)
    assert not taker.is_alive(), "the thread that takes events waited for itself"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="output_limit must be > 0, got 0"):
        EventQueue(output_limit=0)
    with pytest.raises(ValueError, match="stall_s must be > 0, got -1"):
        EventQueue(stall_s=-1)


def test_a_fast_local_trial_is_read_no_faster_than_the_runner_takes_it(
        tmp_path: Path, snap: Snapshot) -> None:
    limit = 64 * 1024
    events = EventQueue(output_limit=limit)
    executor = LocalExecutor(tmp_path / "trials", gpus=[], cpu_slots=1, events=events)
    lines = 8000
    script = f"for i in range({lines}): print(str(i).zfill(5) + 'y' * 1000)"
    try:
        executor.submit(spec(snap, f"{PYTHON} -c \"{script}\""))
        log = executor.trial_dir(7, 1) / "output.log"
        wait_until(lambda: log.stat().st_size >= lines * 1006 if log.exists() else False,
                   20, "the trial to print all its lines")
        got: list[str] = []
        most, ended, deadline = 0, False, time.monotonic() + 30
        while not ended:
            assert time.monotonic() < deadline, f"no end after {len(got)} lines"
            most = max(most, events.queued_output)  # the slow runner looks in
            taken = executor.poll(0.2)
            got += [line for e in taken if e.kind is OUTPUT for line in e.lines]
            ended = any(e.kind is EXITED for e in taken)
    finally:
        executor.close()
    assert [line[:5] for line in got] == [f"{i:05d}" for i in range(lines)]
    chunk = 1 << 20  # one read of the log, put once there was room
    assert most <= limit + chunk, f"{most} characters queued at once; the limit is {limit}"
