"""Fixtures for the trial-protocol tests (helpers live in ``protocol_support``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from protocol_support import trial_env


@pytest.fixture
def make_trial(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Write a trial's params.json under tmp_path and return its environment."""

    def make(nested: dict[str, Any], **extra: str) -> dict[str, str]:
        return trial_env(tmp_path / "trial", nested, **extra)

    return make
