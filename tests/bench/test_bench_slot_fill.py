"""Smoke test of bench/slot_fill.py: the quick run finishes and prints a sane RESULT line."""

from __future__ import annotations

import math

from tests.helpers import figures_of, run_bench

QUICK_SIZES = (20, 50)
KEYS = ("ahead_ms", "sync_ms", "optuna_ask_ms", "ahead_vs_optuna", "ahead_max_ms",
        "ahead_end_ms", "ahead_searcher_ms", "ahead_store_ms", "ended_store_ms")


def test_quick_run_prints_a_result_line_of_positive_numbers() -> None:
    proc = run_bench("slot_fill", "--quick", timeout=180)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), f"last line is not the RESULT line: {last!r}"
    values = {key: float(text) for key, text in figures_of(last).items()}
    assert set(values) == {f"{key}_{n}" for key in KEYS for n in QUICK_SIZES}
    for key, value in values.items():
        assert math.isfinite(value) and value > 0, f"{key}={value}"


def test_one_trial_is_refused_with_a_message_naming_the_flag() -> None:
    proc = run_bench("slot_fill", "--trials", "1", timeout=60)
    assert proc.returncode == 2
    assert "--trials" in proc.stderr and ">= 2" in proc.stderr
