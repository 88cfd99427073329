"""What runs where: local trials need POSIX (Linux, macOS); from Windows, SSH servers
and Slurm clusters work, so nothing on their path may need a POSIX-only module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.remote.local import LocalExecutor

ROOT = Path(__file__).parents[2]


def test_ssh_and_slurm_import_without_posix_only_modules() -> None:
    code = ("import sys\n"
            "for name in ('fcntl', 'termios', 'pwd', 'grp'):\n"
            "    sys.modules[name] = None  # as on Windows\n"
            "import app.cli, app.application.wiring, app.remote.pool, app.remote.ssh.executor\n"
            "import app.remote.slurm.executor, app.remote.local, app.engine.lease\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_local_trials_are_refused_on_windows_with_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "name", "nt")
    with pytest.raises(ValueError, match=r"cannot run on this computer itself on Windows.*"
                                         r"SSH server or a Slurm cluster"):
        LocalExecutor(tmp_path / "work", gpus=[])
