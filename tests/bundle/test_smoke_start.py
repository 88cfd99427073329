"""``sweeplab gui --smoke``: the start-up check the installers run, here from the checkout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from installers.bundle_config import excludes

ROOT = Path(__file__).resolve().parents[2]
TIMING = re.compile(r"^smoke: first window shown after (\d+\.\d+) s \(since (.+)\)$", re.M)
TIMEOUT = 120

pytestmark = pytest.mark.slow  # three app starts (~30 s): first, with make test's workers


def smoke_env(tmp_path: Path) -> dict[str, str]:
    """Offscreen, with a data directory and a temp directory the test can look into."""
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SWEEPLAB_HOME": str(tmp_path / "home"),
           "TMPDIR": str(tmp_path / "tmp")}
    env.pop("SWEEPLAB_DB", None)
    return env


def test_smoke_shows_the_window_prints_the_timing_and_leaves_no_trace(tmp_path: Path) -> None:
    env = smoke_env(tmp_path)
    result = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    match = TIMING.search(result.stdout)
    assert match, f"no timing line in stdout: {result.stdout!r}"
    assert 0 < float(match.group(1)) < TIMEOUT
    # the run used its own temporary directory, never the user's data directory
    assert list((tmp_path / "home").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_smoke_refuses_a_database(tmp_path: Path) -> None:
    db = tmp_path / "mine.db"
    result = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--smoke", "--db", f"sqlite:///{db}"], cwd=ROOT,
        env=smoke_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 2
    assert "--smoke runs on a temporary database; leave out --db" in result.stderr
    assert not db.exists()


def test_the_start_loads_nothing_the_bundle_leaves_out(tmp_path: Path) -> None:
    dump = tmp_path / "modules.json"
    code = ("import json, sys\nfrom app.cli import main\ncode = main(['gui', '--smoke'])\n"
            f"json.dump(sorted(sys.modules), open({str(dump)!r}, 'w'))\nsys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=smoke_env(tmp_path),
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(dump.read_text())
    assert "PySide6.QtWidgets" in loaded  # the dump is of a real start
    excluded, _kept = excludes()
    wrongly = sorted(name for name in excluded
                     if any(m == name or m.startswith(name + ".") for m in loaded))
    assert wrongly == [], f"the app loads modules the bundle excludes: {wrongly}"
