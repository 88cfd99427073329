"""Fixtures shared by the executor tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.engine.records import Snapshot
from app.remote.snapshot import take_snapshot

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A snapshot of ``trials/trial.py`` (its modes: wait for ``go``, print, exit...)."""
    code = tmp_path_factory.mktemp("code")
    shutil.copy(HERE / "trials" / "trial.py", code / "trial.py")
    return take_snapshot(code, tmp_path_factory.mktemp("snapshots"))
