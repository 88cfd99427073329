"""bench/monkey.py runs a short monkey and prints its RESULT line (a smoke run)."""

from __future__ import annotations

from tests.helpers import result_figures, run_bench


def test_a_short_monkey_run_prints_its_result_line() -> None:
    proc = run_bench("monkey", "--minutes", "0.05", "--seeds", "1", "--first-seed", "7",
                     timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1].startswith("RESULT ")
    figures = result_figures(proc.stdout)
    assert list(figures) == ["seeds", "actions", "exceptions", "stalls",
                             "stalls_unscheduled", "longest_stall_ms", "failed_seeds"]
    # it acted (how many times in its 3 s is the bench's figure, not this smoke run's:
    # beside a soak on the other core, CI once saw 11 where an idle machine sees ~100)
    assert figures["seeds"] == "1" and int(figures["actions"]) > 0
    assert figures["failed_seeds"] == "none"
