"""Notifications: an optimisation ended (real runs), a lab server went offline (real sshd)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.engine.experiment import load_experiment
from app.engine.records import TrialRecord
from app.engine.trial import ExperimentState, TrialState
from app.remote.ssh.executor import HostStatus
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import ServerProfile
from app.store.servers import ServerProfiles
from app.views.main_window import MainWindow
from app.views.notify import DesktopNotifier, Notification, NotificationKind, NotificationWatcher
from tests.ssh.conftest import client_key, make_profile, sshd_factory, workdir
from tests.ssh.sshd import Sshd
from tests.views.test_main_window import quadratic
from tests.views.window_helpers import Recorder, open_window

__all__ = ["client_key", "make_profile", "sshd_factory", "workdir"]

WAIT_MS = 60_000


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, recorder: Recorder,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("SWEEPLAB_HOME", str(tmp_path / "home"))
    with open_window(qtbot, tmp_path, notifier=recorder) as win:
        yield win


def of_kind(recorder: Recorder, kind: NotificationKind) -> list[Notification]:
    return [n for n in recorder.sent if n.kind is kind]


def test_stopping_then_finishing_an_optimisation_notifies_each_time(
        qtbot: QtBot, window: MainWindow, recorder: Recorder, tmp_path: Path) -> None:
    folder = quadratic(tmp_path, 3, "0.05")
    window.workspace.create(load_experiment(folder / "experiment.yaml"))
    window.reload_experiments()
    experiment_id = window.current_id or 0
    with qtbot.waitSignal(window.run_control.tasks.finished, timeout=30_000):
        window.actions_by_name["start"].trigger()
    qtbot.waitUntil(lambda: any(t.state is TrialState.RUNNING
                                for t in window.workspace.trials(experiment_id)), timeout=WAIT_MS)
    assert recorder.sent == [], "starting is no news"
    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: len(recorder.sent) == 1, timeout=WAIT_MS)
    stopped = recorder.sent[0]
    assert stopped.kind is NotificationKind.FINISHED and not stopped.warning
    assert stopped.title == "Optimisation stopped: quadratic-demo"

    qtbot.waitUntil(lambda: window.actions_by_name["resume"].isEnabled(), timeout=WAIT_MS)
    window.actions_by_name["resume"].trigger()
    qtbot.waitUntil(lambda: len(recorder.sent) == 2, timeout=WAIT_MS)
    finished = recorder.sent[1]
    assert window.workspace.experiment(experiment_id).state is ExperimentState.COMPLETED
    assert finished.title == "Optimisation finished: quadratic-demo"
    assert finished.message, "the runner's closing words are the message"


def test_a_server_going_offline_in_the_servers_window_notifies_once(
        qtbot: QtBot, window: MainWindow, recorder: Recorder, tmp_path: Path,
        sshd_factory: Callable[..., Sshd],
        make_profile: Callable[..., ServerProfile]) -> None:
    server = sshd_factory()
    hosts = KnownHosts(tmp_path / "home" / "known_hosts")
    hosts.accept("127.0.0.1", server.port, server.host_key)
    ServerProfiles(window.workspace.store).add(make_profile(server, name="lab1"))
    dialog = window.open_servers()
    try:
        qtbot.waitUntil(lambda: (status := dialog.status_of("lab1")) is not None
                        and status.online, timeout=WAIT_MS)
        assert recorder.sent == []
        server.kill()
        qtbot.waitUntil(lambda: len(recorder.sent) == 1, timeout=WAIT_MS)
        offline = recorder.sent[0]
        assert offline.kind is NotificationKind.SERVER_OFFLINE and offline.warning
        assert offline.title == "Server lab1 is offline"
        assert not offline.message.startswith("lab1: ")
        # the next refresh finds it offline still: no second notification
        with qtbot.waitSignal(dialog.monitor.statusChanged, timeout=WAIT_MS):
            pass
        assert len(recorder.sent) == 1
    finally:
        closer = dialog.monitor.close()
        closer.join(30)
        assert not closer.is_alive()
        dialog.close()


def lost_on(host: str, number: int, state: TrialState = TrialState.LOST) -> TrialRecord:
    return TrialRecord(id=number, experiment_id=1, number=number, state=state, params={},
                       created_at=datetime(2024, 1, 1, tzinfo=UTC), host=host,
                       error=f"server {host} has not answered for 60 s; trial {number} is "
                             "lost (it may still be running there)\nsecond line")


def test_lost_trials_tell_of_an_offline_server_once_until_it_is_back() -> None:
    recorder = Recorder()
    watcher = NotificationWatcher(recorder, lambda _eid: "exp")
    watcher.on_trial(lost_on("gpu1", 1))
    watcher.on_trial(lost_on("gpu1", 2))
    assert [n.title for n in recorder.sent] == ["Server gpu1 is offline"]
    assert recorder.sent[0].message == ("server gpu1 has not answered for 60 s; trial 1 is "
                                        "lost (it may still be running there)")
    watcher.on_trial(lost_on("local", 3))  # this machine: not a server
    watcher.on_trial(lost_on("gpu1", 4, TrialState.RUNNING))  # back: a trial runs there
    watcher.on_trial(lost_on("gpu1", 5))
    assert len(recorder.sent) == 2
    # the Servers window had seen it offline already: a LOST trial adds nothing
    watcher.on_server_status(HostStatus("gpu2", True, 0))
    watcher.on_server_status(HostStatus("gpu2", False, 0, error="gpu2: connection refused"))
    watcher.on_trial(lost_on("gpu2", 6))
    assert [n.message for n in recorder.sent[2:]] == ["connection refused"]
    # a server never seen online (offline when the window opened) is no news
    watcher.on_server_status(HostStatus("gpu3", False, 0, error="gpu3: no route"))
    assert len(recorder.sent) == 3


def test_experiment_states_that_notify() -> None:
    recorder = Recorder()
    names = {1: "alpha"}
    watcher = NotificationWatcher(recorder, lambda eid: names[eid])
    for state in (None, ExperimentState.RUNNING, ExperimentState.PAUSED, ExperimentState.DRAFT):
        watcher.on_experiment(1, state, "created")
    assert recorder.sent == []
    watcher.on_experiment(1, ExperimentState.FAILED, "the runner failed: boom")
    watcher.on_experiment(2, ExperimentState.COMPLETED, "")  # deleted meanwhile: no name
    assert [(n.title, n.message, n.warning) for n in recorder.sent] == [
        ("Optimisation failed: alpha", "the runner failed: boom", True),
        ("Optimisation finished: experiment 2", "completed", False)]


def test_without_a_tray_the_status_bar_says_it(qtbot: QtBot, tmp_path: Path) -> None:
    with open_window(qtbot, tmp_path) as window:
        notifier = DesktopNotifier(window)
        assert not notifier.uses_tray  # the offscreen platform has no system tray
        notifier.notify(Notification(NotificationKind.SERVER_OFFLINE,
                                     "Server lab1 is offline", "connection refused", True))
        assert window.statusBar().currentMessage() == \
            "Server lab1 is offline: connection refused"
        # the window's own notifier is a desktop one when none is given
        window.notifications.on_experiment(window.current_id or 0, ExperimentState.FAILED, "x")
        assert window.statusBar().currentMessage().startswith("Optimisation failed: ")
