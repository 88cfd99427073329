"""Slots shared by every Sweeplab process on one machine: two executors (two
experiments) never put trials on one GPU place, and a trial keeps its place after
the executor that started it is gone (the lock lives in the trial's processes)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from remote_support import PYTHON, Events, spec, write

from app.engine.processes import signal_group
from app.engine.records import ProcessEventKind, Snapshot
from app.remote.gpu import NoFreeSlot
from app.remote.launcher import read_pid_file
from app.remote.local import LocalExecutor
from app.remote.slot_locks import SlotLocks
from tests.helpers import proc_state, wait_until

HERE = Path(__file__).parent
WAIT = f"{PYTHON} trial.py wait"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., LocalExecutor]]:
    """Executors of separate experiments sharing ``tmp_path/slots``; no trial left behind."""
    made: list[LocalExecutor] = []

    def factory(name: str, **options: object) -> LocalExecutor:
        settings: dict[str, object] = {"gpus": [0, 1], "cpu_slots": 1, "grace": 2.0,
                                       "slot_folder": tmp_path / "slots", **options}
        executor = LocalExecutor(tmp_path / name, **settings)  # type: ignore[arg-type]
        made.append(executor)
        return executor

    yield factory
    for executor in made:
        executor.close()
    for pid_file in tmp_path.glob("*/*/*/pid"):
        record = read_pid_file(pid_file.parent)
        if record is not None:
            signal_group(record.pid, signal.SIGKILL)


def test_two_experiments_share_the_gpus_of_one_machine(
        make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    first, second = make("first"), make("second")
    assert first.free_slots() == second.free_slots() == 2
    first.submit(spec(snap, WAIT, 1, gpus=1))
    assert second.free_slots() == 1, "the other experiment's trial counts"
    second.submit(spec(snap, WAIT, 2, gpus=1))
    assert first.free_slots() == second.free_slots() == 0
    with pytest.raises(NoFreeSlot, match="taken \\(by this or another Sweeplab\\)"):
        first.submit(spec(snap, WAIT, 3, gpus=1))
    with pytest.raises(NoFreeSlot):
        second.submit(spec(snap, WAIT, 4, gpus=2))
    a, b = Events(first), Events(second)
    a.pump(lambda: bool(a.lines(1)), what="the first trial to run")
    b.pump(lambda: bool(b.lines(2)), what="the second trial to run")
    assert a.last(1, ProcessEventKind.STARTED).gpus == (0,)
    assert b.last(2, ProcessEventKind.STARTED).gpus == (1,), "the free GPU, not GPU 0"
    (first.trial_dir(7, 1) / "go").touch()
    a.wait_end(1)
    assert second.free_slots() == 1, "a place is free again once its trial ended"
    second.submit(spec(snap, WAIT, 5, gpus=1))
    b.pump(lambda: bool(b.lines(5)), what="a trial on the freed GPU")
    assert b.last(5, ProcessEventKind.STARTED).gpus == (0,)
    for trial_id in (2, 5):
        (second.trial_dir(7, trial_id) / "go").touch()
    b.wait_end(2, 5)
    assert first.free_slots() == second.free_slots() == 2


def test_a_trial_keeps_its_place_after_its_executor_is_gone(
        make: Callable[..., LocalExecutor], snap: Snapshot, tmp_path: Path) -> None:
    crashed = make("crashed", gpus=[], cpu_slots=1)
    crashed.submit(spec(snap, WAIT, 1))
    events = Events(crashed)
    events.pump(lambda: bool(events.lines(1)), what="the trial to run")
    crashed.close()  # the app is gone; its trial runs on
    later = make("later", gpus=[], cpu_slots=1)
    assert later.free_slots() == 0
    assert SlotLocks(tmp_path / "slots").used("cpu", 1) == 1
    with pytest.raises(NoFreeSlot):
        later.submit(spec(snap, WAIT, 2))
    (crashed.trial_dir(7, 1) / "go").touch()
    wait_until(lambda: later.free_slots() == 1, 20, "the place to be freed by the trial's end")


def test_without_a_slot_folder_each_executor_counts_only_its_own(
        make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    first, second = make("first", slot_folder=None), make("second", slot_folder=None)
    first.submit(spec(snap, WAIT, 1, gpus=1))
    assert second.free_slots() == 2
    events = Events(first)
    events.pump(lambda: bool(events.lines(1)), what="the trial to run")
    assert second.free_slots() == 2, "nothing shared: the same GPU place is offered twice"
    (first.trial_dir(7, 1) / "go").touch()
    events.wait_end(1)


def test_a_slot_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "not a folder")
    with pytest.raises(OSError):
        LocalExecutor(tmp_path / "work", gpus=[], slot_folder=blocker / "slots")


LEFTOVERS = (
    "sleep 300 & echo $! >plain; "
    f"{PYTHON} -c 'import os, time; os.setpgid(0, 0); time.sleep(300)' & echo $! >grouped; "
    "(trap '' TERM; exec sleep 300) & echo $! >stubborn; echo main-done")
"""A main command that ends at once and leaves three processes: one in its group, one
in a group of its own (still in the trial's session), one that ignores SIGTERM."""


def test_what_a_trial_leaves_running_ends_with_it_and_its_slot_is_free(
        make: Callable[..., LocalExecutor], snap: Snapshot) -> None:
    executor = make("first", gpus=[], grace=1.0)
    executor.submit(spec(snap, LEFTOVERS, 1))
    events = Events(executor)
    events.wait_end(1, timeout=30)
    assert events.last(1, ProcessEventKind.EXITED).exit_code == 0
    code = executor.trial_dir(7, 1) / "code"
    pids = [int((code / name).read_text()) for name in ("plain", "grouped", "stubborn")]
    assert all(proc_state(pid) in (None, "Z") for pid in pids), \
        [(pid, proc_state(pid)) for pid in pids]
    executor.submit(spec(snap, WAIT, 2))  # NoFreeSlot while a leftover holds the lock
    events.pump(lambda: bool(events.of(2)), what="the next trial to start")
    assert events.of(2)[0].kind is ProcessEventKind.STARTED
    (executor.trial_dir(7, 2) / "go").touch()  # it ends: no trial outlives the test
    events.wait_end(2)
