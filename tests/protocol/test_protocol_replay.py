"""Replay recorded trial outputs (tests/data/outputs) through LineParser."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from protocol_support import OUTPUTS, log_lines

from app.engine.protocol import (
    LineParser,
    MetricRegex,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
    Report,
)

LOGS = sorted(OUTPUTS.glob("*.log"))


def describe(line: int, report: Report) -> dict[str, Any]:
    """A report in the expected files' form (NaN and infinities as JSON words)."""
    if isinstance(report, ProtocolWarning):
        return {"line": line, "warning": report.message}
    if isinstance(report, ProgressReport):
        return {"line": line, "progress": report.step, "total": report.total}
    value: Any = report.value
    if not math.isfinite(value):
        value = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return {"line": line, "metric": report.name, "value": value, "step": report.step}


def test_every_log_has_expectations() -> None:
    assert {path.stem for path in LOGS} >= {"quadratic-clean", "shell-regex", "noisy",
                                            "keras-style", "auptimizer"}
    for log in LOGS:
        assert log.with_suffix(".expected.json").exists(), log


@pytest.mark.parametrize("log", LOGS, ids=[path.stem for path in LOGS])
def test_replay(log: Path) -> None:
    expected = json.loads(log.with_suffix(".expected.json").read_text(encoding="utf-8"))
    parser = LineParser(
        expected["kpi"],
        [MetricRegex.compile(r["name"], r["regex"], r["step_regex"]) for r in expected["regexes"]],
    )
    got = [
        describe(number, report)
        for number, line in enumerate(log_lines(log.read_bytes()), start=1)
        for report in parser.parse(line)
    ]
    assert len(got) == len(expected["reports"]), got
    for actual, wanted in zip(got, expected["reports"], strict=True):
        if "warning" in wanted:
            assert actual["line"] == wanted["line"], actual
            assert actual["warning"].startswith("could not read '"), actual
            assert wanted["warning"] in actual["warning"], actual
        else:
            assert actual == wanted


def test_noisy_log_warns_once_per_bad_marked_line() -> None:
    lines = log_lines((OUTPUTS / "noisy.log").read_bytes())
    parser = LineParser("val_acc", [])
    warned = [n for n, line in enumerate(lines, 1)
              if any(isinstance(r, ProtocolWarning) for r in parser.parse(line))]
    assert warned == [6, 9, 11, 12]
    metrics = [r for line in lines for r in parser.parse(line) if isinstance(r, MetricReport)]
    assert sum(1 for m in metrics if not math.isfinite(m.value)) == 2
