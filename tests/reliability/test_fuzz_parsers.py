"""Hypothesis fuzzing of the parsers a user's files and a trial's output reach.

The space parser (text -> document -> tree, sweeplab and NNI formats), the
experiment parser and the protocol line parser get near-valid documents with
extreme values (1e308, NaN, huge integers, deep nesting, odd names and keys) and
mangled text. The readers may refuse, but only with our own validation errors,
each naming where the problem is; the line parser may never raise at all.

Runs are deterministic (``derandomize=True``) and small enough for CI;
``SWEEPLAB_FUZZ_EXAMPLES=20000`` runs a long random search by hand.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.docio import DocumentError, parse_text
from app.engine.errors import SpaceError, ValidationError
from app.engine.experiment import ExperimentConfig, ExperimentError, experiment_from_dict
from app.engine.experiment import Kpi as _Kpi
from app.engine.live import LiveTrial
from app.engine.protocol import (
    AUPTIMIZER_MARKER,
    MARKER,
    LineParser,
    MetricRegex,
    MetricReport,
    ProgressReport,
    ProtocolWarning,
)
from app.engine.search import Algorithm, GridSearcher, make_searcher
from app.engine.space.files import space_from_document
from app.engine.space.nni import from_nni
from app.engine.space.nodes import Space
from tests.engine.spaces import EVERY_KIND

LONG_RUN = os.environ.get("SWEEPLAB_FUZZ_EXAMPLES", "")
"""Set to a number for a longer, random (not derandomized) fuzzing run by hand."""
FUZZ = settings(max_examples=int(LONG_RUN or 300), deadline=None, derandomize=not LONG_RUN,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

EXTREME = st.sampled_from([
    0, -0.0, 1, -1, 0.5, 1e-308, 5e-324, 1e308, -1e308, 1.7976931348623157e308,
    math.nan, math.inf, -math.inf, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400),
    True, False, None, "", "1e308", "NaN", [], {}, [1e308], {"a": 1},
])
NUMBERS = st.one_of(EXTREME, st.floats(), st.integers(), st.floats(-1e6, 1e6))
ODD_TEXT = st.one_of(
    st.sampled_from(["lr", "x", "a.b", "", " ", "1x", "_", "local", "é", "\x00", "$(id)",
                     "a" * 300, "version", "space", "__proto__", "nan"]),
    st.text(max_size=12),
)
KINDS = st.sampled_from(["number", "string", "boolean", "group", "choice", "float", None, 3])
DISTRIBUTIONS = st.sampled_from([
    "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
    "qlognormal", "randint", "gauss", None, ["uniform"], 1])
FIELDS = ("default", "auto", "min", "max", "mu", "sigma", "step", "integer", "kind", "values",
          "children", "extra")


def _leaf_values() -> st.SearchStrategy[Any]:
    return st.one_of(NUMBERS, ODD_TEXT, st.booleans(), st.none())


@st.composite
def nodes(draw: st.DrawFn, depth: int = 2) -> Any:
    """A node mapping that is mostly well formed, with extreme or wrong field values."""
    if draw(st.integers(0, 19)) == 0:
        return draw(_leaf_values())  # not a mapping at all
    node: dict[Any, Any] = {"name": draw(ODD_TEXT), "type": draw(KINDS)}
    if node["type"] == "number" or draw(st.booleans()):
        node["distribution"] = draw(DISTRIBUTIONS)
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        if key == "children":
            node[key] = (draw(st.lists(nodes(depth - 1), max_size=3)) if depth > 0
                         else draw(_leaf_values()))
        elif key == "values":
            node[key] = draw(st.lists(
                nodes(depth - 1) if depth > 0 else _leaf_values(), max_size=4)
                | st.lists(_leaf_values(), max_size=4))
        elif key in ("auto", "integer"):
            node[key] = draw(st.booleans() | _leaf_values())
        else:
            node[key] = draw(NUMBERS | ODD_TEXT)
    return node


SPACE_DOCS = st.one_of(
    st.builds(lambda ns: {"version": 1, "space": ns}, st.lists(nodes(), max_size=4)),
    st.builds(lambda v, ns: {"version": v, "space": ns}, EXTREME, st.lists(nodes(), max_size=3)),
    st.dictionaries(ODD_TEXT, st.one_of(
        st.fixed_dictionaries({"_type": st.sampled_from(
            ["choice", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
             "lognormal", "qlognormal", "randint", "nope"]) | _leaf_values(),
            "_value": st.lists(NUMBERS | ODD_TEXT, max_size=4) | _leaf_values()}),
        _leaf_values()), max_size=4),
    _leaf_values(),
)


def deep(levels: int, wrap: str) -> Any:
    """A document nested ``levels`` deep, as groups ("group"), lists or NNI dots."""
    if wrap == "list":
        inner: Any = 1
        for _ in range(levels):
            inner = [inner]
        return {"version": 1, "space": inner}
    if wrap == "nni":
        return {".".join(["g"] * levels): {"_type": "uniform", "_value": [0, 1]}}
    node: dict[str, Any] = {"name": "x", "type": "string", "default": "leaf"}
    for i in range(levels):
        kind = "group" if wrap == "group" or i % 2 else "branch"
        node = ({"name": f"g{i}", "type": "group", "children": [node]} if kind == "group" else
                {"name": f"c{i}", "type": "choice", "default": f"g{i}",
                 "values": [{"name": f"g{i}", "type": "group", "children": [node]}]})
    return {"version": 1, "space": [node]}


def check_space(doc: Any) -> Space | None:
    """Read ``doc``; a refusal must be a SpaceError naming each problem."""
    try:
        space = space_from_document(doc, "fuzz.yaml")
    except SpaceError as exc:
        assert exc.problems and all(str(p).strip() for p in exc.problems)
        assert all(len(str(p)) < 2000 for p in exc.problems), "a message quotes too much"
        return None
    return space


def use_space(space: Space) -> None:
    """What `space check` and a run do with a valid space: grid size, a few suggestions."""
    with contextlib.suppress(SpaceError):  # not griddable: an error, not a crash
        assert GridSearcher(space).size >= 1
    searcher = make_searcher(Algorithm.RANDOM, space, seed=0)
    for trial_id in (1, 2):
        params = searcher.suggest(trial_id)
        assert params is not None
        json.dumps(params, allow_nan=False)  # values are plain, finite JSON


@FUZZ
@given(SPACE_DOCS)
def test_space_documents_give_a_space_or_named_problems(doc: Any) -> None:
    space = check_space(doc)
    if space is not None:
        use_space(space)


@FUZZ
@given(st.sampled_from(["group", "branch", "list", "nni"]), st.sampled_from([200, 3000]))
def test_deep_nesting_is_refused_not_a_recursion_error(wrap: str, levels: int) -> None:
    assert check_space(deep(levels, wrap)) is None
    assert check_space(deep(8, wrap)) is not None or wrap == "list"


@FUZZ
@given(st.sampled_from(["min", "max", "step", "default", "mu", "sigma"]), NUMBERS,
       st.sampled_from(["uniform", "quniform", "loguniform", "qloguniform", "normal",
                        "qnormal", "lognormal", "qlognormal", "randint"]),
       st.booleans())
def test_extreme_numbers_in_a_valid_number_are_refused_or_usable(
        key: str, value: Any, dist: str, integer: bool) -> None:
    node: dict[str, Any] = {"name": "x", "type": "number", "auto": True, "distribution": dist,
                            "min": 1, "max": 10, "mu": 1, "sigma": 1, "step": 1, "default": 2,
                            "integer": integer}
    node[key] = value
    space = check_space({"version": 1, "space": [node]})
    if space is not None:
        use_space(space)


@FUZZ
@given(st.sampled_from(["uniform", "quniform", "loguniform", "qloguniform", "normal",
                        "qnormal", "lognormal", "qlognormal", "randint"]),
       st.lists(NUMBERS, min_size=2, max_size=3))
def test_extreme_nni_entries_are_refused_or_usable(kind: str, value: list[Any]) -> None:
    try:
        space = from_nni({"x": {"_type": kind, "_value": value}})
    except SpaceError as exc:
        assert all(len(str(p)) < 2000 for p in exc.problems)
        return
    use_space(space)


def _mutations(text: str) -> st.SearchStrategy[str]:
    cut = st.integers(0, max(len(text), 1))
    return st.one_of(
        st.just(text),
        cut.map(lambda i: text[:i]),
        st.tuples(cut, st.text(max_size=4)).map(lambda t: text[:t[0]] + t[1] + text[t[0]:]),
        st.tuples(cut, st.sampled_from(["\t", "- ", ": ", "{", "[", "'", "\"", "&a", "*a",
                                        "!!python/object:os.system", "\x00", "\ufeff", "%"]))
        .map(lambda t: text[:t[0]] + t[1] + text[t[0]:]),
    )


GOOD_TEXTS = [yaml.safe_dump(EVERY_KIND, sort_keys=False), json.dumps(EVERY_KIND, indent=1)]


@FUZZ
@given(st.sampled_from(GOOD_TEXTS).flatmap(_mutations), st.sampled_from(["yaml", "json"]))
def test_mangled_space_text_gives_a_document_or_space_error(text: str, fmt: str) -> None:
    try:
        doc = parse_text(text, "space.yaml", fmt)
    except DocumentError as exc:
        assert str(exc).startswith("space.yaml: ")
        return
    space = check_space(doc)
    if space is not None:
        use_space(space)


@FUZZ
@given(st.text(max_size=200), st.sampled_from(["yaml", "json", None]))
def test_any_text_parses_or_gives_a_document_error(text: str, fmt: str | None) -> None:
    try:
        parse_text(text, "f.yaml", fmt)
    except DocumentError as exc:
        assert exc.problems[0].path == "f.yaml"


# --- experiments --------------------------------------------------------------------


def _experiment(code: Path) -> dict[str, Any]:
    return {
        "version": 1, "name": "fuzz", "code_dir": str(code), "command": "{python} t.py {x}",
        "kpi": {"name": "loss", "goal": "min", "use": "last"},
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0, "max": 1,
                                           "default": 0.5}]},
        "algorithm": {"name": "tpe", "seed": 1, "initial_random": 3},
        "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 3},
        "limits": {"max_trials": 5, "max_parallel": 2, "max_epochs": 9,
                   "max_trial_seconds": 60, "max_seconds": 600},
        "hosts": ["local"], "gpus_per_trial": 0,
        "metrics": [{"name": "loss", "regex": "loss=([0-9.]+)", "step_regex": "ep=(\\d+)"}],
        "env": {"A": "1"}, "include_uncommitted": True,
    }


EXPERIMENT_PATHS = [
    ["version"], ["name"], ["code_dir"], ["command"], ["kpi"], ["kpi", "name"], ["kpi", "goal"],
    ["kpi", "use"], ["space"], ["algorithm"], ["algorithm", "name"], ["algorithm", "seed"],
    ["algorithm", "initial_random"], ["scheduler"], ["scheduler", "name"],
    ["scheduler", "grace_period"], ["scheduler", "reduction_factor"], ["limits"],
    ["limits", "max_trials"], ["limits", "max_parallel"], ["limits", "max_epochs"],
    ["limits", "max_trial_seconds"], ["limits", "max_seconds"], ["hosts"], ["gpus_per_trial"],
    ["metrics"], ["env"], ["include_uncommitted"], ["extra"], ["kpi", "extra"],
]
EXPERIMENT_VALUES = st.one_of(
    NUMBERS, ODD_TEXT, st.booleans(), st.none(),
    st.sampled_from(["{python} t.py {nope}", "{", "}", "{ }", "t {x} {x}", "{params_file}",
                     "../../etc", "/nonexistent", "space.yaml", "fifo", "hyperband", "median",
                     "max", "best", "grid", ["local", "local"], ["local", "a b"], [],
                     [{"name": "m", "regex": "("}], [{"name": "m", "regex": "(a)(b)"}],
                     [{"name": "m", "regex": "x", "step_regex": "(y)"}], [{"name": ""}],
                     {"B": None}, {"1x": "1"}, {"A": [1]}, {"name": "x"}]),
    st.dictionaries(ODD_TEXT, NUMBERS | ODD_TEXT, max_size=3),
    st.lists(ODD_TEXT | NUMBERS, max_size=3),
)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(EXPERIMENT_PATHS), EXPERIMENT_VALUES),
                min_size=1, max_size=4))
def test_experiment_documents_give_a_config_or_named_problems(
        tmp_path_factory: Any, changes: list[tuple[list[str], Any]]) -> None:
    code = tmp_path_factory.getbasetemp() / "fuzz-code"
    code.mkdir(exist_ok=True)
    doc = _experiment(code)
    for path, value in changes:
        target = doc
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    try:
        config = experiment_from_dict(doc, code, "fuzz.yaml")
    except ExperimentError as exc:
        assert exc.problems and all(str(p).strip() for p in exc.problems)
        assert all(len(str(p)) < 4000 for p in exc.problems), "a message quotes too much"
        return
    assert isinstance(config, ExperimentConfig)
    again = experiment_from_dict(config.to_dict(), code, "stored")
    assert again.to_dict() == config.to_dict(), "what the database keeps reads back the same"


@FUZZ
@given(st.one_of(EXTREME, st.lists(NUMBERS, max_size=3), st.dictionaries(
    ODD_TEXT, NUMBERS | ODD_TEXT, max_size=4)))
def test_experiment_that_is_not_a_mapping_of_fields_is_refused(doc: Any) -> None:
    try:
        experiment_from_dict(doc, Path("/nonexistent"), "fuzz.yaml")
    except ValidationError as exc:
        assert isinstance(exc, ExperimentError | SpaceError)


# --- the protocol line parser --------------------------------------------------------

PARSER = LineParser("loss", [MetricRegex.compile("acc", r"acc=(\S+)", r"epoch=(\S+)"),
                             MetricRegex.compile("lat", r"lat=([0-9.eE+-]+|nan|inf)")])
JSON_LEAVES = st.one_of(NUMBERS.filter(lambda v: not isinstance(v, list | dict)),
                        st.text(max_size=10), st.booleans(), st.none())
JSON_DOCS = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["metric", "value", "step", "progress", "total", "x"]), inner,
        max_size=5),
    max_leaves=10,
)


def _marked(doc: Any) -> str:
    try:
        return MARKER + json.dumps(doc)
    except (ValueError, TypeError, OverflowError):
        return MARKER + repr(doc)


LINES = st.one_of(
    st.text(),
    JSON_DOCS.map(_marked),
    JSON_DOCS.map(_marked).flatmap(lambda line: st.integers(0, len(line)).map(
        lambda i: line[:i])),  # a half-written line
    st.tuples(st.sampled_from(["", "x" * 70_000, "\r 40%|###", "\x00", "\udcff"]),
              st.sampled_from([MARKER, AUPTIMIZER_MARKER, "acc=", "lat=", "epoch="]),
              st.sampled_from(["", "1e308", "1e309", "-1e999", "NaN", "nan", "inf", "9" * 500,
                               "{", "[" * 5000, '{"metric": "loss", "value": 1e400}',
                               '{"metric": "loss", "value": NaN, "step": 1e308}',
                               '{"progress": 1e19, "total": -1}', "\udcff\udcfe", "\x00"]),
              st.text(max_size=8)).map("".join),
)


@FUZZ
@given(LINES)
def test_line_parser_never_raises(line: str) -> None:
    reports = PARSER.parse(line)
    assert isinstance(reports, list)
    for report in reports:
        assert isinstance(report, MetricReport | ProgressReport | ProtocolWarning)
        if isinstance(report, MetricReport):
            assert isinstance(report.value, float) and report.name
            assert report.step is None or 0 <= report.step < 2**63
        elif isinstance(report, ProgressReport):
            assert 0 <= report.step < 2**63
        else:
            assert len(report.message) < 1000, "a warning quotes too much of the line"
    if MARKER in line[:1024] or AUPTIMIZER_MARKER in line[:1024]:
        assert len(reports) == 1


class _NoExecutor:
    """LiveTrial only keeps its executor; reading lines never calls it."""


@FUZZ
@given(st.lists(LINES, max_size=12))
def test_live_trial_reads_any_lines(lines: list[str]) -> None:
    from app.engine.search.base import Goal
    from tests.reliability.bad_support import trial_record

    trial = LiveTrial(trial_record(), _NoExecutor(), _Kpi("loss", Goal.MIN))  # type: ignore[arg-type]
    reading = trial.read(tuple(lines), PARSER, 1.0)
    assert trial.lines == len(lines)
    assert len(reading.warnings) <= 5
    for point in reading.points:
        assert isinstance(point.value, float)
    trial.outcome(0)
