"""A kill -9 of the driving program in the middle of an exploit, then ``sweeplab resume``,
loses nothing: the decided segment is carried out once (the trial is stopped if it
still runs, the donor's checkpoint copied, the segment started), a segment whose
launch intent was stored is claimed as a launch is, every step each process printed
is stored once and every trial ends COMPLETED once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.engine.crashpoint import CRASH_ENV, CrashPoint
from app.engine.docio import dump_text
from app.engine.trial import ExperimentState
from app.store.store import Store
from tests.helpers import ROOT, experiment_doc, proc_state, wait_until, write_code
from tests.pbt.pbt_support import POPULATION, TRAIN, check_run, pbt_fields

NAME = "pbt-crashy"

def setup_crashy(tmp_path: Path, **fields: Any) -> tuple[dict[str, str], Path]:
    """The environment of the drivers and the experiment file (``fields`` added: the
    hosts)."""
    # every trial is held after step 6 until the resume runs: an exploit decided before
    # the first kill finds its trial still running whenever the next driver comes
    doc = experiment_doc(write_code(tmp_path, TRAIN), name=NAME, **fields,
                         **pbt_fields({"STARTS": str(tmp_path / "starts"), "PACE": "0.1",
                                       "HOLD_AT": "6", "GATE": str(tmp_path / "gate")}))
    path = tmp_path / "experiment.yaml"
    path.write_text(dump_text(doc))
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path / "home"),
           "SWEEPLAB_DB": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "SWEEPLAB_LOCAL_SLOTS": str(POPULATION)}
    env.pop(CRASH_ENV, None)
    return env, path


def _driver(env: dict[str, str], path: Path, first: bool,
            crash: str | None = None) -> subprocess.Popen[bytes]:
    args = ["run", str(path)] if first else ["resume", NAME]
    env = {**env, CRASH_ENV: crash} if crash else env
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _runs_started(store: Store) -> int:
    """How many drivers have started the experiment so far (each logs "started")."""
    if not any(e.name == NAME for e in store.list_experiments()):
        return 0
    events = store.list_events(store.get_experiment(NAME).id)
    return sum(1 for event in events if event.message == "started")


def _trial_processes(root: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or proc_state(int(entry.name)) in (None, "Z", "X"):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(root)):
            found.append(int(entry.name))
    return found


CHAIN = [
    f"{CrashPoint.EXPLOIT_STORED.value}:1",  # decided and stored, the trial not stopped
    f"{CrashPoint.SEGMENT_INTENT_STORED.value}:1",  # its folder stored, not started
    f"{CrashPoint.EXIT_SEEN.value}:2",  # a segment's process ended, not acted on
    f"{CrashPoint.STARTED_SEEN.value}:2",  # a segment runs, its start not stored
]


def test_kill_9_mid_exploit_then_resume_loses_nothing(tmp_path: Path) -> None:
    env, path = setup_crashy(tmp_path)
    with Store(env["SWEEPLAB_DB"]) as store:
        kill_and_resume(tmp_path, env, path, store, tmp_path / "home" / "trials")


def kill_and_resume(tmp_path: Path, env: dict[str, str], path: Path, store: Store,
                    root: Path) -> None:
    """Drive the experiment of :func:`setup_crashy` through :data:`CHAIN`'s kills and
    resumes to its end; check nothing was lost and no trial process (under ``root``, the
    trials' folders) is left."""
    reached = []
    for index, crash in enumerate(CHAIN):
        if index and store.get_experiment(NAME).state is ExperimentState.COMPLETED:
            break
        driver = _driver(env, path, first=index == 0, crash=crash)
        if index == 1:  # the resume drives: let the held trials go on
            wait_until(lambda d=driver: _runs_started(store) >= 2 or d.poll() is not None,
                       120, "the resume to start driving")
            (tmp_path / "gate").touch()
        _, err = driver.communicate(timeout=120)
        if driver.returncode == -signal.SIGKILL:
            reached.append(crash)
        else:
            assert driver.returncode == 0, f"{crash}: {err.decode()}"
    assert reached[:2] == CHAIN[:2], reached  # the exploit's own points were hit
    for _ in range(3):
        if store.get_experiment(NAME).state is ExperimentState.COMPLETED:
            break
        driver = _driver(env, path, first=False)
        _, err = driver.communicate(timeout=120)
        assert driver.returncode == 0, err.decode()
    experiment = store.get_experiment(NAME)
    assert experiment.state is ExperimentState.COMPLETED
    segments = check_run(store, experiment.id, tmp_path / "starts")
    assert any(s.is_exploit for s in segments)
    wait_until(lambda: not _trial_processes(root), 15, "no trial process left")
