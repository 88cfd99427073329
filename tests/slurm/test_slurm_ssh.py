"""A cluster reached through its login node over SSH (a real sshd on this machine): the
snapshot goes up once, each trial is prepared and submitted in one round trip, logs and
states come back through one script per check; the cluster's setup runs before every
Slurm command (here it is what points the commands at the test cluster)."""

from __future__ import annotations

import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.application.wiring import known_hosts
from app.engine.records import ProcessEventKind, Snapshot, TrialSpec
from app.engine.trial import ExperimentState, TrialState
from app.remote.slurm.connect import cluster_access
from app.remote.slurm.executor import SlurmExecutor
from app.remote.slurm.profile import ClusterProfile
from app.remote.slurm.ssh_access import SshAccess
from app.remote.ssh.profile import Secrets, ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.servers import ServerProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import running, store_experiment, wait_until
from tests.slurm.slurm_support import Events, final_state
from tests.ssh.conftest import client_key, make_profile, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "make_profile", "sshd_factory", "workdir"]

TRAIN = """
import sweeplab
x = sweeplab.param("x")
for step in range(1, 4):
    sweeplab.report("loss", x + 1.0 / step, step=step)
"""


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm: LocalSlurm,
        sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]
        ) -> Iterator[tuple[Store, ClusterProfile, Sshd]]:
    """A login server (real sshd, key accepted) and a cluster that logs in through it."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    server = sshd_factory()
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ServerProfiles(store).add(make_profile(server, "login1"))
    known_hosts().accept("127.0.0.1", server.port, server.host_key)
    cluster = ClusterProfile("hpc-ssh", login="login1", workdir=str(tmp_path / "ssh work"),
                             python=sys.executable, max_parallel=3,
                             setup=f"export SLURM_CONF='{slurm.conf}'")
    ClusterProfiles(store).add(cluster)
    yield store, cluster, server
    store.close()


def test_an_optimisation_runs_on_a_cluster_behind_an_ssh_login_node(
        tmp_path: Path, lab: tuple[Store, ClusterProfile, Sshd], slurm: LocalSlurm) -> None:
    store, _cluster, _server = lab
    experiment_id = store_experiment(
        store, tmp_path, TRAIN, name="via-ssh", algorithm={"name": "random", "seed": 2},
        limits={"max_trials": 5, "max_parallel": 3}, hosts=["hpc-ssh"])
    with running(store, experiment_id, grace=1.0,
                 secrets=lambda profile: Secrets()) as (runner, pool):
        assert runner.wait(90)
    trials = store.list_trials(experiment_id)
    assert len(trials) == 5 and all(t.state is TrialState.COMPLETED for t in trials), [
        (t.number, t.state, t.error) for t in trials]
    for trial in trials:
        assert trial.host == "hpc-ssh" and trial.pid is not None
        assert [p.step for p in store.get_metrics(trial.id)] == [1, 2, 3]
        assert final_state(slurm, trial.pid) == "COMPLETED|None"
        assert stat.S_IMODE(Path(trial.trial_dir or "").stat().st_mode) == 0o700
        assert (Path(trial.trial_dir or "") / "command.sh").read_text().startswith(
            "command -v source")  # the cluster's setup runs on the compute node too
    access = pool.host("hpc-ssh").access  # type: ignore[attr-defined]
    assert isinstance(access, SshAccess) and access.uploads == 1
    assert store.get_experiment(experiment_id).state is ExperimentState.COMPLETED


def test_a_failing_setup_is_reported_in_plain_words(
        tmp_path: Path, lab: tuple[Store, ClusterProfile, Sshd]) -> None:
    store, cluster, _server = lab
    login = ServerProfiles(store).get("login1")
    broken = ClusterProfile(cluster.name, login="login1", workdir=cluster.workdir,
                            setup="module load slurm")
    access = cluster_access(broken, login, Secrets(), known_hosts())
    try:
        assert isinstance(access, SshAccess)
        access.connect(30)
        result = access.run("squeue --version", timeout=30)
        assert result.exit_code == 97
        assert "the cluster's setup command failed with status 127" in result.stderr
    finally:
        access.close()


def test_a_login_node_gone_past_its_timeout_loses_its_trials(
        lab: tuple[Store, ClusterProfile, Sshd], slurm: LocalSlurm, snap: Snapshot) -> None:
    store, cluster, server = lab
    access = cluster_access(cluster, ServerProfiles(store).get("login1"), Secrets(),
                            known_hosts())
    executor = SlurmExecutor(cluster, access, grace=1.0, tick=0.2, squeue_interval=0.5,
                             offline_timeout=2.0)
    events = Events(executor)
    job_id: int | None = None
    try:
        wait_until(lambda: executor.free_slots() == 3, 30, "the login node to answer")
        executor.submit(TrialSpec(1, 9, "{python} trial.py default", {}, snap))
        events.until(lambda seen: "ready" in events.lines(1), 30, "the trial to run")
        job_id = events.of(1, ProcessEventKind.STARTED)[0].pid
        server.kill()
        (end,) = events.ended(1, timeout=30)
        assert end.kind is ProcessEventKind.LOST and end.pid == job_id
        assert end.message == (f"hpc-ssh: the login node has not answered for 2 s; trial 1 "
                               f"is lost (Slurm job {job_id} may still run)")
        assert executor.free_slots() == 0  # offline: nothing new goes there
        assert executor.busy_reason() == "the login node of hpc-ssh does not answer"
    finally:
        executor.close()
        if job_id is not None:
            slurm.command("scancel", str(job_id), check=False)
