"""bench/dispatch_slurm.py runs and prints its RESULT line (a smoke run, not a timing).

It starts its own throwaway Slurm; where this machine cannot run one, the smoke run is
skipped with the benchmark's own reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_bench, noop_outputs, result_figures, run_bench

KEYS = ["trials", "bare_s", "sweeplab_s", "ratio", "best_ratio", "bare_submit_s"]
CPU_KEYS = ["bare_cpu_s", "sweeplab_cpu_s"]
"""Where the machine has cgroup v1 cpuacct (the CPU of everything each side ran)."""


def test_quick_slurm_dispatch_benchmark_prints_positive_figures() -> None:
    proc = run_bench("dispatch_slurm", "--quick", timeout=180)
    if proc.returncode == 2 and "cannot run the Slurm benchmark here" in proc.stderr:
        pytest.skip(f"SLURM BENCHMARK SKIPPED: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert proc.stdout.rstrip().splitlines()[-1].startswith("RESULT ")  # the last line
    assert list(figures) in (KEYS, KEYS + CPU_KEYS)
    assert ("CPU seconds of everything" in proc.stdout) == (len(figures) > len(KEYS))
    assert figures["trials"] == "10"
    assert all(float(value) > 0 for value in figures.values())
    assert "jobs of `printf` on a throwaway single-node Slurm (32 CPUs)" in proc.stdout


def test_both_noop_commands_print_the_marked_line(tmp_path: Path) -> None:
    bench = load_bench("dispatch_slurm")
    for name, out in noop_outputs(bench, tmp_path).items():
        assert out == bench.MARKED_LINE + "\n", name


@pytest.mark.parametrize(("argv", "message"), [
    (["--trials", "0"], "--trials must be >= 1, got 0"),
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["--cpus", "0"], "--cpus must be >= 1, got 0"),
    (["--noop", "sleep"], "argument --noop: invalid choice: 'sleep'"),
])
def test_bad_arguments_are_named(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_bench("dispatch_slurm").parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
