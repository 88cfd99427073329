"""The GUI's Workspace and other programs: it never touches a run another live program
drives, and takes up (re-attaches) the runs a dead one left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.application.workspace import ActionRefused, Workspace
from app.engine.docio import dump_text
from app.engine.events import RunnerEventKind
from app.engine.lease import Driver
from app.engine.trial import ExperimentState, TrialState
from tests.helpers import (
    experiment_doc,
    gated_trial,
    proc_state,
    store_experiment,
    wait_until,
    write_code,
)

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = Driver("sweeplab run", "lab-pc-2", 4242, "f00d")


def test_a_run_driven_elsewhere_is_left_alone_but_can_be_asked_to_stop(
        workspace: Workspace, tmp_path: Path) -> None:
    store = workspace.store
    eid = store_experiment(store, tmp_path, "print('never run')\n", name="exp")
    store.create_trial(eid, {"x": 0.5}, TrialState.RUNNING)
    store.update_experiment(eid, state=ExperimentState.RUNNING)
    assert store.claim_experiment(eid, ELSEWHERE.encode(), None)
    assert workspace.driven_elsewhere(eid) and not workspace.is_running(eid)
    assert workspace.orphans() == [], "a live driver's run is no orphan"
    config = workspace.config(eid)
    refusals = {
        "start": lambda: workspace.start(eid),
        "restart": lambda: workspace.restart(eid),
        "delete": lambda: workspace.delete(eid),
        "edit": lambda: workspace.update(eid, config),
        "reattach": lambda: workspace.start(eid, paused=True),
    }
    for action, call in refusals.items():
        with pytest.raises(ActionRefused, match=r"exp is being run by sweeplab run \(pid 4242 "
                                               r"on lab-pc-2\)"):
            call()
        assert len(store.list_trials(eid)) == 1, f"{action}: the trial is kept"
    workspace.stop(eid)
    assert store.get_experiment(eid).state is ExperimentState.STOPPED
    assert "stop requested from the Sweeplab window" in [
        e.message for e in store.list_events(eid)]
    assert store.experiment_driver(eid)[0] == ELSEWHERE.encode(), "the driver ends it itself"


@pytest.mark.parametrize("left", [ExperimentState.RUNNING, ExperimentState.PAUSED])
def test_the_window_takes_up_what_a_killed_run_left(workspace: Workspace, tmp_path: Path,
                                                    left: ExperimentState) -> None:
    store = workspace.store
    gate = tmp_path / "gate"
    doc = experiment_doc(write_code(tmp_path, gated_trial(steps=3)), name="crash",
                         limits={"max_trials": 4, "max_parallel": 2},
                         env={"GATE": str(gate)})
    (tmp_path / "crash.yaml").write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    killed = subprocess.Popen([sys.executable, "-m", "app", "run", str(tmp_path / "crash.yaml")],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        def held() -> bool:
            names = [e.name for e in store.list_experiments()]
            return "crash" in names and len([
                t for t in store.list_trials(store.get_experiment("crash").id,
                                             [TrialState.RUNNING]) if t.pid]) == 2

        wait_until(held, 60, "two trials running, held at the gate")
        assert workspace.orphans() == [], "the run's own program is alive"
        killed.send_signal(signal.SIGKILL)
        killed.wait(20)
    finally:
        if killed.poll() is None:
            killed.kill()
    eid = store.get_experiment("crash").id
    pids = {t.id: t.pid for t in store.list_trials(eid)}
    if left is ExperimentState.PAUSED:  # it had been paused before the crash
        store.update_experiment(eid, state=ExperimentState.PAUSED)
    assert [r.name for r in workspace.orphans()] == ["crash"], "a dead driver is seen at once"

    assert workspace.reattach() == [f"crash: taken up again ({left.value})"]
    assert workspace.is_running(eid) and not workspace.driven_elsewhere(eid)
    assert workspace.orphans() == []
    assert store.get_experiment(eid).state is left
    gate.touch()
    if left is ExperimentState.PAUSED:
        wait_until(lambda: all(t.state is TrialState.COMPLETED for t in store.list_trials(eid)),
                   60, "the followed trials to finish")
        assert len(store.list_trials(eid)) == 2, "paused: no new trial started"
        assert store.get_experiment(eid).state is ExperimentState.PAUSED
        workspace.resume(eid)
    assert workspace.wait(eid, 60)
    assert store.get_experiment(eid).state is ExperimentState.COMPLETED
    trials = store.list_trials(eid)
    assert len(trials) == 4 and all(t.state is TrialState.COMPLETED for t in trials)
    for trial_id, pid in pids.items():
        assert store.get_trial(trial_id).pid == pid, "followed, not run again"
        assert proc_state(pid) in (None, "Z")
    assert store.experiment_driver(eid) == (None, None)


@pytest.mark.parametrize("left", [ExperimentState.RUNNING, ExperimentState.PAUSED])
def test_stop_asks_a_run_left_by_a_dead_driver_to_stop_as_sweeplab_stop_does(
        workspace: Workspace, tmp_path: Path, left: ExperimentState) -> None:
    """The window's Stop and ``sweeplab stop`` are one rule (Workspace.stop): a run no
    runner here drives, live driver or not, is asked through the database; an idle
    experiment is left as it is."""
    store = workspace.store
    eid = store_experiment(store, tmp_path, "print('never run')\n", name="orphan")
    store.update_experiment(eid, state=left)
    assert not workspace.driven_elsewhere(eid) and workspace.orphans()
    workspace.stop(eid)
    assert store.get_experiment(eid).state is ExperimentState.STOPPED
    assert "stop requested from the Sweeplab window" in [
        e.message for e in store.list_events(eid)]
    events = len(store.list_events(eid))
    workspace.stop(eid)
    assert len(store.list_events(eid)) == events, "a stopped experiment is not asked again"


def test_the_run_lets_the_experiment_go_before_its_end_is_published(
        workspace: Workspace, tmp_path: Path) -> None:
    """Whoever acts on a run's end at once (the window's Requeue right after the last
    trial) finds the experiment free: its lease is released before the final state is
    published, not after (the window once said "being run by another program" of its
    own run that had just ended)."""
    store = workspace.store
    eid = store_experiment(store, tmp_path, "import sweeplab\nsweeplab.report('loss', 1.0)\n",
                           limits={"max_trials": 1, "max_parallel": 1})
    holders: list[str | None] = []

    def on_event(event: Any) -> None:
        if event.kind is RunnerEventKind.EXPERIMENT and event.state is ExperimentState.COMPLETED:
            holders.append(store.experiment_driver(eid)[0])

    workspace.subscribe(on_event)
    workspace.start(eid)
    wait_until(lambda: bool(holders) and not workspace.is_running(eid), timeout=60)
    assert store.get_experiment(eid).state is ExperimentState.COMPLETED
    assert holders == [None], "the lease was still held when the end was published"
