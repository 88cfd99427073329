"""Whole optimisations across real sshd servers plus this machine, through the wiring
the CLI and the GUI use: placement balance, a killed server, hostile parameter values."""

from __future__ import annotations

import os
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.experiment import experiment_from_dict
from app.engine.trial import ExperimentState, TrialState
from app.remote.ssh.profile import ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from app.wiring import build_runner, known_hosts
from tests.run.conftest import wait_until
from tests.ssh.sshd import Sshd

GATED = """
import os, pathlib, sys, time, sweeplab
x = sweeplab.param("x")
gate = pathlib.Path(os.environ["GATE"])
sweeplab.report("loss", x + 1.0, step=1)
while not gate.exists():
    time.sleep(0.02)
for step in range(2, 6):
    sweeplab.report("loss", x + 1.0 / step, step=step)
"""


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
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(textwrap.dedent(script))
    doc: dict[str, Any] = {
        "version": 1, "name": "lab-run", "code_dir": str(code), "command": "{python} train.py",
        "kpi": {"name": "loss", "goal": "min"},
        "space": {"version": 1, "space": [
            {"name": "x", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.0, "max": 1.0, "default": 0.5}]},
        "algorithm": {"name": "random", "seed": 5},
        "hosts": ["local", "lab1", "lab2", "lab3"],
        "env": {"GATE": str(tmp_path / "gate")},
    }
    doc.update(fields)
    config = experiment_from_dict(doc, code)
    return store.create_experiment(config.name, config.to_dict()).id


def _running(store: Store, experiment_id: int) -> list[Any]:
    return [t for t in store.list_trials(experiment_id) if t.state is TrialState.RUNNING]


def test_trials_spread_evenly_over_three_servers_and_this_machine(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, _ = lab
    experiment_id = _experiment(tmp_path, store, GATED,
                                limits={"max_trials": 12, "max_parallel": 8})
    runner, pool = build_runner(store, store.get_experiment(experiment_id), fresh_snapshot=True,
                                grace=1.0)
    runner.start()
    try:
        wait_until(lambda: len(_running(store, experiment_id)) == 8, 60, "8 trials running")
        assert Counter(t.host for t in _running(store, experiment_id)) == {
            "local": 2, "lab1": 2, "lab2": 2, "lab3": 2}
        (tmp_path / "gate").touch()
        assert runner.wait(120)
    finally:
        (tmp_path / "gate").touch()
        runner.stop()
        runner.wait(30)
        pool.close()
    trials = store.list_trials(experiment_id)
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETED for t in trials)
    for trial in trials:
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3, 4, 5]
    assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED


def test_a_killed_server_loses_its_trials_which_run_again_elsewhere(
        tmp_path: Path, lab: tuple[Store, list[Sshd]]) -> None:
    store, servers = lab
    experiment_id = _experiment(tmp_path, store, GATED,
                                limits={"max_trials": 8, "max_parallel": 8})
    runner, pool = build_runner(store, store.get_experiment(experiment_id), fresh_snapshot=True,
                                grace=1.0, offline_timeout=3.0)
    runner.start()
    try:
        wait_until(lambda: len(_running(store, experiment_id)) == 8, 60, "8 trials running")
        on_lab2 = [t for t in _running(store, experiment_id) if t.host == "lab2"]
        assert len(on_lab2) == 2
        servers[1].kill()
        wait_until(lambda: all(store.get_trial(t.id).state is TrialState.LOST for t in on_lab2),
                   60, "lab2's trials to be LOST")
        (tmp_path / "gate").touch()
        assert runner.wait(120)
    finally:
        (tmp_path / "gate").touch()
        runner.stop()
        runner.wait(30)
        pool.close()
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
    runner, pool = build_runner(store, store.get_experiment(experiment_id), fresh_snapshot=True)
    runner.start()
    try:
        assert runner.wait(60)
    finally:
        pool.close()
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
    experiment_id = _experiment(tmp_path, store, GATED,
                                limits={"max_trials": 8, "max_parallel": 8})
    runner, pool = build_runner(store, store.get_experiment(experiment_id), fresh_snapshot=True,
                                grace=1.0, offline_timeout=60.0)
    runner.start()
    try:
        wait_until(lambda: len(_running(store, experiment_id)) == 8, 60, "8 trials running")
        servers[0].kill()  # lab1 vanishes with its two trials held at step 1 ...
        (tmp_path / "gate").touch()  # ... which go on, and end, while it is away
        wait_until(lambda: sum(t.state is TrialState.COMPLETED
                               for t in store.list_trials(experiment_id)) >= 6, 60,
                   "the other trials to finish")
        servers[0].start()  # back well within the offline timeout
        assert runner.wait(120)
    finally:
        (tmp_path / "gate").touch()
        runner.stop()
        runner.wait(30)
        pool.close()
    trials = store.list_trials(experiment_id)
    assert len(trials) == 8, "nothing lost, nothing run again"
    assert all(t.state is TrialState.COMPLETED for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    for trial in trials:
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3, 4, 5]
