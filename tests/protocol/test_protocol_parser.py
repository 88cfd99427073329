"""LineParser: every accepted form, and every kind of bad line."""

from __future__ import annotations

import math

import pytest

from app.engine.protocol import (
    MARKER,
    MAX_LINE_CHARS,
    MAX_STEP,
    LineParser,
    MetricRegex,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
)

LOSS = MetricRegex.compile("loss", r"loss=([0-9.eE+-]+)", r"epoch=(\d+)")
ACC = MetricRegex.compile("val_acc", r"val_acc=([0-9.eE+-]+)")


@pytest.fixture
def parser() -> LineParser:
    return LineParser("val_acc", [LOSS, ACC])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('#sweeplab {"metric": "val_acc", "value": 0.93, "step": 3}',
         MetricReport("val_acc", 0.93, 3)),
        ('#sweeplab {"metric":"loss","value":1}', MetricReport("loss", 1.0, None)),
        ('#sweeplab {"metric": "loss", "value": 2.5, "step": null}',
         MetricReport("loss", 2.5, None)),
        ('#sweeplab {"metric": "loss", "value": 2.5, "step": 4.0}', MetricReport("loss", 2.5, 4)),
        ('#sweeplab {"metric": "loss", "value": 2.5, "step": 0}', MetricReport("loss", 2.5, 0)),
        ('#sweeplab {"progress": 3, "total": 10}', ProgressReport(3, 10)),
        ('#sweeplab {"progress": 3}', ProgressReport(3, None)),
        ('#sweeplab {"metric": "a", "value": 1, "time": 12.5, "extra": [1]}',
         MetricReport("a", 1.0)),
        ('#sweeplab {"metric": "a", "value": 1}\r\n', MetricReport("a", 1.0)),
        ('  #sweeplab {"metric": "a", "value": 1}  ', MetricReport("a", 1.0)),
        # a progress bar on stderr left a partial line in front of the report
        ('\r 45%|####     | 9/20 [00:01<00:01]#sweeplab {"metric": "a", "value": 1}',
         MetricReport("a", 1.0)),
        ('\ufffd\ufffd#sweeplab {"metric": "a\ufffd", "value": 1}', MetricReport("a\ufffd", 1.0)),
        (f'#sweeplab {{"metric": "a", "value": 1, "step": {MAX_STEP}}}',
         MetricReport("a", 1.0, MAX_STEP)),
    ],
)
def test_marked_lines_are_read(parser: LineParser, line: str, expected: object) -> None:
    assert parser.parse(line) == [expected]


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        ("NaN", math.isnan),
        ("Infinity", lambda v: v == math.inf),
        ("-Infinity", lambda v: v == -math.inf),
        ("1e400", lambda v: v == math.inf),
        ("-1e400", lambda v: v == -math.inf),
        ("1" * 500, lambda v: v == math.inf),
        ("-" + "1" * 5000, lambda v: v == -math.inf),
        ("null", math.isnan),  # what JavaScript's JSON.stringify writes for NaN
        ('"nan"', math.isnan),
        ('"-inf"', lambda v: v == -math.inf),
        ("1e-320", lambda v: 0 < v < 1e-300),
    ],
)
def test_non_finite_and_extreme_values_are_returned(
    parser: LineParser, raw: str, check: object
) -> None:
    [report] = parser.parse(f'#sweeplab {{"metric": "loss", "value": {raw}, "step": 1}}')
    assert isinstance(report, MetricReport)
    assert callable(check) and check(report.value), report


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('#sweeplab {"metric": "val_acc", "val', "not valid JSON"),
        ("#sweeplab ", "not valid JSON"),
        ("#sweeplab not json at all", "not valid JSON"),
        ("#sweeplab [1, 2]", "expected a JSON object, got list"),
        ('#sweeplab "loss"', "expected a JSON object, got str"),
        ('#sweeplab {"value": 1}', "exactly one of the keys"),
        ('#sweeplab {"metric": "a", "value": 1, "progress": 2}', "exactly one of the keys"),
        ('#sweeplab {"metric": "a"}', "'value' is missing"),
        ('#sweeplab {"metric": "a", "value": true}', "got a boolean"),
        ('#sweeplab {"metric": "a", "value": "0.5"}', "must be a number, got str"),
        ('#sweeplab {"metric": "a", "value": [1]}', "must be a number, got list"),
        ('#sweeplab {"metric": "", "value": 1}', "'metric' must be a name"),
        ('#sweeplab {"metric": "   ", "value": 1}', "'metric' must be a name"),
        ('#sweeplab {"metric": 5, "value": 1}', "'metric' must be a name"),
        ('#sweeplab {"metric": "' + "x" * 201 + '", "value": 1}', "'metric' must be a name"),
        ('#sweeplab {"metric": "a", "value": 1, "step": -1}', "'step' must be between 0"),
        ('#sweeplab {"metric": "a", "value": 1, "step": 1.5}', "'step' must be a whole number"),
        ('#sweeplab {"metric": "a", "value": 1, "step": NaN}', "'step' must be a whole number"),
        ('#sweeplab {"metric": "a", "value": 1, "step": Infinity}',
         "'step' must be a whole number"),
        ('#sweeplab {"metric": "a", "value": 1, "step": 1e400}', "'step' must be a whole number"),
        ('#sweeplab {"metric": "a", "value": 1, "step": true}', "'step' must be a whole number"),
        ('#sweeplab {"metric": "a", "value": 1, "step": "3"}', "'step' must be a whole number"),
        (f'#sweeplab {{"metric": "a", "value": 1, "step": {MAX_STEP + 1}}}',
         "'step' must be between"),
        ('#sweeplab {"progress": -1}', "'progress' must be between 0"),
        ('#sweeplab {"progress": "3"}', "'progress' must be a whole number"),
        ('#sweeplab {"progress": 3, "total": 0}', "'total' must be at least 1"),
        ('#sweeplab {"progress": 3, "total": 2.5}', "'total' must be a whole number"),
        ("#sweeplab " + "[" * 100_000, "line too long"),
        ("#sweeplab " + "[" * 50_000, "not valid JSON"),  # deep nesting: RecursionError inside
        ("#Auptimizer:abc", "'abc' is not a number"),
        ("#Auptimizer:", "'' is not a number"),
    ],
)
def test_bad_marked_lines_give_one_warning(parser: LineParser, line: str, reason: str) -> None:
    result = parser.parse(line)
    assert len(result) == 1 and isinstance(result[0], ProtocolWarning), result
    message = result[0].message
    assert message.startswith("could not read '") and reason in message, message
    assert len(message) < 400, "the message quotes only the start of the line"


