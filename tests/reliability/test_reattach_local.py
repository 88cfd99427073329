"""Kill -9 the runner mid-run, resume, and lose nothing: local trials are re-attached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.engine.docio import dump_text
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.run.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """
import os, pathlib, time, sweeplab
x = sweeplab.param("x")
gate = pathlib.Path(os.environ["GATE"])
for step in range(1, 41):
    sweeplab.report("loss", x + 1.0 / step, step=step)
    if step == 5:  # hold here until the test has killed the runner
        while not gate.exists():
            time.sleep(0.01)
    time.sleep(0.01)
"""


def _experiment(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(TRAIN))
    doc = {
        "version": 1, "name": "crash", "code_dir": str(code), "command": "{python} train.py",
        "kpi": {"name": "loss", "goal": "min"},
        "space": {"version": 1, "space": [
            {"name": "x", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.0, "max": 1.0, "default": 0.5}]},
        "algorithm": {"name": "random", "seed": 3},
        "limits": {"max_trials": 6, "max_parallel": 4},
        "env": {"GATE": str(tmp_path / "gate")},
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(dump_text(doc))
    return path


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("trials_end_first", [True, False],
                         ids=["trials-end-before-resume", "trials-run-on-after-resume"])
def test_kill_9_the_runner_then_resume_loses_and_repeats_nothing(
        tmp_path: Path, trials_end_first: bool) -> None:
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}", "SWEEPLAB_LOCAL_SLOTS": "4"}
    path = _experiment(tmp_path)
    runner = subprocess.Popen([sys.executable, "-m", "app", "run", str(path)], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(env["SWEEPLAB_DB"])
    try:
        def held() -> bool:
            trials = store.list_trials(store.get_experiment("crash").id) \
                if store.list_experiments() else []
            return len(trials) == 4 and all(
                t.state is TrialState.RUNNING and len(store.get_metrics(t.id)) >= 5
                for t in trials)

        wait_until(held, 60, "4 trials running, each with 5 points stored")
        trials = store.list_trials(store.get_experiment("crash").id)
        pids = {t.id: t.pid for t in trials}
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        assert all(_state(pid) in ("S", "R") for pid in pids.values() if pid), \
            "the trials outlive their runner"
        experiment_id = store.get_experiment("crash").id
        if trials_end_first:
            (tmp_path / "gate").touch()
            wait_until(lambda: all(_state(pid) in (None, "Z") for pid in pids.values() if pid),
                       60, "the trials to finish with no runner watching")
        resumed = subprocess.Popen([sys.executable, "-m", "app", "resume", "crash"], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        if not trials_end_first:  # the new runner is up (and follows them) before they go on
            wait_until(lambda: [e.message for e in store.list_events(experiment_id)].count(
                "started") == 2, 60, "the resumed runner to start")
            assert all(_state(pid) in ("S", "R") for pid in pids.values() if pid)
            (tmp_path / "gate").touch()
        output, _ = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, output
        experiment = store.get_experiment("crash")
        assert experiment.state is ExperimentState.COMPLETED
        after = store.list_trials(experiment.id)
        assert len(after) == 6, "each of the 6 trials ran once: none repeated, none lost"
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
    finally:
        if runner.poll() is None:
            runner.kill()
        store.close()
