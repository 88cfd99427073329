"""The app starts as `make run` starts it, on a fresh database, and closes cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_gui_smoke_run_opens_the_demo_on_a_fresh_database(tmp_path: Path) -> None:
    env = {**os.environ, "SWEEPLAB_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("SWEEPLAB_DB", None)
    result = subprocess.run([sys.executable, "-m", "app", "gui", "--demo", "--smoke"],
                            capture_output=True, text=True, env=env, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sweeplab.db").is_file()
