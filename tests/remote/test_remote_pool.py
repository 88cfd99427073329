"""Several hosts as one executor: balanced placement, one event queue, routed stops."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind
from app.remote.events import EventQueue
from app.remote.local import LocalExecutor
from app.remote.pool import Host, Pool
from app.remote.snapshot import take_snapshot
from tests.remote.remote_support import PYTHON, Events, spec, write

WAIT = (f"{PYTHON} -c \"import os,pathlib,time\n"
        "gate = pathlib.Path(os.environ['GATE'])\n"
        "print('up', flush=True)\n"
        "while not gate.exists(): time.sleep(0.01)\"")


@pytest.fixture
def hosts(tmp_path: Path) -> tuple[Pool, list[LocalExecutor]]:
    made: list[LocalExecutor] = []

    def make(events: EventQueue) -> list[Host]:
        for name, slots in (("small", 1), ("big", 3)):
            made.append(LocalExecutor(tmp_path / name, gpus=[], cpu_slots=slots, name=name,
                                      grace=0.5, events=events))
        return list(made)

    pool = Pool(make)
    yield pool, made
    pool.close()


def test_trials_fill_hosts_evenly_relative_to_their_size(
        tmp_path: Path, hosts: tuple[Pool, list[LocalExecutor]]) -> None:
    pool, _ = hosts
    code = write(tmp_path / "code" / "README", "x").parent
    snapshot = take_snapshot(code, tmp_path / "snaps")
    gate = tmp_path / "gate"
    assert (pool.capacity(), pool.free_slots()) == (4, 4)
    placed: list[str] = []
    for trial_id in range(1, 5):
        host = pool.pick()
        assert host is not None
        placed.append(host.name)
        pool.submit(spec(snapshot, WAIT, trial_id, env={"GATE": str(gate)}))
    # both empty: the one with more free slots; then small (1/1 free) beats big (2/3)
    assert placed == ["big", "small", "big", "big"]
    assert pool.free_slots() == 0 and pool.pick() is None
    with pytest.raises(RuntimeError, match="every host is full"):
        pool.submit(spec(snapshot, WAIT, 5))
    events = Events(pool)
    events.pump(lambda: all("up" in events.lines(t) for t in range(1, 5)), 30, "all up")
    assert Counter(events.last(t, ProcessEventKind.STARTED).host for t in range(1, 5)) == {
        "small": 1, "big": 3}
    pool.stop(2, 0.5)  # routed to "small"
    events.wait_end(2, timeout=30)
    assert events.last(2, ProcessEventKind.EXITED).host == "small"
    assert pool.free_slots() == 1 and pool.pick() is not None
    assert pool.pick().name == "small"  # type: ignore[union-attr]
    gate.touch()
    events.wait_end(1, 3, 4, timeout=30)
    assert all(events.last(t, ProcessEventKind.EXITED).exit_code == 0 for t in (1, 3, 4))


def test_a_pool_needs_distinct_hosts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        Pool(lambda _events: [])
    with pytest.raises(ValueError, match="must differ"):
        Pool(lambda events: [LocalExecutor(tmp_path / "a", gpus=[], events=events),
                             LocalExecutor(tmp_path / "b", gpus=[], events=events)])
