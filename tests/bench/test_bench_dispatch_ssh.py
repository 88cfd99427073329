"""bench/dispatch_ssh.py runs over real sshd servers and prints its RESULT line."""

from __future__ import annotations

from tests.helpers import figures_of, run_bench


def test_quick_ssh_dispatch_benchmark_prints_positive_figures() -> None:
    proc = run_bench("dispatch_ssh", "--quick", "--profile", timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    last = proc.stdout.rstrip().splitlines()[-1]
    assert last.startswith("RESULT ")
    figures = figures_of(last)
    assert list(figures) == ["trials", "bashrc", "shell_ms", "floor_s", "runner_s", "ratio",
                             "overhead_ms_per_trial", "server_cpu_ms_per_trial"]
    assert figures["trials"] == "24" and figures["bashrc"] == "empty"
    assert all(float(figures[key]) > 0 for key in ("shell_ms", "floor_s", "runner_s", "ratio",
                                                   "server_cpu_ms_per_trial"))
    float(figures["overhead_ms_per_trial"])  # may be below 0 in a run this short
    assert "~/.bashrc empty: `exec true` takes" in proc.stdout
    assert "its helper, median ms from its command sent: sent to ready" in proc.stdout


def test_bad_arguments_are_named() -> None:
    proc = run_bench("dispatch_ssh", "--slots", "0", timeout=60)
    assert proc.returncode == 2 and "--slots must be >= 1, got 0" in proc.stderr
    proc = run_bench("dispatch_ssh", "--bashrc", "heavy", timeout=60)
    assert proc.returncode == 2 and "argument --bashrc: invalid choice: 'heavy'" in proc.stderr
