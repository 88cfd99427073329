"""Helpers for the hostile-input tests: the real CLI, the corpus, records."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from app.engine.records import TrialRecord
from app.engine.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "bad"
EXPECTED_FILE = "expected.yaml"
TRACEBACK = "Traceback (most recent call last)"


def trial_record(number: int = 1) -> TrialRecord:
    """A RUNNING trial record, as the runner holds one while its process runs."""
    return TrialRecord(id=number, experiment_id=1, number=number, state=TrialState.RUNNING,
                       params={"x": 0.5}, created_at=datetime.now(UTC))


@dataclass(frozen=True)
class Case:
    """One broken input of the corpus and the message part it must produce."""

    folder: str
    name: str
    expect: str

    @property
    def path(self) -> Path:
        return CORPUS / self.folder / self.name

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.name}"


def cases(folder: str) -> list[Case]:
    """The cases of ``tests/data/bad/<folder>``, from its ``expected.yaml``.

    Raises:
        ValueError: the sidecar names a file that is missing, or a file has no entry.
    """
    where = CORPUS / folder
    expected: dict[str, Any] = yaml.safe_load((where / EXPECTED_FILE).read_text("utf-8"))
    if not isinstance(expected, dict):
        raise ValueError(f"{where / EXPECTED_FILE}: expected a mapping of file: message")
    helpers = expected.pop("_helpers", [])
    present = {p.name for p in where.iterdir()} - {EXPECTED_FILE}
    missing = sorted(set(expected) - present - {k for k in expected if k.startswith("@")})
    if missing:
        raise ValueError(f"{where / EXPECTED_FILE} names files that do not exist: {missing}")
    unlisted = sorted(present - set(expected) - set(helpers))
    if unlisted:
        raise ValueError(f"{where}: files without an expected message: {unlisted}")
    return [Case(folder, name, str(message)) for name, message in expected.items()]


@dataclass(frozen=True)
class Result:
    """What one run of the real command gave."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def sweeplab(*args: str, home: Path, cwd: Path | None = None, stdin: str = "",
             env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """``python -m app ARGS`` as its own process, with its data directory at ``home``."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DBUS_", "SWEEPLAB_", "PYTHON_KEYRING"))}
    clean.update(SWEEPLAB_HOME=str(home), SWEEPLAB_LOCAL_SLOTS="2", COLUMNS="200",
                 PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
                 PYTHONPATH=str(ROOT))
    clean.update(env or {})
    done = subprocess.run([sys.executable, "-m", "app", *args], input=stdin, text=True,
                          capture_output=True, cwd=cwd or ROOT, env=clean, timeout=timeout,
                          start_new_session=True, errors="replace", preexec_fn=as_a_user)
    return Result(done.returncode, done.stdout, done.stderr)


def as_a_user() -> None:
    """In the child: as root, give up overriding file permissions (a user's view of a
    read-only or unreadable file); as anyone else, nothing to do."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def assert_refused(result: Result, expect: str, what: str) -> None:
    """Exit 2, the expected message, and no traceback anywhere."""
    assert TRACEBACK not in result.text, f"{what}: a traceback reached the user:\n{result.text}"
    assert "internal error" not in result.err, f"{what}: {result.err}"
    assert result.code == 2, f"{what}: exit {result.code}, expected 2\n{result.text}"
    assert expect in result.err, f"{what}: {expect!r} not in the message:\n{result.err}"
