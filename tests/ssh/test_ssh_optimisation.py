"""Whole optimisations across real sshd servers plus this machine, through the wiring
the CLI and the GUI use: placement balance, a killed server, hostile parameter values."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.application.wiring import known_hosts
from app.engine.runner import Runner
from app.engine.trial import ExperimentState, TrialState
from app.remote.ssh.profile import ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.helpers import gated_trial, running, store_experiment, wait_until
from tests.ssh.sshd import Sshd

GATED = gated_trial(steps=5)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> Iterator[tuple[Store, list[Sshd]]]:
    """Three saved servers (2 trials each) whose keys are accepted, and a store."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", "2")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    servers = [sshd_factory() for _ in range(3)]
    trusted = known_hosts()
    for index, server in enumerate(servers, start=1):
        ServerProfiles(store).add(make_profile(server, f"lab{index}", max_parallel=2))
        trusted.accept("127.0.0.1", server.port, server.host_key)
    yield store, servers
    store.close()


def _experiment(tmp_path: Path, store: Store, script: str, **fields: Any) -> int:
    """A stored experiment over this machine and the three servers, gated by ``gate``."""
    return store_experiment(store, tmp_path, script, **{
        "name": "lab-run", "algorithm": {"name": "random", "seed": 5},
        "hosts": ["local", "lab1", "lab2", "lab3"], "env": {"GATE": str(tmp_path / "gate")},
        **fields})


def _running(store: Store, experiment_id: int) -> list[Any]:
    return [t for t in store.list_trials(experiment_id) if t.state is TrialState.RUNNING]


@contextmanager
def _eight_held(tmp_path: Path, store: Store, max_trials: int,
                **options: Any) -> Iterator[tuple[Runner, int]]:
    """A run of GATED trials (``options`` go to the runner) once 8 of them, as many as
    the hosts take, are running, held at step 1; yields the runner and experiment id."""
    experiment_id = _experiment(tmp_path, store, GATED,
                                limits={"max_trials": max_trials, "max_parallel": 8})
    with running(store, experiment_id, tmp_path / "gate", grace=1.0, **options) as (runner, _):
        wait_until(lambda: len(_running(store, experiment_id)) == 8, 60, "8 trials running")
        yield runner, experiment_id


def test_trials_spread_evenly_over_three_servers_and_this_machine(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, _ = lab
    with _eight_held(tmp_path, store, 12) as (runner, experiment_id):
        assert Counter(t.host for t in _running(store, experiment_id)) == {
            "local": 2, "lab1": 2, "lab2": 2, "lab3": 2}
        (tmp_path / "gate").touch()
        assert runner.wait(120)
    trials = store.list_trials(experiment_id)
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETED for t in trials)
    for trial in trials:
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3, 4, 5]
    assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED


def test_a_killed_server_loses_its_trials_which_run_again_elsewhere(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, servers = lab
    with _eight_held(tmp_path, store, 8, offline_timeout=3.0) as (runner, experiment_id):
        on_lab2 = [t for t in _running(store, experiment_id) if t.host == "lab2"]
        assert len(on_lab2) == 2
        servers[1].kill()
        wait_until(lambda: all(store.get_trial(t.id).state is TrialState.LOST for t in on_lab2),
                   60, "lab2's trials to be LOST")
        (tmp_path / "gate").touch()
        assert runner.wait(120)
    trials = store.list_trials(experiment_id)
    lost = [t for t in trials if t.state is TrialState.LOST]
    assert {t.id for t in lost} == {t.id for t in on_lab2}
    again = [t for t in trials if t.rerun_of is not None]
    assert sorted(t.rerun_of for t in again) == sorted(t.number for t in lost)
    assert all(t.state is TrialState.COMPLETED and t.host != "lab2" for t in again)
    counted = [t for t in trials if t.rerun_of is None]
    assert len(counted) == 8, "max trials counts each suggestion once"
    assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED


HOSTILE = "$(touch {victim}/pwned); rm -rf {victim}/keep; `touch {victim}/tick` 'q\" \\\n"


def test_hostile_parameter_values_reach_the_script_as_literal_text(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, _ = lab
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    value = HOSTILE.format(victim=victim)
    script = """
    import pathlib, sys, sweeplab
    out = pathlib.Path(sys.argv[2]) / (sweeplab.param("host_hint") + ".txt")
    out.write_text(sys.argv[1])
    sweeplab.report("loss", 1.0)
    """
    experiment_id = _experiment(
        tmp_path, store, script, command="{python} train.py {s} " + str(tmp_path),
        space={"version": 1, "space": [
            {"name": "s", "type": "choice", "auto": True, "default": value, "values": [value]},
            {"name": "host_hint", "type": "string", "auto": False, "default": "t"}]},
        limits={"max_trials": 4, "max_parallel": 4}, algorithm={"name": "grid"})
    with running(store, experiment_id) as (runner, _):
        assert runner.wait(60)
    trials = store.list_trials(experiment_id)
    assert trials and all(t.state is TrialState.COMPLETED for t in trials), [
        (t.state, t.error) for t in trials]
    assert (tmp_path / "t.txt").read_text() == value
    assert (victim / "keep").is_dir()
    assert not (victim / "pwned").exists() and not (victim / "tick").exists()
    assert not os.path.exists(os.path.expanduser("~/pwned"))


def test_a_server_that_returns_in_time_loses_nothing(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, servers = lab
    with _eight_held(tmp_path, store, 8, offline_timeout=60.0) as (runner, experiment_id):
        servers[0].kill()  # lab1 vanishes with its two trials held at step 1 ...
        (tmp_path / "gate").touch()  # ... which go on, and end, while it is away
        wait_until(lambda: sum(t.state is TrialState.COMPLETED
                               for t in store.list_trials(experiment_id)) >= 6, 60,
                   "the other trials to finish")
        servers[0].start()  # back well within the offline timeout
        assert runner.wait(120)
    trials = store.list_trials(experiment_id)
    assert len(trials) == 8, "nothing lost, nothing run again"
    assert all(t.state is TrialState.COMPLETED for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    for trial in trials:
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3, 4, 5]