def test_warning_quotes_the_start_of_the_line(parser: LineParser) -> None:
    [warning] = parser.parse('#sweeplab {"metric": "val_acc", "val')
    assert isinstance(warning, ProtocolWarning)
    assert "'#sweeplab {\"metric\": \"val_acc\", \"val'" in warning.message


@pytest.mark.parametrize(
    "line",
    [
        "",
        "\n",
        "Epoch 3/10 - 1s - loss: 0.41",
        "sweeplab {\"metric\": \"a\", \"value\": 1}",  # no '#': not the marker
        "#sweeplab{\"metric\": \"a\", \"value\": 1}",  # no space after the marker
        "\ufffd\ufffd\ufffd garbage \x00\x1b[31m",
        "val_acc=abc",  # matches no regex value pattern
        "val_acc=1.2.3",  # the regex matches, the capture is not a float: ignored
        "x" * (MAX_LINE_CHARS + 1),
        "loss=0.5 " * 10_000,  # too long for regexes: ignored, not scanned
    ],
)
def test_ordinary_lines_give_nothing(parser: LineParser, line: str) -> None:
    assert parser.parse(line) == []


@pytest.mark.parametrize("line", [None, 42, b"#sweeplab {}"])
def test_non_text_gives_nothing(parser: LineParser, line: object) -> None:
    assert parser.parse(line) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("#Auptimizer:0.93", 0.93),
        ("#Auptimizer: 1", 1.0),  # Auptimizer's R helper pastes a space
        ("#Auptimizer:232.78,-0.82,2.20", 232.78),  # extra results are ignored
        ("#Auptimizer:1e400", math.inf),
        ("INFO #Auptimizer:0.5", 0.5),
    ],
)
def test_auptimizer_line_reports_under_the_kpi_name(
    parser: LineParser, line: str, value: float
) -> None:
    assert parser.parse(line) == [MetricReport("val_acc", value, None)]


