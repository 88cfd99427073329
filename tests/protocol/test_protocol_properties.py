"""Property tests: the parser never raises; rendered commands reach a shell intact."""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.protocol import (
    MARKER,
    LineParser,
    MetricRegex,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
    render_command,
    value_text,
)

PARSER = LineParser("kpi", [MetricRegex.compile("loss", r"loss=([0-9.eE+-]+)", r"epoch=(\d+)")])
JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["metric", "value", "step", "progress", "total", "x"]),
                      children, max_size=5),
    max_leaves=12,
)
# what a command line can carry: any text but NUL (and no lone surrogates, which have no bytes)
ARG_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


def check_reports(reports: list[Any]) -> None:
    assert isinstance(reports, list)
    for report in reports:
        assert isinstance(report, MetricReport | ProgressReport | ProtocolWarning)
        if isinstance(report, MetricReport):
            assert isinstance(report.value, float)
            assert report.step is None or (isinstance(report.step, int) and report.step >= 0)
        if isinstance(report, ProgressReport):
            assert isinstance(report.step, int) and report.step >= 0
            assert report.total is None or report.total >= 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises_on_any_text(line: str) -> None:
    check_reports(PARSER.parse(line))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "noise ", "\r50%|##  |"]), st.sampled_from([MARKER, "#Auptimizer:"]),
       st.text())
def test_parse_never_raises_after_a_marker(prefix: str, marker: str, rest: str) -> None:
    reports = PARSER.parse(prefix + marker + rest)
    check_reports(reports)
    assert len(reports) == 1, "a marked line gives a report or a warning, never silence"


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_parse_never_raises_on_any_json_after_the_marker(document: Any) -> None:
    reports = PARSER.parse(MARKER + json.dumps(document))
    check_reports(reports)
    assert len(reports) == 1


@settings(max_examples=150, deadline=None)
@given(
    st.text(min_size=1, max_size=200).filter(str.strip),
    st.floats() | st.integers(min_value=-(10**400), max_value=10**400),
    st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)
def test_sdk_shaped_lines_round_trip(name: str, value: float | int, step: int | None) -> None:
    document: dict[str, Any] = {"metric": name, "value": value}
    if step is not None:
        document["step"] = step
    [report] = PARSER.parse(MARKER + json.dumps(document))
    assert isinstance(report, MetricReport), report
    assert report.name == name and report.step == step
    try:
        expected = float(value)
    except OverflowError:
        expected = math.inf if value > 0 else -math.inf
    assert report.value == expected or (math.isnan(report.value) and math.isnan(expected))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ARG_TEXT | st.integers() | st.floats() | st.booleans()
                | st.lists(st.integers(), max_size=3), min_size=1, max_size=6))
def test_rendered_values_reach_the_shell_exactly(values: list[Any]) -> None:
    dotted = {f"p.v{i}": value for i, value in enumerate(values)}
    template = "printf '%s\\0' " + " ".join(f"{{{name}}}" for name in dotted)
    command = render_command(template, dotted, "unused.json")
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr
    received = result.stdout.decode("utf-8").split("\0")[:-1]
    assert received == [value_text(value) for value in values]
