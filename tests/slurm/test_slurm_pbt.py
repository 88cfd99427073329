"""Population-based training on a real Slurm: each segment is a batch job of its own
(folder ``<trial id>.<segment>``, job ``sweeplab-<experiment>-<trial>.<segment>``)
whose ``restore/`` holds the donor's checkpoint, copied on the cluster when the donor
ran there, carried through the app when it ran on another host."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.application.wiring import known_hosts
from app.engine.experiment import experiment_from_dict
from app.engine.pbt import Segment
from app.engine.records import LaunchClaim, TrialSpec
from app.engine.trial import ExperimentState
from app.remote.launcher import pack_folder, unpack_folder
from app.remote.slurm.connect import cluster_access
from app.remote.slurm.executor import SlurmExecutor
from app.remote.slurm.profile import ClusterProfile
from app.remote.snapshot import take_snapshot
from app.remote.ssh.profile import Secrets, ServerProfile
from app.store.clusters import ClusterProfiles
from app.store.servers import ServerProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import TRAIN, check_run, pbt_fields
from tests.pbt.test_pbt_crash import NAME, kill_and_resume, setup_crashy
from tests.slurm.slurm_support import Events, final_state, make_executor, slurm_state
from tests.ssh.conftest import client_key, make_profile, sshd_factory, workdir
from tests.ssh.sshd import Sshd

__all__ = ["client_key", "make_profile", "sshd_factory", "workdir"]

STEPS = 16
"""Long enough that an exploit decided from a line read late (a loaded machine, a job
read each tick) still finds its trial running."""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm: LocalSlurm) -> Iterator[Store]:
    """A store whose cluster ``hpc`` is the test Slurm (its work folder has a space)."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as db:
        yield db


def _run(tmp_path: Path, store: Store, hosts: list[str], seed: int, pace: float = 0.3,
         **options: Any) -> tuple[int, list[Segment]]:
    """A PBT run of 4 trials over ``hosts``; returns its id and exploits (checked by
    ``check_run``: each segment ran once, from its donor's checkpoint step); ``options``
    go to the runner."""
    starts = tmp_path / "starts"
    code = write_code(tmp_path, TRAIN)
    doc = experiment_doc(code, hosts=hosts, **pbt_fields({"STARTS": str(starts), "PACE": str(pace)},
                                                          seed=seed, steps=STEPS))
    config = experiment_from_dict(doc, code)
    experiment = store.create_experiment(config.name, config.to_dict())
    with running(store, experiment.id, grace=5.0, **options) as (runner, _):
        wait_until(lambda: runner.wait(0), timeout=300, what="the run to end")
    assert store.get_experiment(experiment.id).state is ExperimentState.COMPLETED
    segments = check_run(store, experiment.id, starts, STEPS)
    exploits = [s for s in segments if s.is_exploit]
    assert exploits, "no trial exploited another"
    for segment in exploits:  # its restore/ is the donor's checkpoint of that step
        assert segment.trial_dir is not None
        assert (Path(segment.trial_dir) / "restore" / "state.json").is_file()
    return experiment.id, exploits


def _job_name(slurm: LocalSlurm, folder: str) -> str:
    job_id = (Path(folder) / "job_id").read_text().strip()
    return slurm.command("squeue", "--noheader", "--states=all", f"--jobs={job_id}",
                         "--format=%j").stdout.strip()


def test_pbt_on_slurm_runs_each_segment_as_a_job_restoring_the_donors_checkpoint(
        tmp_path: Path, store: Store, slurm: LocalSlurm) -> None:
    work = tmp_path / "cluster work"
    ClusterProfiles(store).add(ClusterProfile("hpc", workdir=str(work), python=sys.executable,
                                              max_parallel=4))
    experiment_id, exploits = _run(tmp_path, store, ["hpc"], seed=4)
    assert {t.host for t in store.list_trials(experiment_id)} == {"hpc"}
    for segment in exploits:  # copied on the cluster, into a folder and job of its own
        assert segment.trial_dir == f"{work}/{experiment_id}/{segment.trial_id}.{segment.index}"
        assert segment.restore_from is not None and segment.restore_from.startswith(str(work))
        assert _job_name(slurm, segment.trial_dir) == (
            f"sweeplab-{experiment_id}-{segment.trial_id}.{segment.index}")
    left = slurm.command("squeue", "--noheader", "--format=%j", check=False).stdout
    assert "sweeplab" not in left, f"jobs left in Slurm's queue: {left}"


