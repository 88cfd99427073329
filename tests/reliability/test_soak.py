"""The short soak: 64 parallel trials over 4 real sshd servers x 16 slots for 2 minutes,
each reporting 10 metrics per second — zero lost points, zero stuck trials.

Its long version is ``bench/soak.py`` (10 minutes and more)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_soak", ROOT / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_soak"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_minutes_of_64_trials_streaming_lose_nothing(tmp_path: Path) -> None:
    result = _soak().run_soak(tmp_path, servers=4, slots=16, minutes=2.0, rate=10.0,
                              trial_seconds=30.0)
    assert result.trials >= 64, "every slot was used"
    assert result.points >= 64 * 10 * 30 * 0.5, "the trials streamed for most of the time"
    assert (result.lost, result.doubled, result.stuck) == (0, 0, 0)
