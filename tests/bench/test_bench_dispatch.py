"""bench/dispatch.py runs and prints its RESULT line (a smoke run, not a timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_bench, noop_outputs, result_figures, run_bench

KEYS = ["trials", "floor_s", "executor_s", "runner_s", "executor_ratio", "runner_ratio"]


def test_quick_dispatch_benchmark_prints_positive_figures() -> None:
    proc = run_bench("dispatch", "--quick", "--profile", timeout=240)
    assert proc.returncode == 0, proc.stderr
    figures = result_figures(proc.stdout)
    assert proc.stdout.rstrip().splitlines()[-1].startswith("RESULT ")  # the last line
    assert list(figures) == KEYS
    assert figures["trials"] == "20"
    assert all(float(v) > 0 for v in figures.values())
    assert "runner poll interval 100 ms" in proc.stdout
    # --profile: each thread's CPU per trial, then a cProfile of each
    assert "where the app's CPU goes (20 trials" in proc.stdout
    for part in ("main thread (the runner loop)", "launcher thread (trial folder, spawn)",
                 "follower thread (log, exit, leftovers)", "runner thread, under cProfile"):
        assert part in proc.stdout, part


def test_both_noop_commands_print_the_marked_line(tmp_path: Path) -> None:
    dispatch = load_bench("dispatch")
    for name, out in noop_outputs(dispatch, tmp_path).items():
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
    dispatch = load_bench("dispatch")
    with pytest.raises(SystemExit) as exit_info:
        dispatch.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