def test_a_checkpoint_goes_between_slurm_and_this_machine_through_the_app(
        tmp_path: Path, store: Store, slurm: LocalSlurm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two trials on each host: a donor's own host is often full, so its checkpoint is
    carried to the other one (packed on the cluster, or unpacked into a job's folder)."""
    monkeypatch.setenv("SWEEPLAB_LOCAL_SLOTS", "2")
    work = tmp_path / "cluster work"
    ClusterProfiles(store).add(ClusterProfile("hpc", workdir=str(work), python=sys.executable,
                                              max_parallel=2))
    _, exploits = _run(tmp_path, store, ["local", "hpc"], seed=2)
    across = [s for s in exploits
              if (s.trial_dir or "").startswith(str(work))
              != (s.restore_from or "").startswith(str(work))]
    assert across, "no exploit took a checkpoint from the other (full) host"
    for segment in across:  # unpacked there; the archive brought is gone
        assert (Path(segment.trial_dir or "") / "restore" / "state.json").is_file()
        assert not (Path(segment.trial_dir or "") / "restore.tar.gz").exists()


def test_kill_9_mid_exploit_on_slurm_then_resume_loses_nothing(
        tmp_path: Path, slurm: LocalSlurm) -> None:
    """``tests/pbt/test_pbt_crash.py``'s kills (a segment stored, its folder stored
    before ``sbatch``, a segment's exit and start seen) with every trial a job: a
    resume claims a segment's folder ``<trial>.<segment>``, cancels its job by that
    name when the claim wins, and carries the segment out once."""
    env, path = setup_crashy(tmp_path, hosts=["hpc"])
    work = tmp_path / "cluster work"
    with Store(env["SWEEPLAB_DB"]) as store:
        ClusterProfiles(store).add(ClusterProfile("hpc", workdir=str(work),
                                                  python=sys.executable, max_parallel=4))
        kill_and_resume(tmp_path, {**env, **slurm.env}, path, store, work)
        segments = [s for s in store.segments(store.get_experiment(NAME).id) if s.is_exploit]
        assert all((Path(s.trial_dir or "") / "restore" / "state.json").is_file()
                   for s in segments)
    left = slurm.command("squeue", "--noheader", "--format=%j", check=False).stdout
    assert "sweeplab" not in left, f"jobs left in Slurm's queue: {left}"


@pytest.mark.parametrize("folder", ["3", "3.2"])
def test_a_resume_that_wins_a_segments_claim_cancels_its_queued_job(
        tmp_path: Path, slurm: LocalSlurm, folder: str) -> None:
    """A job ``sbatch`` took before the crash, held in the queue, of the trial (or the
    segment) whose folder the claim wins: it is cancelled by its name."""
    executor = make_executor(tmp_path / "work")
    trial_dir = tmp_path / "work" / "7" / folder
    trial_dir.mkdir(parents=True)
    name = f"sweeplab-7-{folder}"
    job_id = slurm.command("sbatch", "--parsable", "--hold", f"--job-name={name}",
                           f"--chdir={trial_dir}", "--wrap=true").stdout.strip()
    other = slurm.command("sbatch", "--parsable", "--hold", "--job-name=sweeplab-7-3.1",
                          f"--chdir={trial_dir}", "--wrap=true").stdout.strip()
    try:
        assert executor.claim(str(trial_dir)) is LaunchClaim.ABANDONED
        assert final_state(slurm, int(job_id)).startswith("CANCELLED")
        assert slurm_state(slurm, int(other)).startswith("PENDING")  # another segment's
    finally:
        slurm.command("scancel", job_id, other, check=False)
        executor.close()


def _login_cluster(tmp_path: Path, store: Store, slurm: LocalSlurm,
                   sshd_factory: Callable[..., Sshd],
                   make_profile: Callable[..., ServerProfile], **fields: Any) -> ClusterProfile:
    """A cluster ``hpc-ssh`` on the test Slurm whose login node is a real sshd, saved."""
    server = sshd_factory()
    ServerProfiles(store).add(make_profile(server, "login1"))
    known_hosts().accept("127.0.0.1", server.port, server.host_key)
    cluster = ClusterProfile("hpc-ssh", login="login1", workdir=str(tmp_path / "ssh work"),
                             python=sys.executable, setup=f"export SLURM_CONF='{slurm.conf}'",
                             **fields)
    ClusterProfiles(store).add(cluster)
    return cluster


def test_pbt_on_a_cluster_behind_an_ssh_login_node(
        tmp_path: Path, store: Store, slurm: LocalSlurm, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    """The login node's one script per submit copies the donor's checkpoint there."""
    cluster = _login_cluster(tmp_path, store, slurm, sshd_factory, make_profile,
                             max_parallel=4)
    # a step each second: the trials' folders are read over SSH once a second
    _, exploits = _run(tmp_path, store, ["hpc-ssh"], seed=4, pace=1.0,
                       secrets=lambda p: Secrets())
    for segment in exploits:
        assert (segment.trial_dir or "").startswith(cluster.workdir)
        assert (segment.restore_from or "").startswith(cluster.workdir)


SHOW = """
import os
print("RESTORED", open(os.environ["SWEEPLAB_RESTORE_DIR"] + "/state.json").read(),
      os.environ["SWEEPLAB_START_STEP"], flush=True)
"""


def test_a_checkpoint_reaches_a_cluster_behind_ssh_and_leaves_it_through_the_app(
        tmp_path: Path, store: Store, slurm: LocalSlurm, sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    """Segments submitted through an SSH login node: one copies a folder on the cluster
    (``restore_from``), one unpacks a checkpoint brought from elsewhere
    (``restore_archive``); a folder there comes back packed (``pack_folder``)."""
    cluster = _login_cluster(tmp_path, store, slurm, sshd_factory, make_profile,
                             max_parallel=2)
    donor = tmp_path / "donor"
    donor.mkdir()
    (donor / "state.json").write_text("step-7")
    code = write_code(tmp_path, SHOW)
    snapshot = take_snapshot(Path(code), tmp_path / "snapshots")
    access = cluster_access(cluster, ServerProfiles(store).get("login1"), Secrets(),
                            known_hosts())
    executor = SlurmExecutor(cluster, access, grace=1.0, tick=0.2, squeue_interval=0.5)
    events = Events(executor)
    command = "{python} train.py"
    try:
        wait_until(lambda: executor.free_slots() == 2, 30, "the login node to answer")
        executor.submit(TrialSpec(5, 9, command, {}, snapshot, segment=1, start_step=7,
                                  restore_from=str(donor)))
        executor.submit(TrialSpec(6, 9, command, {}, snapshot, segment=2, start_step=7,
                                  restore_archive=pack_folder(donor)))
        assert [e.exit_code for e in events.ended(5, 6, timeout=60)] == [0, 0], events.seen
        for trial, folder in ((5, "5.1"), (6, "6.2")):
            assert events.lines(trial) == ["RESTORED step-7 7"]
            assert (Path(cluster.workdir) / "9" / folder / "restore" / "state.json").is_file()
        assert not (Path(cluster.workdir) / "9" / "6.2" / "restore.tar.gz").exists()
        back = tmp_path / "back"
        unpack_folder(executor.pack_folder(f"{cluster.workdir}/9/6.2/restore"), back)
        assert (back / "state.json").read_text() == "step-7"
        with pytest.raises(OSError, match="hpc-ssh: cannot read"):
            executor.pack_folder(f"{cluster.workdir}/9/none")
    finally:
        executor.close()
