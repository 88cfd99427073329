"""bench/dispatch_ssh.py runs over real sshd servers and prints its RESULT line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "dispatch_ssh.py"


def test_quick_ssh_dispatch_benchmark_prints_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    last = proc.stdout.rstrip().splitlines()[-1]
    assert last.startswith("RESULT ")
    figures = dict(item.split("=") for item in last.split()[1:])
    assert list(figures) == ["trials", "floor_s", "runner_s", "ratio"]
    assert figures["trials"] == "24" and all(float(v) > 0 for v in figures.values())


def test_bad_arguments_are_named() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--slots", "0"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "--slots must be >= 1, got 0" in proc.stderr
