"""Kill -9 the runner mid-run, resume, and lose nothing: trials on this machine and on
real sshd servers are re-attached, followed from their stored offsets, never re-run."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine.docio import dump_text
from app.engine.trial import ExperimentState, TrialState
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, ServerProfile
from app.store.servers import ServerProfiles
from app.store.store import Store
from tests.helpers import (
    app_process,
    experiment_doc,
    gated_trial,
    proc_state,
    trials_of,
    wait_until,
    write_code,
)
from tests.ssh.conftest import client_key, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "sshd_factory", "workdir"]

ROOT = Path(__file__).resolve().parents[2]

TRAIN = gated_trial(steps=40, hold_at=5, pause=0.01)  # held at step 5 while the runner dies


def _experiment(tmp_path: Path, hosts: list[str], max_trials: int, parallel: int) -> Path:
    """The experiment file of a run of TRAIN on ``hosts``, gated by ``gate``."""
    doc = experiment_doc(write_code(tmp_path, TRAIN), name="crash",
                         algorithm={"name": "random", "seed": 3},
                         limits={"max_trials": max_trials, "max_parallel": parallel},
                         env={"GATE": str(tmp_path / "gate")}, hosts=hosts)
    path = tmp_path / "experiment.yaml"
    path.write_text(dump_text(doc))
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    """The environment of the app's processes: a private home and database, 4 local slots."""
    return {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
            "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}", "SWEEPLAB_LOCAL_SLOTS": "4"}


@pytest.mark.parametrize("trials_end_first", [True, False],
                         ids=["trials-end-before-resume", "trials-run-on-after-resume"])
def test_kill_9_the_runner_then_resume_loses_and_repeats_nothing(
        tmp_path: Path, trials_end_first: bool) -> None:
    path = _experiment(tmp_path, ["local"], 6, 4)
    crash_and_resume(tmp_path, _env(tmp_path), path, 4, 6, trials_end_first)


def test_kill_9_with_four_local_and_four_ssh_trials_running(
        tmp_path: Path, sshd_factory: Callable[..., Sshd], client_key: Path,
        workdir: Path) -> None:
    env = _env(tmp_path)
    store = Store(env["SWEEPLAB_DB"])
    trusted = KnownHosts(tmp_path / "home" / "known_hosts")
    for name in ("lab1", "lab2"):
        server = sshd_factory()
        ServerProfiles(store).add(ServerProfile(
            name, "127.0.0.1", getpass.getuser(), port=server.port, auth=AuthKind.KEY,
            key_file=str(client_key), workdir=str(workdir / name), python=sys.executable,
            max_parallel=2))
        trusted.accept("127.0.0.1", server.port, server.host_key)
    store.close()
    path = _experiment(tmp_path, ["local", "lab1", "lab2"], 12, 8)
    crash_and_resume(tmp_path, env, path, 8, 12, trials_end_first=False)


def crash_and_resume(tmp_path: Path, env: dict[str, str], path: Path, running: int,
                     total: int, trials_end_first: bool) -> None:
    """Run, SIGKILL the runner with ``running`` trials held mid-way, resume, check all."""
    with (app_process(env, "run", path, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL) as runner,
          Store(env["SWEEPLAB_DB"]) as store):
        def held() -> bool:
            trials = trials_of(store, "crash")
            return len(trials) == running and all(
                t.state is TrialState.RUNNING and len(store.get_metrics(t.id)) >= 5
                for t in trials)

        wait_until(held, 90, f"{running} trials running, each with 5 points stored")
        trials = store.list_trials(store.get_experiment("crash").id)
        pids = {t.id: t.pid for t in trials}
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        local = {t.id for t in trials if t.host == "local"}
        assert all(proc_state(pids[i]) in ("S", "R") for i in local if pids[i]), \
            "the trials outlive their runner"
        experiment_id = store.get_experiment("crash").id
        if trials_end_first:
            (tmp_path / "gate").touch()
            wait_until(lambda: all(proc_state(pids[i]) in (None, "Z") for i in local if pids[i]),
                       60, "the trials to finish with no runner watching")
        resumed = subprocess.Popen([sys.executable, "-m", "app", "resume", "crash"], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        if not trials_end_first:  # the new runner is up (and follows them) before they go on
            wait_until(lambda: [e.message for e in store.list_events(experiment_id)].count(
                "started") == 2, 60, "the resumed runner to start")
            assert all(proc_state(pids[i]) in ("S", "R") for i in local if pids[i])
            (tmp_path / "gate").touch()
        output, _ = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, output
        experiment = store.get_experiment("crash")
        assert experiment.state is ExperimentState.COMPLETED
        after = store.list_trials(experiment.id)
        assert len(after) == total, "each trial ran once: none repeated, none lost"
        assert all(t.state is TrialState.COMPLETED for t in after), [
            (t.number, t.state, t.error) for t in after]
        for trial in after:
            points = store.get_metrics(trial.id, "loss")
            steps = sorted(p.step for p in points if p.step is not None)
            assert steps == list(range(1, 41)), f"trial {trial.number}: {steps}"
            assert trial.kpi == trial.params["x"] + 1.0 / 40
            log = (Path(trial.trial_dir or "") / "output.log").read_text()
            assert log.count("#sweeplab") == 40 and trial.log_offset == len(log.encode())
        for trial in trials:
            assert store.get_trial(trial.id).pid == pids[trial.id], "re-attached, not re-run"
