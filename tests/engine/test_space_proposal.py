"""Proposing a space from a script's sweeplab.param calls, and goals from KPI names."""

from __future__ import annotations

import pytest

from app.engine.search.base import Goal, goal_for_metric
from app.engine.space import space_to_dict, validate
from app.engine.space.proposal import (
    ScriptParam,
    params_in_script,
    propose_number,
    space_from_script,
)


@pytest.mark.parametrize(("name", "goal"), [
    ("val_acc", Goal.MAX), ("accuracy", Goal.MAX), ("auc", Goal.MAX), ("f1", Goal.MAX),
    ("test_score", Goal.MAX), ("r2", Goal.MAX), ("top1", Goal.MAX), ("loss", Goal.MIN),
    ("val_loss", Goal.MIN), ("error", Goal.MIN), ("mse", Goal.MIN), ("kpi", Goal.MIN),
    ("acc_loss", Goal.MIN)])
def test_goal_for_metric(name: str, goal: Goal) -> None:
    assert goal_for_metric(name) is goal


def test_params_are_read_with_ast_under_any_import_form() -> None:
    text = ("import sweeplab as sl\nfrom sweeplab import param as p\n"
            "a = sl.param('lr', 1e-3)\nb = p('units', default=-2)\n"
            "c = sl.param('tag', make())\nd = sl.param('lr', 5)\nother.param('x', 1)\n")
    assert params_in_script(text, "train.py") == [
        ScriptParam("lr", 1e-3, 3), ScriptParam("units", -2, 4), ScriptParam("tag", None, 5)]


def test_text_that_is_not_python_is_searched_with_a_regex() -> None:
    text = "def broken(:\n    sweeplab.param('lr', 0.1)\n    sweeplab.param(\"n\")\n"
    assert params_in_script(text, "train.py") == [ScriptParam("lr", 0.1, 2),
                                                  ScriptParam("n", None, 3)]


def test_the_proposed_space_is_valid_and_nests_dotted_names() -> None:
    params = [ScriptParam("optimizer", "sgd", 1), ScriptParam("optimizer.lr", 0.1, 2),
              ScriptParam("net.units", 64, 3), ScriptParam("use_bn", True, 4),
              ScriptParam("act", "relu", 5), ScriptParam("bad-name", 1, 6)]
    proposal = space_from_script(params)
    assert validate(proposal.space) == []
    doc = space_to_dict(proposal.space)["space"]
    assert [n["name"] for n in doc] == ["optimizer", "net", "use_bn", "act"]
    assert doc[0]["values"][0]["name"] == "sgd" and doc[0]["default"] == "sgd"
    assert doc[1]["children"][0] == {"name": "units", "type": "number", "auto": True,
                                     "integer": True, "distribution": "uniform", "min": 16,
                                     "max": 256, "step": 1, "default": 64}
    assert proposal.notes == ["line 6: 'bad-name' is not a dotted name of identifiers "
                              "(letters, digits and _, starting with a letter)"]


def test_numbers_by_name() -> None:
    lr = propose_number("lr")
    assert (lr.distribution.value, lr.min, lr.max, lr.default) == ("loguniform", 1e-5, 0.1,
                                                                   1e-3)
    wide = propose_number("lr", 3.0)
    assert (wide.min, wide.max, wide.default) == (1e-5, 10.0, 3.0)
    assert propose_number("x").integer is False and propose_number("epochs").integer
    odd = propose_number("x", 7.5)
    assert odd.min <= 7.5 <= odd.max
