"""Smoke test of bench/suggest.py: the quick run finishes and prints a sane RESULT line."""

from __future__ import annotations

import math

from tests.helpers import figures_of, run_bench

QUICK_SIZES = (20, 50)
COLUMNS = ("tpe", "optuna", "anneal", "random")


def test_quick_run_prints_a_result_line_of_positive_numbers() -> None:
    proc = run_bench("suggest", "--quick", timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines, "no output"
    last = lines[-1]
    assert last.startswith("RESULT "), f"last line is not the RESULT line: {last!r}"
    values = {key: float(text) for key, text in figures_of(last).items()}
    expected = {f"{c}_ms_{n}" for c in COLUMNS for n in QUICK_SIZES}
    expected |= {f"tpe_vs_optuna_{n}" for n in QUICK_SIZES}
    assert set(values) == expected
    for key, value in values.items():
        assert math.isfinite(value) and value > 0, f"{key}={value}"
    # Optuna's INFO logging ("A new study created in memory ...") is silenced.
    assert "A new study created" not in proc.stdout + proc.stderr


def test_bad_size_is_refused_with_a_message_naming_the_flag() -> None:
    proc = run_bench("suggest", "--sizes", "0", "--repeats", "1", timeout=60)
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr and "positive integer" in proc.stderr
