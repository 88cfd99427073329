"""A kill -9 of the driving program at any instant of a trial's life, then ``sweeplab
resume``, loses nothing: every point its script printed is stored once, each params
set is executed once, no process is left behind and every slot lock is free.

The instants: the named crash points of :mod:`app.engine.crashpoint` (a trial stored
but not launched, its launch intent stored but its process not started, its process
running but not stored RUNNING, a batch of points stored, its exit seen but not
stored, its end stored), one after the other in one experiment; and, in the slow
soak, kills from outside at spread delays, over and over until the run is done.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine.crashpoint import CRASH_ENV, CrashPoint
from app.engine.docio import dump_text
from app.engine.trial import ExperimentState, TrialState
from app.remote.slurm.profile import ClusterProfile
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import AuthKind, ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.servers import ServerProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import ROOT, experiment_doc, proc_state, trials_of, wait_until, write_code
from tests.slurm.conftest import slurm
from tests.ssh.conftest import client_key, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "slurm", "sshd_factory", "workdir"]

STEPS = 6
TRIALS = 5
NAME = "crashy"

# Appends its x to $STARTS first thing: each line is one execution of a params set.
TRAIN = f"""
import os, time, sweeplab
x = sweeplab.param("x")
with open(os.environ["STARTS"], "a") as starts:
    starts.write(repr(x) + "\\n")
for step in range(1, {STEPS + 1}):
    sweeplab.report("loss", x + 1.0 / step, step=step)
    time.sleep(0.05)
"""


def _setup(tmp_path: Path, host: str = "local") -> tuple[dict[str, str], Path]:
    """The app's environment (a private home and database, 2 local slots) and the
    experiment file: 5 trials of TRAIN on ``host``, 2 at a time."""
    doc = experiment_doc(write_code(tmp_path, TRAIN), name=NAME,
                         algorithm={"name": "random", "seed": 5},
                         limits={"max_trials": TRIALS, "max_parallel": 2},
                         env={"STARTS": str(tmp_path / "starts")}, hosts=[host])
    path = tmp_path / "experiment.yaml"
    path.write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}", "SWEEPLAB_LOCAL_SLOTS": "2"}
    env.pop(CRASH_ENV, None)
    return env, path


def _driver(env: dict[str, str], path: Path, first: bool,
            crash: str | None = None) -> subprocess.Popen[bytes]:
    """``sweeplab run`` (first) or ``sweeplab resume``, SIGKILLing itself at ``crash``."""
    args = ["run", str(path)] if first else ["resume", NAME]
    env = {**env, CRASH_ENV: crash} if crash else env
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(env: dict[str, str], path: Path, store: Store) -> None:
    """Resume until the experiment is COMPLETED (one resume should do)."""
    for _ in range(3):
        if store.get_experiment(NAME).state is ExperimentState.COMPLETED:
            return
        driver = _driver(env, path, first=False)
        _, err = driver.communicate(timeout=120)
        assert driver.returncode == 0, err.decode()
    assert store.get_experiment(NAME).state is ExperimentState.COMPLETED


def _check_nothing_lost(tmp_path: Path, store: Store, trials_root: Path | None = None) -> None:
    """Each trial's stored points are exactly what it printed, each params set ran
    once, no trial process is left under ``trials_root`` (default: this machine's trial
    folders), every slot lock is free."""
    trials = trials_of(store, NAME)
    starts = (tmp_path / "starts").read_text().split()
    assert sorted(starts) == sorted({repr(t.params["x"]) for t in trials}), \
        "each params set was executed exactly once"
    assert len(trials) == TRIALS, [(t.number, t.state, t.error) for t in trials]
    assert all(t.state is TrialState.COMPLETED and t.rerun_of is None for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    for trial in trials:
        steps = sorted(p.step for p in store.get_metrics(trial.id, "loss")
                       if p.step is not None)
        assert steps == list(range(1, STEPS + 1)), f"trial {trial.number}: {steps}"
        assert trial.kpi == trial.params["x"] + 1.0 / STEPS
    root = trials_root or tmp_path / "home" / "trials"
    wait_until(lambda: not _leftover_processes(root), 15,
               f"no trial process left (found {_leftover_processes(root)})")
    for lock in (tmp_path / "home" / "slots").glob("*.lock"):
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while held


def _leftover_processes(root: Path) -> list[str]:
    """Live processes whose working folder or command line is under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or proc_state(int(entry.name)) in (None, "Z", "X"):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(root)) or str(root) in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def _wait_trials_quiet(tmp_path: Path) -> None:
    """No trial of a killed driver runs any more (they end on their own)."""
    root = tmp_path / "home" / "trials"
    wait_until(lambda: not _leftover_processes(root), 60, "the trials to end")


# Each kill is at another instant of a trial's life; the later ones count passes, so
# they hit trials other than the first.
CHAIN = [
    f"{CrashPoint.TRIAL_STORED.value}:2",
    f"{CrashPoint.INTENT_STORED.value}:1",
    f"{CrashPoint.STARTED_SEEN.value}:1",
    f"{CrashPoint.OUTPUT_STORED.value}:2",
    f"{CrashPoint.EXIT_SEEN.value}:1",
    f"{CrashPoint.ENDED_STORED.value}:1",
]


