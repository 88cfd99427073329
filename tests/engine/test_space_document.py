"""The space file format: reading, writing, validation messages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.engine.docio import DocumentError, load_file, parse_text
from app.engine.errors import SpaceError
from app.engine.space import (
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    NumberParam,
    space_from_dict,
    space_to_dict,
)
from app.engine.space.document import node_to_dict
from app.engine.space.files import dump_space, load_space
from tests.engine.spaces import EVERY_KIND, GRIDDABLE, doc, number


def test_every_kind_is_read_into_the_right_nodes() -> None:
    space = space_from_dict(EVERY_KIND)
    lr = space.find("lr")
    assert isinstance(lr, NumberParam)
    assert lr.distribution is Distribution.LOGUNIFORM and lr.min == 1e-4 and lr.auto
    optimizer = space.find("optimizer")
    assert isinstance(optimizer, Choice) and optimizer.kind is ChoiceKind.GROUPS
    assert [b.name for b in optimizer.branches] == ["sgd", "adam"]
    assert isinstance(space.find("optimizer.sgd.momentum"), NumberParam)
    assert isinstance(space.find("first_dense.inner"), Group)
    batch = space.find("batch")
    assert isinstance(batch, Choice) and batch.kind is ChoiceKind.NUMBERS


@pytest.mark.parametrize("document", [EVERY_KIND, GRIDDABLE], ids=["every_kind", "griddable"])
def test_round_trip_file_tree_file_is_lossless(document: dict[str, Any]) -> None:
    space = space_from_dict(document)
    written = space_to_dict(space)
    assert space_from_dict(written) == space
    assert space_to_dict(space_from_dict(written)) == written


def test_round_trip_through_yaml_and_json_text(tmp_path: Path) -> None:
    space = space_from_dict(EVERY_KIND)
    for suffix, text in ((".yaml", "yaml"), (".json", "json")):
        path = tmp_path / f"space{suffix}"
        path.write_text(dump_space(space, text=text))
        assert load_space(path) == space


def test_yaml_reads_exponent_floats_as_numbers() -> None:
    data = parse_text("version: 1\nspace: [{name: lr, type: number, default: 1e-3}]", "x")
    assert data["space"][0]["default"] == pytest.approx(0.001)


def test_empty_choice_keeps_its_kind_in_the_written_document() -> None:
    written = node_to_dict(Choice("c", kind=ChoiceKind.NUMBERS))
    assert written["kind"] == "numbers"
    problems = _problems(doc(written))
    assert problems == ["c: no values to choose from"]


def _problems(document: Any) -> list[str]:
    with pytest.raises(SpaceError) as info:
        space_from_dict(document)
    return [str(p) for p in info.value.problems]


BAD = [
    ("unknown type", doc({"name": "a", "type": "float", "default": 1}),
     "a: unknown type 'float'"),
    ("duplicate siblings", doc(number("a"), number("a")), "a: duplicate name 'a'"),
    ("duplicate in a branch", doc({"name": "opt", "type": "choice", "default": "s", "values": [
        {"name": "s", "type": "group", "children": [number("lr"), number("lr")]}]}),
     "opt.s.lr: duplicate name 'lr'"),
    ("invalid identifier", doc(number("first dense")), "first dense: invalid name"),
    ("identifier starting with a digit", doc(number("1st")), "1st: invalid name"),
    ("min > max", doc({"name": "opt", "type": "choice", "auto": True, "default": "sgd",
                       "values": [{"name": "sgd", "type": "group", "children": [
                           number("momentum", "uniform", min=1.5, max=0.99, default=1)]}]}),
     "opt.sgd.momentum: min 1.5 > max 0.99"),
    ("log with min <= 0", doc(number("lr", "loguniform", min=0, max=1, default=0.5)),
     "lr: min 0 must be > 0 for loguniform"),
    ("step <= 0", doc(number("q", "quniform", min=0, max=1, step=0, default=0)),
     "q: step 0 must be > 0"),
    ("negative step", doc(number("q", "quniform", min=0, max=1, step=-1, default=0)),
     "q: step -1 must be > 0"),
    ("empty choice", doc({"name": "c", "type": "choice", "auto": True, "values": []}),
     "c: no values to choose from"),
    ("default outside range", doc(number("x", "uniform", min=0, max=1, default=2)),
     "x: default 2 is outside [0, 1]"),
    ("default not among values", doc({"name": "c", "type": "choice", "values": [1, 2],
                                      "default": 3}), "c: default 3 is not among the values"),
    ("default not a branch", doc({"name": "c", "type": "choice", "default": "x", "values": [
        {"name": "a", "type": "group", "children": []}]}), "c: default 'x' is not a branch"),
    ("wrong type of min", doc(number("x", "uniform", min="low", max=1, default=0)),
     "x: min: expected a number, got 'low'"),
    ("boolean as a number", doc(number("x", "uniform", min=True, max=1, default=0)),
     "x: min: expected a number, got True"),
    ("auto not a boolean", doc({"name": "b", "type": "boolean", "auto": "yes"}),
     "b: auto: expected true or false, got 'yes'"),
    ("boolean default a string", doc({"name": "b", "type": "boolean", "default": "no"}),
     "b: default: expected true or false"),
    ("string default a number", doc({"name": "s", "type": "string", "default": 3}),
     "s: default: expected a text"),
    ("auto without distribution", doc({"name": "x", "type": "number", "auto": True,
                                       "default": 1}), "x: auto needs a distribution"),
    ("unknown distribution", doc(number("x", "gamma", min=0, max=1)),
     "x: distribution: unknown 'gamma'"),
    ("normal without sigma", doc(number("x", "normal", mu=0)), "x: sigma is required by normal"),
    ("sigma <= 0", doc(number("x", "normal", mu=0, sigma=0)), "x: sigma 0 must be > 0"),
    ("quantised without step", doc(number("x", "quniform", min=0, max=1)),
     "x: step is required by quniform"),
    ("integer with fractional bound", doc(number("x", "uniform", min=0.5, max=3,
                                                 integer=True, default=1)),
     "x: min 0.5 is not a whole number"),
    ("no multiple of the step in range", doc(number("x", "quniform", min=0.1, max=0.2, step=1,
                                                     default=0.15)),
     "x: no multiple of step 1 lies in [0.1, 0.2]"),
    ("mixed choice values", doc({"name": "c", "type": "choice", "values": [1, "a"],
                                 "default": 1}), "c: values: mixes numbers and strings"),
    ("choice value of a wrong type", doc({"name": "c", "type": "choice", "values": [[1]],
                                          "default": 1}), "c: values: [1] is not a string"),
    ("branch that is not a group", doc({"name": "c", "type": "choice", "default": "a",
                                        "values": [{"name": "a", "type": "string"}]}),
     "c.a: a branch must be a group"),
    ("auto string", doc({"name": "s", "type": "string", "auto": True}),
     "s: a string is fixed text and cannot be auto"),
    ("unknown field", doc(number("x", "uniform", min=0, max=1, maximum=3)),
     "x: unknown field 'maximum'"),
    ("missing name", doc({"type": "number"}), "space[0]: missing 'name'"),
    ("node not a mapping", doc("lr"), "space[0]: expected a mapping"),
    ("children not a list", doc({"name": "g", "type": "group", "children": 3}),
     "g.children: expected a list"),
    ("unknown version", {"version": 7, "space": []}, "version: unknown version 7"),
    ("missing version", {"space": []}, "version: missing"),
    ("space not a list", {"version": 1, "space": {"a": 1}}, "space: expected a list"),
    ("infinite bound", doc(number("x", "uniform", min=float("-inf"), max=1)),
     "x: min: must be finite"),
]


@pytest.mark.parametrize(("document", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_space_names_the_path_and_the_problem(document: Any, expected: str) -> None:
    problems = _problems(document)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_not_only_the_first() -> None:
    problems = _problems(doc(number("a", "uniform", min=2, max=1, default=1.5),
                             number("b", "loguniform", min=-1, max=1, default=0.5),
                             {"name": "a", "type": "boolean"}))
    assert len(problems) >= 3


def test_validation_does_not_change_the_input() -> None:
    original = copy.deepcopy(EVERY_KIND)
    space_from_dict(EVERY_KIND)
    assert original == EVERY_KIND


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("version: 1\nspace:\n  - {name: a, type: number\n  - oops: [\n")
    with pytest.raises(DocumentError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "YAML syntax error" in message


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text('{"version": 1,\n "space": [}\n')
    with pytest.raises(DocumentError, match="line 2"):
        load_file(path)


def test_non_utf8_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_bytes(b"version: 1\nspace:\n  - {name: \xff\xfe}\n")
    with pytest.raises(DocumentError, match="line 3: not UTF-8"):
        load_file(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(DocumentError, match="is a directory"):
        load_file(tmp_path)