def test_regexes_read_value_and_step_from_the_same_line(parser: LineParser) -> None:
    assert parser.parse("epoch=3 loss=0.41 val_acc=0.9") == [
        MetricReport("loss", 0.41, 3),
        MetricReport("val_acc", 0.9, None),  # no step regex for val_acc
    ]
    assert parser.parse("loss=1e-3") == [MetricReport("loss", 0.001, None)]
    assert parser.parse("epoch=x loss=2") == [MetricReport("loss", 2.0, None)]
    assert parser.parse("loss=1e999 epoch=2") == [MetricReport("loss", math.inf, 2)]


def test_regexes_do_not_read_marked_lines() -> None:
    greedy = MetricRegex.compile("value", r'"value": ([0-9.]+)')
    parser = LineParser("kpi", [greedy])
    assert parser.parse('#sweeplab {"metric": "a", "value": 0.5}') == [MetricReport("a", 0.5)]
    assert parser.parse('plain {"value": 0.5}') == [MetricReport("value", 0.5)]


def test_optional_group_that_did_not_take_part_is_ignored() -> None:
    parser = LineParser("kpi", [MetricRegex.compile("acc", r"acc(?:=([0-9.]+))?")])
    assert parser.parse("acc") == []
    assert parser.parse("acc=0.5") == [MetricReport("acc", 0.5)]


def test_step_regex_rejects_steps_that_are_not_whole_numbers() -> None:
    regex = MetricRegex.compile("loss", r"loss=([0-9.]+)", r"step=([-0-9.e]+)")
    parser = LineParser("kpi", [regex])
    assert parser.parse("step=4.0 loss=1") == [MetricReport("loss", 1.0, 4)]
    assert parser.parse("step=-2 loss=1") == [MetricReport("loss", 1.0, None)]
    assert parser.parse("step=2.5 loss=1") == [MetricReport("loss", 1.0, None)]
    assert parser.parse("step=1e999 loss=1") == [MetricReport("loss", 1.0, None)]
    big = "9" * 30
    assert parser.parse(f"step={big} loss=1") == [MetricReport("loss", 1.0, None)]


@pytest.mark.parametrize(
    ("name", "regex", "step_regex", "message"),
    [
        ("acc", "acc=([0-9.]+", None, "metric 'acc': regex 'acc=([0-9.]+' does not compile"),
        ("acc", "acc=[0-9.]+", None, "must have exactly one capture group (the value), it has 0"),
        ("acc", "(a)=([0-9.]+)", None, "it has 2"),
        ("acc", "", None, "metric 'acc': the regex must be a non-empty string"),
        ("acc", "acc=([0-9.]+)", "epoch=\\d+", "metric 'acc': step regex 'epoch=\\\\d+' must have"),
        ("acc", "acc=([0-9.]+)", "epoch=(", "step regex 'epoch=(' does not compile"),
        ("", "acc=([0-9.]+)", None, "the name must be a non-empty string"),
        ("x" * 300, "acc=([0-9.]+)", None, "name longer than 200"),
    ],
)
def test_metric_regex_validation_names_the_metric(
    name: str, regex: str, step_regex: str | None, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        MetricRegex.compile(name, regex, step_regex)
    assert message in str(caught.value)


def test_non_capturing_groups_are_allowed() -> None:
    regex = MetricRegex.compile("acc", r"(?:val_)?acc=((?:\d+)(?:\.\d+)?)")
    assert LineParser("k", [regex]).parse("val_acc=0.75") == [MetricReport("acc", 0.75)]


@pytest.mark.parametrize("kpi", ["", "  "])
def test_parser_needs_a_kpi_name(kpi: str) -> None:
    with pytest.raises(ValueError, match="kpi_name must be a non-empty string"):
        LineParser(kpi, [])


def test_marker_constant_matches_the_documented_form() -> None:
    assert MARKER == "#sweeplab "
