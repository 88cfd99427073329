"""bench/dispatch.py runs and prints its RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "dispatch.py"
KEYS = ["trials", "floor_s", "executor_s", "runner_s", "executor_ratio", "runner_ratio"]


def _load() -> ModuleType:
    if "bench_dispatch" in sys.modules:
        return sys.modules["bench_dispatch"]
    spec = importlib.util.spec_from_file_location("bench_dispatch", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_dispatch"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_dispatch_benchmark_prints_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1
    assert proc.stdout.rstrip().endswith(result[0])  # the last line
    figures = dict(item.split("=") for item in result[0].split()[1:])
    assert list(figures) == KEYS
    assert figures["trials"] == "20"
    assert all(float(v) > 0 for v in figures.values())
    assert "runner poll interval 100 ms" in proc.stdout


def test_both_noop_commands_print_the_marked_line(tmp_path: Path) -> None:
    dispatch = _load()
    for name, command in dispatch.NOOPS.items():
        out = subprocess.run(command, shell=True, capture_output=True, text=True,
                             timeout=30, cwd=tmp_path, check=True).stdout
        assert out == dispatch.MARKED_LINE + "\n", name


@pytest.mark.parametrize(("argv", "message"), [
    (["--trials", "0"], "--trials must be >= 1, got 0"),
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["--noop", "sleep"], "argument --noop: invalid choice: 'sleep'"),
    (["--dir", "/no/such/folder"], "--dir /no/such/folder is not a directory"),
])
def test_bad_arguments_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatch = _load()
    with pytest.raises(SystemExit) as exit_info:
        dispatch.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
