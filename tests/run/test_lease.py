"""The experiment lease: one program drives an experiment at a time, and a dead one's
experiment is taken over (at once when it was a process of this host)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from app.engine.lease import DrivenElsewhere, Driver, Lease
from app.engine.processes import is_alive
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import gated_trial, proc_state, running, store_experiment, wait_until

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = Driver("sweeplab run", "lab-pc-2", 4242, "f00d")  # a program on another host


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as opened:
        yield opened


def _experiment(store: Store) -> int:
    return store.create_experiment("exp", {"version": 1}).id


def test_a_live_driver_is_refused_by_name(store: Store) -> None:
    eid = _experiment(store)
    assert store.claim_experiment(eid, ELSEWHERE.encode(), None)
    with pytest.raises(DrivenElsewhere, match=r"exp is being run by sweeplab run \(pid 4242 "
                                              r"on lab-pc-2\), last seen \d+ s ago"):
        Lease.claim(store, eid, "exp", "test")
    assert store.experiment_driver(eid)[0] == ELSEWHERE.encode(), "the holder keeps it"
    assert store.get_experiment(eid).driver == ELSEWHERE.encode()


def test_a_driver_silent_for_the_lease_time_is_taken_over(store: Store) -> None:
    eid = _experiment(store)
    store.claim_experiment(eid, ELSEWHERE.encode(), None)
    lease = Lease.claim(store, eid, "exp", "test", lease_seconds=0.0)
    holder, seen = store.experiment_driver(eid)
    assert holder == lease.driver.encode() and seen is not None
    old = Lease(store, eid, ELSEWHERE)  # the old holder wakes up and renews
    assert not old.renew() and old.lost
    assert store.experiment_driver(eid)[0] == lease.driver.encode()
    old.release()  # a lost lease releases nothing
    assert store.experiment_driver(eid)[0] == lease.driver.encode()
    lease.release()
    assert store.experiment_driver(eid) == (None, None)


@pytest.mark.parametrize("zombie", [False, True], ids=["reaped", "zombie"])
def test_a_dead_process_of_this_host_is_taken_over_at_once(store: Store,
                                                           zombie: bool) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    if zombie:  # exited but not reaped: kill(pid, 0) still succeeds
        wait_until(lambda: proc_state(child.pid) == "Z", 20, "the child to become a zombie")
    else:
        child.wait(20)
    assert not is_alive(child.pid)
    eid = _experiment(store)
    dead = Driver("sweeplab run", socket.gethostname(), child.pid, "dead")
    store.claim_experiment(eid, dead.encode(), None)
    lease = Lease.claim(store, eid, "exp", "test")
    assert store.experiment_driver(eid)[0] == lease.driver.encode()
    child.wait(20)


def test_a_live_process_of_this_host_is_not_taken_over(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        eid = _experiment(store)
        alive = Driver("sweeplab run", socket.gethostname(), child.pid, "live")
        store.claim_experiment(eid, alive.encode(), None)
        with pytest.raises(DrivenElsewhere, match=f"pid {child.pid} on "):
            Lease.claim(store, eid, "exp", "test")
    finally:
        child.kill()
        child.wait(20)


def test_a_second_program_cannot_resume_a_running_experiment(store: Store,
                                                             tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    eid = store_experiment(store, tmp_path, gated_trial(steps=3), name="exp",
                           env={"GATE": str(gate)},
                           limits={"max_trials": 2, "max_parallel": 2})
    with running(store, eid, gate, driver="the test's runner"):
        wait_until(lambda: len(store.list_trials(eid, [TrialState.RUNNING])) == 2, 60,
                   "two trials running")
        env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
               "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}"}
        def sweeplab(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=60, check=False)

        refused = sweeplab("resume", "exp")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert (f"exp is being run by the test's runner (pid {os.getpid()} on "
                f"{socket.gethostname()})") in refused.stderr
        trials = store.list_trials(eid)
        assert len(trials) == 2 and all(t.state is TrialState.RUNNING for t in trials), \
            "the refused program touched no trial"
        stopped = sweeplab("stop", "exp")  # asking the driver to stop still works
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        wait_until(lambda: all(t.state is TrialState.STOPPED for t in store.list_trials(eid)),
                   60, "the driver to stop its trials")
    assert store.experiment_driver(eid) == (None, None), "released at the end"


def test_a_runner_whose_lease_is_taken_stops_driving_and_leaves_the_trials(
        store: Store, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    eid = store_experiment(store, tmp_path, gated_trial(steps=3), name="exp",
                           env={"GATE": str(gate)},
                           limits={"max_trials": 4, "max_parallel": 1})
    pids: list[int] = []
    try:
        with running(store, eid, gate) as (runner, _):
            trial = wait_until(lambda: next(iter(store.list_trials(
                eid, [TrialState.RUNNING])), None), 60, "a trial running")
            pids.append(wait_until(lambda: store.get_trial(trial.id).pid, 20, "its pid"))
            holder, _ = store.experiment_driver(eid)
            assert store.claim_experiment(eid, ELSEWHERE.encode(), holder)  # a takeover
            assert runner.wait(30), "the runner stops driving within a renewal"
            assert runner.taken_over
            assert proc_state(pids[0]) in ("S", "R"), "the trial runs on for the new driver"
            assert store.get_trial(trial.id).state is TrialState.RUNNING
            assert store.get_experiment(eid).state is ExperimentState.RUNNING
            assert len(store.list_trials(eid)) == 1, "no trial was started after the takeover"
            assert store.experiment_driver(eid)[0] == ELSEWHERE.encode(), "not released"
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_a_driver_on_a_very_long_host_name_fits_the_column_and_reads_back() -> None:
    driver = Driver("sweeplab run", "h" * 300, 4242, "f00d")
    encoded = driver.encode()
    assert len(encoded) <= 255
    back = Driver.decode(encoded)
    assert back is not None and (back.pid, back.token) == (4242, "f00d")
    assert Driver.decode("not a driver") is None and Driver.decode("") is None
