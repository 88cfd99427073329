"""One rule for experiment names (app.engine.names), applied everywhere a name comes in:
the experiment file, ``sweeplab run --name``, the app's Rename and Duplicate (through
the workspace), and the store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.application.workspace import ActionRefused, Workspace
from app.engine.experiment import ExperimentError, experiment_from_dict
from app.engine.names import MAX_NAME_CHARS, NAME_RULE, check_name, name_problem
from app.store.models import NAME_LENGTH
from tests.helpers import experiment_doc
from tests.reliability.bad_db import StoredState, make_golden
from tests.reliability.bad_support import assert_refused, sweeplab
from tests.run.conftest import workspace

__all__ = ["workspace"]

GOOD = ["quadratic-demo", "lr sweep 2", "mark[/]up", "tokens/s", "résumé ε", "42", "a",
        "x" * MAX_NAME_CHARS]
BAD = {
    "": "it is empty",
    "   ": "it is only spaces",
    "two\nlines": "it holds '\\n' at position 3, which is not printable",
    "tab\there": "it holds '\\t' at position 3",
    "nul\0": "it holds '\\x00' at position 3",
    "rtl\u202eevil": "it holds '\\u202e' at position 3",
    " padded": "it starts or ends with a space",
    "padded ": "it starts or ends with a space",
    "-rf": "it starts with '-', so a command would read it as an option",
    "x" * (MAX_NAME_CHARS + 1): f"it is {MAX_NAME_CHARS + 1} characters long",
}


@pytest.mark.parametrize("name", GOOD)
def test_names_a_person_would_type_are_accepted(name: str) -> None:
    assert name_problem(name) is None and check_name(name) == name


@pytest.mark.parametrize("name", list(BAD), ids=range(len(BAD)))
def test_other_names_are_refused_with_the_reason_and_the_rule(name: str) -> None:
    problem = name_problem(name)
    assert problem is not None and problem.startswith(BAD[name])
    assert problem.endswith(f"; a name is {NAME_RULE}")
    with pytest.raises(ValueError, match=r"^experiment name "):
        check_name(name)
    assert name_problem(7) == f"expected a text, got int; a name is {NAME_RULE}"


def test_the_database_holds_the_longest_name() -> None:
    assert MAX_NAME_CHARS <= NAME_LENGTH


def test_the_experiment_file_check_applies_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError) as refused:
        experiment_from_dict(experiment_doc(tmp_path, name="-rf"), tmp_path)
    (problem,) = refused.value.problems
    assert problem.path == "name" and problem.message == name_problem("-rf")


def test_rename_and_duplicate_in_the_app_apply_the_rule(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    config = experiment_from_dict(experiment_doc(tmp_path), tmp_path)
    record = workspace.create(config)
    for bad in ("-rf", "two\nlines"):
        said = re.escape(f"experiment name {bad!r}: it ")
        with pytest.raises(ActionRefused, match=said):
            workspace.rename(record.id, bad)
        with pytest.raises(ActionRefused, match=said):
            workspace.duplicate(record.id, bad)
    assert [e.name for e in workspace.experiments()] == ["exp"]


def test_run_name_option_applies_the_rule_before_anything_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "db" / "sweeplab.db"
    db.parent.mkdir()
    stored = make_golden(db)
    before = db.read_bytes()
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(yaml.safe_dump(experiment_doc(tmp_path)))
    result = sweeplab("run", str(experiment), "--name=-rf", "--db", str(db),
                      home=tmp_path / "home")
    assert_refused(result, "error: --name: it starts with '-'", "run --name=-rf")
    assert db.read_bytes() == before and StoredState.of(db) == stored


def test_a_copy_is_named_after_its_source_by_the_one_rule() -> None:
    """Issue 17.17: Duplicate's proposal (app.engine.names.copy_name)."""
    from app.engine.names import copy_name

    assert copy_name("exp", []) == "exp copy"
    assert copy_name("exp", ["exp copy"]) == "exp copy 2"
    assert copy_name("exp", ["exp copy", "exp copy 2"]) == "exp copy 3"
    assert copy_name("exp copy", ["exp", "exp copy"]) == "exp copy 2"  # not "exp copy copy"
    assert copy_name("exp copy 7", ["exp copy 7"]) == "exp copy"
    long = copy_name("x" * MAX_NAME_CHARS, [])
    assert len(long) == MAX_NAME_CHARS and long.endswith(" copy") and name_problem(long) is None
    assert name_problem(copy_name("a " + "b" * 250, [])) is None  # no space before " copy"
