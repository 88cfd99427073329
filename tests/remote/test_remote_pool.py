"""Several hosts as one executor: balanced placement, one event queue, routed stops."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from app.engine.records import ProcessEventKind
from app.remote.events import EventQueue
from app.remote.gpu import TooFewGpus
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


def test_a_host_without_enough_gpus_is_passed_over_for_gpu_trials(tmp_path: Path) -> None:
    """A laptop beside a GPU server: GPU trials go to the server, its CPU slots no longer
    count as room for them, and CPU trials may still use it."""
    def make(events: EventQueue) -> list[Host]:
        return [LocalExecutor(tmp_path / "laptop", gpus=[], cpu_slots=2, name="laptop",
                              grace=0.5, events=events, slot_folder=tmp_path / "s1"),
                LocalExecutor(tmp_path / "gpubox", gpus=[0], cpu_slots=2, name="gpubox",
                              grace=0.5, events=events, slot_folder=tmp_path / "s2")]

    pool = Pool(make)
    try:
        snapshot = take_snapshot(write(tmp_path / "code" / "README", "x").parent,
                                 tmp_path / "snaps")
        gate = {"GATE": str(tmp_path / "gate")}
        assert pool.pick(gpus=1) is not None and pool.pick(gpus=1).name == "laptop"  # type: ignore[union-attr]
        pool.submit(spec(snapshot, WAIT, 1, gpus=1, env=gate))  # the laptop refuses it
        assert pool.free_slots() == 0, "the laptop's CPU slots are no room for GPU trials"
        assert pool.pick(gpus=1) is None
        with pytest.raises(RuntimeError, match="every host is full"):  # waits; no failure
            pool.submit(spec(snapshot, WAIT, 2, gpus=1, env=gate))
        assert pool.busy_reason() == ("each GPU of gpubox has its 1 trial(s) (of this or "
                                      "another Sweeplab run); laptop has too few GPUs for "
                                      "these trials")
        pool.submit(spec(snapshot, WAIT, 3, gpus=0, env=gate))
        events = Events(pool)
        events.pump(lambda: all("up" in events.lines(t) for t in (1, 3)), 30, "both up")
        assert [(events.last(t, ProcessEventKind.STARTED).host,
                 events.last(t, ProcessEventKind.STARTED).gpus) for t in (1, 3)] == [
            ("gpubox", (0,)), ("laptop", ())]
        (tmp_path / "gate").touch()
        events.wait_end(1, 3, timeout=30)
    finally:
        pool.close()


def test_a_gpu_trial_no_host_can_run_is_refused_in_plain_words(tmp_path: Path) -> None:
    pool = Pool(lambda events: [
        LocalExecutor(tmp_path / name, gpus=gpus, name=name, events=events,
                      slot_folder=tmp_path / f"slots-{name}")
        for name, gpus in (("laptop", []), ("desktop", [0]))])
    try:
        snapshot = take_snapshot(write(tmp_path / "code" / "README", "x").parent,
                                 tmp_path / "snaps")
        with pytest.raises(TooFewGpus, match=r"trial 1 asks for 2 GPU\(s\) but laptop has 0; "
                                             r"trial 1 asks for 2 GPU\(s\) but desktop has 1"):
            pool.submit(spec(snapshot, WAIT, 1, gpus=2))
    finally:
        pool.close()
