"""The app starts as `make run` starts it, on a fresh database, and closes cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_gui_smoke_run_opens_the_demo_and_leaves_the_users_data_alone(tmp_path: Path) -> None:
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("SWEEPLAB_DB", None)
    result = subprocess.run([sys.executable, "-m", "app", "gui", "--demo", "--smoke"],
                            capture_output=True, text=True, env=env, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert "smoke: first window shown after" in result.stdout
    assert list(tmp_path.iterdir()) == [], "a smoke run never touches the user's database"
