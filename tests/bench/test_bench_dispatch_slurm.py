"""bench/dispatch_slurm.py runs and prints its RESULT line (a smoke run, not a timing).

It starts its own throwaway Slurm; where this machine cannot run one, the smoke run is
skipped with the benchmark's own reason.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "dispatch_slurm.py"
KEYS = ["trials", "bare_s", "sweeplab_s", "ratio", "best_ratio", "bare_submit_s"]


def _load() -> ModuleType:
    if "bench_dispatch_slurm" in sys.modules:
        return sys.modules["bench_dispatch_slurm"]
    spec = importlib.util.spec_from_file_location("bench_dispatch_slurm", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_dispatch_slurm"] = module
    spec.loader.exec_module(module)
    return module


def test_quick_slurm_dispatch_benchmark_prints_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)
    if proc.returncode == 2 and "cannot run the Slurm benchmark here" in proc.stderr:
        pytest.skip(f"SLURM BENCHMARK SKIPPED: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1 and proc.stdout.rstrip().endswith(result[0])
    figures = dict(item.split("=") for item in result[0].split()[1:])
    assert list(figures) == KEYS
    assert figures["trials"] == "10"
    assert all(float(value) > 0 for value in figures.values())
    assert "jobs of `printf` on a throwaway single-node Slurm (32 CPUs)" in proc.stdout


def test_both_noop_commands_print_the_marked_line(tmp_path: Path) -> None:
    bench = _load()
    for name, command in bench.NOOPS.items():
        out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30,
                             cwd=tmp_path, check=True).stdout
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
        _load().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