def test_kill_9_at_each_instant_of_a_trial_then_resume_loses_nothing(tmp_path: Path) -> None:
    env, path = _setup(tmp_path)
    with Store(env["SWEEPLAB_DB"]) as store:
        for index, crash in enumerate(CHAIN):
            driver = _driver(env, path, first=index == 0, crash=crash)
            _, err = driver.communicate(timeout=120)
            assert driver.returncode == -signal.SIGKILL, \
                f"{crash}: not reached ({driver.returncode}): {err.decode()}"
        _finish(env, path, store)
        _check_nothing_lost(tmp_path, store)


def _runs_started(store: Store) -> int:
    """How many drivers have started the experiment so far (each logs "started")."""
    if not any(e.name == NAME for e in store.list_experiments()):
        return 0
    events = store.list_events(store.get_experiment(NAME).id)
    return sum(1 for event in events if event.message == "started")


def _kill_after(driver: subprocess.Popen[bytes], store: Store, delay: float) -> None:
    """SIGKILL ``driver`` ``delay`` s after it starts driving the experiment (its first
    trials are being launched then), or once it ends."""
    before = _runs_started(store)
    wait_until(lambda: driver.poll() is not None or _runs_started(store) > before, 60,
               "the driver to start the experiment")
    end = time.monotonic() + delay
    while driver.poll() is None and time.monotonic() < end:
        time.sleep(0.002)  # the instant of the kill, not a synchronisation
    driver.send_signal(signal.SIGKILL)
    driver.wait(10)


@pytest.mark.slow
def test_kill_9_at_spread_instants_over_and_over_loses_nothing(tmp_path: Path) -> None:
    """Every second kill lets the trials of the killed driver run to their end before
    the next driver starts (their exit is then found on disk)."""
    env, path = _setup(tmp_path)
    delays = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.35, 0.6, 1.0]
    with Store(env["SWEEPLAB_DB"]) as store:
        for index, delay in enumerate(delays):
            if index and store.get_experiment(NAME).state is ExperimentState.COMPLETED:
                break
            _kill_after(_driver(env, path, first=index == 0), store, delay)
            if index % 2:
                _wait_trials_quiet(tmp_path)
        _finish(env, path, store)
        _check_nothing_lost(tmp_path, store)


def test_kill_9_between_launching_on_a_server_and_storing_it_running(
        tmp_path: Path, sshd_factory: Callable[..., Sshd], client_key: Path,
        workdir: Path) -> None:
    env, path = _setup(tmp_path, "lab")
    server = sshd_factory()
    with Store(env["SWEEPLAB_DB"]) as store:
        ServerProfiles(store).add(ServerProfile(
            "lab", "127.0.0.1", getpass.getuser(), port=server.port, auth=AuthKind.KEY,
            key_file=str(client_key), workdir=str(workdir), python=sys.executable,
            max_parallel=2))
        KnownHosts(tmp_path / "home" / "known_hosts").accept("127.0.0.1", server.port,
                                                             server.host_key)
        for index, crash in enumerate([f"{CrashPoint.INTENT_STORED.value}:1",
                                       f"{CrashPoint.STARTED_SEEN.value}:2"]):
            driver = _driver(env, path, first=index == 0, crash=crash)
            _, err = driver.communicate(timeout=120)
            assert driver.returncode == -signal.SIGKILL, \
                f"{crash}: not reached ({driver.returncode}): {err.decode()}"
        _finish(env, path, store)
        _check_nothing_lost(tmp_path, store, workdir)


def test_kill_9_between_sbatch_and_storing_the_job(tmp_path: Path, slurm: LocalSlurm) -> None:
    env, path = _setup(tmp_path, "hpc")
    env = {**env, **slurm.env}
    work = tmp_path / "work"
    with Store(env["SWEEPLAB_DB"]) as store:
        ClusterProfiles(store).add(ClusterProfile("hpc", workdir=str(work),
                                                  python=sys.executable, max_parallel=2))
        for index, crash in enumerate([f"{CrashPoint.INTENT_STORED.value}:1",
                                       f"{CrashPoint.PENDING_SEEN.value}:1",
                                       f"{CrashPoint.PENDING_SEEN.value}:2",
                                       f"{CrashPoint.STARTED_SEEN.value}:1"]):
            driver = _driver(env, path, first=index == 0, crash=crash)
            _, err = driver.communicate(timeout=120)
            assert driver.returncode == -signal.SIGKILL, \
                f"{crash}: not reached ({driver.returncode}): {err.decode()}"
        _finish(env, path, store)
        _check_nothing_lost(tmp_path, store, work)
        left = slurm.command("squeue", "--noheader", "--format=%j", check=False).stdout
        assert "sweeplab" not in left, f"jobs left in Slurm's queue: {left}"
