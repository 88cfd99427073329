"""Kill -9 the app mid-run with trials running as Slurm jobs, resume, and lose nothing:
the jobs run on, the resumed run follows each from its stored log offset (by the job id
stored as the trial's pid), and no trial runs twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.engine.docio import dump_text
from app.engine.trial import ExperimentState, TrialState
from app.remote.slurm.profile import ClusterProfile
from app.store.clusters import ClusterProfiles
from app.store.store import Store
from devtools.localcluster import LocalSlurm
from tests.helpers import experiment_doc, gated_trial, trials_of, wait_until, write_code
from tests.slurm.slurm_support import slurm_state

ROOT = Path(__file__).resolve().parents[2]
TRAIN = gated_trial(steps=20, hold_at=5)  # held at step 5 while the app dies


def _run_on_hpc(tmp_path: Path, slurm: LocalSlurm, script: str, cluster: ClusterProfile,
                **fields: Any) -> tuple[dict[str, str], Store, subprocess.Popen[bytes]]:
    """Save ``cluster``, then ``sweeplab run`` (its own process) an experiment of ``script``
    on it, gated by ``tmp_path/gate``; returns the app's environment, the store, the app."""
    env = {**slurm.env, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    store = Store(env["SWEEPLAB_DB"])
    ClusterProfiles(store).add(cluster)
    path = tmp_path / "experiment.yaml"
    path.write_text(dump_text(experiment_doc(
        write_code(tmp_path, script), env={"GATE": str(tmp_path / "gate")},
        hosts=[cluster.name], **fields)))
    app = subprocess.Popen([sys.executable, "-m", "app", "run", str(path)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env, store, app


def _resume_then_open_the_gate(env: dict[str, str], store: Store, name: str,
                               gate: Path) -> None:
    """``sweeplab resume NAME``; once its run has started, let the trials go on."""
    experiment_id = store.get_experiment(name).id
    resumed = subprocess.Popen([sys.executable, "-m", "app", "resume", name], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    wait_until(lambda: [e.message for e in store.list_events(experiment_id)].count(
        "started") == 2, 60, "the resumed run to start")
    gate.touch()
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, output


def test_kill_9_the_app_then_resume_follows_every_job_again(
        tmp_path: Path, slurm: LocalSlurm) -> None:
    env, store, app = _run_on_hpc(tmp_path, slurm, TRAIN, ClusterProfile(
        "hpc", workdir=str(tmp_path / "work"), python=sys.executable, max_parallel=3),
        name="crash", algorithm={"name": "random", "seed": 3},
        limits={"max_trials": 4, "max_parallel": 3})
    try:
        def held() -> bool:
            trials = trials_of(store, "crash")
            return len(trials) == 3 and all(t.state is TrialState.RUNNING
                                            and len(store.get_metrics(t.id)) >= 5
                                            for t in trials)

        wait_until(held, 60, "3 trials running, each with 5 points stored")
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        experiment_id = store.get_experiment("crash").id
        before = {t.id: t.pid for t in store.list_trials(experiment_id)}
        for job_id in before.values():
            assert job_id is not None and slurm_state(slurm, job_id) == "RUNNING|None", \
                "the jobs outlive the app"
        _resume_then_open_the_gate(env, store, "crash", tmp_path / "gate")
    finally:
        (tmp_path / "gate").touch()
        if app.poll() is None:
            app.kill()
    experiment = store.get_experiment("crash")
    after = store.list_trials(experiment.id)
    steps = {t.id: sorted(p.step or 0 for p in store.get_metrics(t.id, "loss")) for t in after}
    store.close()
    assert experiment.state is ExperimentState.COMPLETED
    assert len(after) == 4 and all(t.state is TrialState.COMPLETED for t in after), [
        (t.number, t.state, t.error) for t in after]
    for trial in after:
        log = (Path(trial.trial_dir or "") / "output.log").read_text()
        assert log.count("#sweeplab") == 20 and trial.log_offset == len(log.encode())
        assert steps[trial.id] == list(range(1, 21)), "no point lost or stored twice"
        if trial.id in before:
            assert trial.pid == before[trial.id], "followed again, not submitted again"


def test_a_job_still_in_the_queue_when_the_app_died_is_followed_not_submitted_again(
        tmp_path: Path, slurm: LocalSlurm) -> None:
    env, store, app = _run_on_hpc(tmp_path, slurm, gated_trial(steps=3), ClusterProfile(
        "hpc", workdir=str(tmp_path / "work"), python=sys.executable, max_parallel=2,
        cpus_per_trial=slurm.cpus),  # one job fills the node: the next one waits
        name="queued", limits={"max_trials": 2, "max_parallel": 2})
    try:
        def one_runs_one_waits() -> bool:
            trials = trials_of(store, "queued")
            states = sorted(t.state.value for t in trials)
            return states == ["queued", "running"] and all(t.pid for t in trials)

        wait_until(one_runs_one_waits, 60, "one job running and one waiting with its job id")
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        experiment_id = store.get_experiment("queued").id
        waiting = next(t for t in store.list_trials(experiment_id)
                       if t.state is TrialState.QUEUED)
        assert waiting.pid is not None and waiting.trial_dir
        assert slurm_state(slurm, waiting.pid).startswith("PENDING")
        _resume_then_open_the_gate(env, store, "queued", tmp_path / "gate")
    finally:
        (tmp_path / "gate").touch()
        if app.poll() is None:
            app.kill()
    after = store.list_trials(store.get_experiment("queued").id)
    steps = [p.step for p in store.get_metrics(waiting.id, "loss")]
    store.close()
    assert len(after) == 2, "the waiting trial was not submitted again"
    assert all(t.state is TrialState.COMPLETED and t.rerun_of is None for t in after), [
        (t.number, t.state, t.error) for t in after]
    followed = next(t for t in after if t.id == waiting.id)
    assert followed.pid == waiting.pid, "its own job ran"
    assert steps == [1, 2, 3], "each point once"
