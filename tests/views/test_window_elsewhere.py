"""The window and runs of other programs: a ``sweeplab run`` in a terminal is watched
live and can be stopped from the window; runs a killed program left are taken up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.engine.docio import dump_text
from app.engine.trial import ExperimentState, TrialState
from app.store.store import Store
from tests.helpers import (
    experiment_doc,
    gated_trial,
    store_experiment,
    wait_until,
    write_code,
)
from tests.views.window_helpers import open_window

ROOT = Path(__file__).resolve().parents[2]


def _terminal_run(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """``sweeplab run`` of a gated experiment on the window's database, in its own process."""
    doc = experiment_doc(write_code(tmp_path, gated_trial(steps=3)), name=name,
                         limits={"max_trials": 4, "max_parallel": 2},
                         env={"GATE": str(tmp_path / "gate")})
    (tmp_path / f"{name}.yaml").write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'gui.db'}"}
    return subprocess.Popen([sys.executable, "-m", "app", "run", str(tmp_path / f"{name}.yaml")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_a_run_from_a_terminal_is_watched_live_and_stopped_from_the_window(
        qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        terminal = _terminal_run(tmp_path, "from-terminal")
        try:
            qtbot.waitUntil(lambda: any(
                window.experiments.experiment_row(i).record.name == "from-terminal"
                for i in range(window.experiments.rowCount())), timeout=60_000)
            row = next(i for i in range(window.experiments.rowCount())
                       if window.experiments.experiment_row(i).record.name == "from-terminal")
            window.list.setCurrentIndex(window.experiments.index(row))
            qtbot.waitUntil(lambda: sum(t.state is TrialState.RUNNING
                                        for t in window.held_trials()) == 2, timeout=60_000)
            qtbot.waitUntil(lambda: "run by sweeplab run (pid "
                            f"{terminal.pid} on {socket.gethostname()})"
                            in window.status.text(), timeout=20_000)
            actions = window.actions_by_name
            assert not actions["start"].isEnabled() and not actions["restart"].isEnabled()
            assert not actions["delete"].isEnabled() and actions["stop"].isEnabled()
            assert "another program runs it" in actions["start"].toolTip()
            buffers = window.panels.charts.data.buffers
            qtbot.waitUntil(lambda: all(buffers.size(t.id, "loss") == 1
                                        for t in window.held_trials()), timeout=20_000)
            actions["stop"].trigger()
            assert terminal.wait(60) is not None
            qtbot.waitUntil(lambda: window._record is not None
                            and window._record.state is ExperimentState.STOPPED,
                            timeout=20_000)
            qtbot.waitUntil(lambda: all(t.state is TrialState.STOPPED
                                        for t in window.held_trials()), timeout=20_000)
            assert window.trial_count() == 2
            assert [buffers.size(t.id, "loss") for t in window.held_trials()] == [1, 1], \
                "each point shown once"
            # free again once the watcher's next look sees that program let go
            qtbot.waitUntil(actions["start"].isEnabled, timeout=10_000)
            assert "run by" not in window.status.text()
        finally:
            if terminal.poll() is None:
                terminal.kill()
                terminal.wait(20)


def test_a_run_taken_while_the_window_opened_the_experiment_shows_who_runs_it(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window read the experiment (created, nobody's) just before a terminal's run
    took it; its trials were read after that: the status still learns who runs it."""
    with open_window(qtbot, tmp_path) as window:
        store = window.workspace.store
        experiment = store_experiment(store, tmp_path, "pass\n")
        before = store.get_experiment(experiment)
        with Store(f"sqlite:///{tmp_path / 'gui.db'}") as terminal:
            assert terminal.claim_experiment(experiment, "t0 4242@lab-pc sweeplab run", None)
            terminal.update_experiment(experiment, state=ExperimentState.RUNNING)
        reads = [before]  # show_experiment's read came first
        read = window.workspace.experiment
        monkeypatch.setattr(window.workspace, "experiment",
                            lambda key: reads.pop() if reads else read(key))
        window.show_experiment(experiment)
        qtbot.waitUntil(lambda: window.status.text().startswith("running ·") and
                        "run by sweeplab run (pid 4242 on lab-pc)" in window.status.text(),
                        timeout=20_000)
        assert not window.actions_by_name["start"].isEnabled()


def test_the_buttons_ask_who_runs_the_experiment_without_reading_the_store(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enabling the buttons runs at every click and every keystroke in the space: who
    drives the experiment is what the watcher saw last, never a read on the GUI thread
    (a round trip each on PostgreSQL)."""
    with open_window(qtbot, tmp_path) as window:
        store = window.workspace.store
        experiment = store_experiment(store, tmp_path, "pass\n")
        assert store.claim_experiment(experiment, "t0 4242@lab-pc sweeplab run", None)
        store.update_experiment(experiment, state=ExperimentState.RUNNING)
        window.show_experiment(experiment)
        qtbot.waitUntil(lambda: not window.is_loading(), timeout=20_000)

        reads = store.experiment_driver

        def read(experiment_id: int) -> tuple[str | None, datetime | None]:
            if threading.current_thread() is threading.main_thread():
                raise AssertionError("the GUI thread read who drives the experiment")
            return reads(experiment_id)  # the watcher's polling thread

        monkeypatch.setattr(store, "experiment_driver", read)
        window._update_actions()
        assert not window.actions_by_name["start"].isEnabled()
        assert "another program runs it" in window.actions_by_name["start"].toolTip()
        assert window.panels.space.is_read_only()


def test_runs_a_killed_program_left_are_taken_up_when_the_window_opens(
        qtbot: QtBot, tmp_path: Path) -> None:
    terminal = _terminal_run(tmp_path, "crashed")
    store = Store(f"sqlite:///{tmp_path / 'gui.db'}")
    try:
        def held() -> bool:
            if "crashed" not in [e.name for e in store.list_experiments()]:
                return False
            trials = store.list_trials(store.get_experiment("crashed").id, [TrialState.RUNNING])
            return len([t for t in trials if t.pid]) == 2

        wait_until(held, 60, "two trials held at the gate")
        terminal.send_signal(signal.SIGKILL)
        terminal.wait(20)
    finally:
        if terminal.poll() is None:
            terminal.kill()
        store.close()
    with open_window(qtbot, tmp_path, take_up=True) as window:
        eid = window.workspace.store.get_experiment("crashed").id
        qtbot.waitUntil(lambda: window.workspace.is_running(eid), timeout=30_000)
        qtbot.waitUntil(lambda: "crashed: taken up again (running)"
                        in window.statusBar().currentMessage(), timeout=20_000)
        (tmp_path / "gate").touch()
        assert window.workspace.wait(eid, 60)
        qtbot.waitUntil(lambda: window._record is not None
                        and window._record.state is ExperimentState.COMPLETED, timeout=20_000)
        trials = window.workspace.trials(eid)
        assert len(trials) == 4 and all(t.state is TrialState.COMPLETED for t in trials)
