"""A connection that breaks between the ``go`` and the ``@started`` of a launch: the
executor asks the server whether the trial started by claiming it, so the answer is
final. Before, it looked for the trial's ``pid`` file for 2 s; a wrapper slow to start
under load was taken for one that never would, the trial ended as not started, then
ran unfollowed and every point it logged was lost (the soak test, twice in CI)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.records import ProcessEventKind
from app.remote.launcher import ABANDONED, PID_FILE
from app.remote.ssh.executor import SshExecutor
from app.remote.ssh.hostkeys import KnownHosts
from app.remote.ssh.profile import Secrets, ServerProfile
from app.remote.ssh.trial import RemoteTrial, TrialHost


@pytest.fixture
def host(profile: ServerProfile, known_hosts: KnownHosts
         ) -> Iterator[tuple[TrialHost, list[tuple[ProcessEventKind, dict[str, Any]]]]]:
    executor = SshExecutor(profile, Secrets(), known_hosts, grace=2.0)
    executor.connect()
    events: list[tuple[ProcessEventKind, dict[str, Any]]] = []
    made = TrialHost(profile.name, executor._session, 30.0,  # the executor's own session
                     lambda _trial, kind, **fields: events.append((kind, fields)),
                     lambda _trial: None, threading.Event(), threading.Lock())
    yield made, events
    executor.close()


def folder(profile: ServerProfile, trial_id: int) -> Path:
    made = Path(profile.workdir) / "7" / str(trial_id)
    (made / "code").mkdir(parents=True)  # set up, waiting for its go
    (made / "output.log").write_text("")
    return made


def test_a_trial_whose_wrapper_has_not_started_is_claimed_and_given_back(
        host: tuple[TrialHost, list[tuple[ProcessEventKind, dict[str, Any]]]],
        profile: ServerProfile) -> None:
    made, events = host
    trial_dir = folder(profile, 41)
    made._recover(RemoteTrial(41, str(trial_dir), ()))
    assert [kind for kind, _ in events] == [ProcessEventKind.RETURNED]
    assert "did not start" in events[0][1]["message"]
    # claimed: a wrapper that comes late finds the pid file taken and runs nothing
    assert (trial_dir / PID_FILE).read_text().strip() == ABANDONED


def test_a_trial_whose_wrapper_started_is_followed_to_its_end(
        host: tuple[TrialHost, list[tuple[ProcessEventKind, dict[str, Any]]]],
        profile: ServerProfile) -> None:
    made, events = host
    trial_dir = folder(profile, 42)
    (trial_dir / PID_FILE).write_text("999999\n")  # the wrapper won the pid file
    (trial_dir / "output.log").write_text("#sweeplab {\"step\": 1, \"loss\": 0.5}\n")
    (trial_dir / "exit_code").write_text("0\n")
    trial = RemoteTrial(42, str(trial_dir), ())
    made._recover(trial)
    kinds = [kind for kind, _ in events]
    assert kinds[0] is ProcessEventKind.STARTED and kinds[-1] is ProcessEventKind.EXITED
    assert trial.pid == 999999
    lines = [line for kind, fields in events if kind is ProcessEventKind.OUTPUT
             for line in fields["lines"]]
    assert lines == ['#sweeplab {"step": 1, "loss": 0.5}']
    assert events[-1][1]["exit_code"] == 0
