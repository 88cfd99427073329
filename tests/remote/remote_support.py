"""Helpers for the remote tests: trial specs, event collection, process groups, files.

``wait_until`` and ``proc_state`` live in :mod:`tests.helpers`; they are re-exported here
for the tests that import them from this module."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.engine.processes import group_members
from app.engine.records import ProcessEvent, ProcessEventKind, Snapshot, TrialSpec
from tests.helpers import proc_state, wait_until

__all__ = ["PYTHON", "Events", "git", "group_gone", "proc_state", "spec", "wait_until",
           "write"]

PYTHON = shlex.quote(sys.executable)


def spec(
    snapshot: Snapshot,
    command: str,
    trial_id: int = 1,
    *,
    experiment_id: int = 7,
    params: Mapping[str, Any] | None = None,
    gpus: int = 0,
    env: Mapping[str, str] | None = None,
    max_epochs: int | None = None,
) -> TrialSpec:
    """A TrialSpec with defaults fit for tests."""
    return TrialSpec(
        trial_id=trial_id, experiment_id=experiment_id, command=command,
        params=dict(params or {}), snapshot=snapshot, env=dict(env or {}), gpus=gpus,
        max_epochs=max_epochs,
    )


class Events:
    """Collects an executor's events, by trial."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.all: list[ProcessEvent] = []

    def of(self, trial_id: int) -> list[ProcessEvent]:
        return [e for e in self.all if e.trial_id == trial_id]

    def pump(self, done: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
        """Poll events until ``done()``; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                kinds = [(e.trial_id, e.kind.value) for e in self.all]
                raise AssertionError(f"timed out waiting for {what}; events so far: {kinds}")
            self.all.extend(self.executor.poll(0.05))

    def finished(self, trial_id: int) -> bool:
        return any(e.kind in (ProcessEventKind.EXITED, ProcessEventKind.START_FAILED)
                   for e in self.of(trial_id))

    def wait_end(self, *trial_ids: int, timeout: float = 15.0) -> None:
        self.pump(lambda: all(self.finished(t) for t in trial_ids), timeout,
                  f"trials {trial_ids} to end")

    def wait_line(self, trial_id: int, text: str, timeout: float = 15.0) -> None:
        self.pump(lambda: text in self.lines(trial_id), timeout, f"line {text!r}")

    def lines(self, trial_id: int) -> list[str]:
        return [line for e in self.of(trial_id) if e.kind is ProcessEventKind.OUTPUT
                for line in e.lines]

    def last(self, trial_id: int, kind: ProcessEventKind) -> ProcessEvent:
        found = [e for e in self.of(trial_id) if e.kind is kind]
        assert found, f"no {kind.value} event for trial {trial_id}: {self.of(trial_id)}"
        return found[-1]


def group_gone(pgid: int) -> bool:
    """No live process left in the group (zombies aside)."""
    return not group_members(pgid)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; returns stdout."""
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
         "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return result.stdout


def write(path: Path, text: str | bytes, mode: int | None = None) -> Path:
    """Write a file, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path
