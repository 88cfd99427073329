"""Population-based training on a real Slurm: each segment is a batch job of its own
(folder ``<trial id>.<segment>``, job ``sweeplab-<experiment>-<trial>.<segment>``)
whose ``restore/`` holds the donor's checkpoint, copied on the cluster when the donor
ran there, carried through the app when it ran on another host."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.experiment import experiment_from_dict
from app.engine.pbt import Segment
from app.engine.records import LaunchClaim
from app.engine.trial import ExperimentState
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import experiment_doc, running, wait_until, write_code
from tests.pbt.pbt_support import TRAIN, check_run, pbt_fields
from tests.pbt.test_pbt_crash import NAME, kill_and_resume, setup_crashy
from tests.slurm.slurm_support import final_state, make_executor, slurm_state

STEPS = 16
"""Long enough that an exploit decided from a line read late (a loaded machine, a job
read each tick) still finds its trial running."""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm: LocalSlurm) -> Iterator[Store]:
    """A store whose cluster ``hpc`` is the test Slurm (its work folder has a space)."""
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    with Store(f"sqlite:///{tmp_path / 'db.sqlite'}") as db:
        yield db


def _run(tmp_path: Path, store: Store, hosts: list[str], seed: int) -> tuple[int, list[Segment]]:
    """A PBT run of 4 trials over ``hosts``; returns its id and exploits (checked by
    ``check_run``: each segment ran once, from its donor's checkpoint step)."""
    starts = tmp_path / "starts"
    code = write_code(tmp_path, TRAIN)
    doc = experiment_doc(code, hosts=hosts, **pbt_fields({"STARTS": str(starts), "PACE": "0.3"},
                                                          seed=seed, steps=STEPS))
    config = experiment_from_dict(doc, code)
    experiment = store.create_experiment(config.name, config.to_dict())
    with running(store, experiment.id, grace=5.0) as (runner, _):
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
