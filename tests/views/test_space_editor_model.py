"""The space editor's tree model: Qt's model tester, undoable edits, invariants, drag and drop."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.engine.errors import SpaceError
from app.engine.space import space_from_dict, space_to_dict
from app.engine.space.nodes import Distribution, NumberParam
from app.views.space_editor import NodeKind, SpaceEditError, SpaceTreeModel
from app.views.space_editor.cells import Column
from app.views.space_editor.model import INVALID_BACKGROUND
from tests.engine.spaces import EVERY_KIND, doc, number

Role = Qt.ItemDataRole


def make_model(document: dict[str, Any] = EVERY_KIND) -> SpaceTreeModel:
    model = SpaceTreeModel(space_from_dict(document))
    model.tester = QAbstractItemModelTester(  # type: ignore[attr-defined]
        model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    return model


def names(model: SpaceTreeModel, parent: QModelIndex = QModelIndex()) -> list[str]:
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def at(model: SpaceTreeModel, path: str, column: Column = Column.NAME) -> QModelIndex:
    index = model.index_for_path(path, column)
    assert index.isValid(), f"no node at {path}"
    return index


def test_model_tester_accepts_every_kind_of_edit_and_undo_restores_each_state(
        qtbot: QtBot) -> None:
    model = make_model()
    documents = [space_to_dict(model.space())]

    def step(edit: Any) -> None:
        edit()
        documents.append(space_to_dict(model.space()))

    for kind in NodeKind:
        step(lambda k=kind: model.add_node(k))
    step(lambda: model.add_node(NodeKind.GROUP, at(model, "optimizer")))
    step(lambda: model.add_node(NodeKind.NUMBER, at(model, "optimizer.sgd"), 0))
    step(lambda: model.set_fields(at(model, "first_dense.neurons"), name="units"))
    step(lambda: model.set_fields(at(model, "lr"), distribution="normal"))
    step(lambda: model.duplicate_node(at(model, "optimizer")))
    step(lambda: model.move_node(at(model, "first_dense"), at(model, "optimizer.adam"), 1))
    step(lambda: model.move_node(at(model, "tag"), QModelIndex(), model.rowCount()))
    step(lambda: model.remove_node(at(model, "optimizer_2")))
    step(lambda: model.setData(at(model, "use_bn", Column.AUTO), Qt.CheckState.Unchecked,
                               Role.CheckStateRole))
    assert model.undo_stack.count() == len(documents) - 1

    for expected in reversed(documents[:-1]):
        model.undo_stack.undo()
        assert space_to_dict(model.space()) == expected
    assert space_to_dict(model.space()) == space_to_dict(space_from_dict(EVERY_KIND))
    for expected in documents[1:]:
        model.undo_stack.redo()
        assert space_to_dict(model.space()) == expected


def test_undo_puts_back_the_very_same_node_objects() -> None:
    model = make_model()
    sgd = model.space().find("optimizer.sgd")
    model.remove_node(at(model, "optimizer.sgd"))
    assert model.space().find("optimizer.sgd") is None
    model.undo_stack.undo()
    assert model.space().find("optimizer.sgd") is sgd
    assert model.index_of(sgd) == at(model, "optimizer.sgd")


def test_rows_show_name_type_auto_default_and_range() -> None:
    model = make_model()
    row = [at(model, "lr", c).data() for c in Column]
    assert row == ["lr", "float", None, "1e-02", "loguniform [1e-04, 1e-01]"]
    assert at(model, "lr", Column.AUTO).data(Role.CheckStateRole) == Qt.CheckState.Checked
    assert at(model, "tag", Column.AUTO).data(Role.CheckStateRole) is None
    assert at(model, "noise", Column.SEARCH).data() == "normal(μ=0, σ=1)"
    assert at(model, "units", Column.SEARCH).data() == "quniform [16, 128] step 16"
    assert at(model, "optimizer", Column.TYPE).data() == "choice of groups"
    assert at(model, "optimizer", Column.SEARCH).data() == "sgd | adam"
    assert at(model, "optimizer.sgd", Column.TYPE).data() == "branch"
    assert names(model, at(model, "optimizer")) == ["sgd", "adam"]
    assert at(model, "optimizer.sgd.momentum").data(Role.ToolTipRole) == "optimizer.sgd.momentum"
    flags = model.flags(at(model, "tag", Column.AUTO))
    assert not flags & Qt.ItemFlag.ItemIsUserCheckable
    assert model.flags(at(model, "lr", Column.AUTO)) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.flags(at(model, "optimizer", Column.SEARCH)) & Qt.ItemFlag.ItemIsEditable


def test_new_nodes_are_valid_and_taken_names_get_suffixes() -> None:
    model = make_model(doc())
    for _ in range(3):
        model.add_node(NodeKind.NUMBER)
    model.add_node(NodeKind.CHOICE_OF_GROUPS)
    assert names(model) == ["number", "number_2", "number_3", "choice"]
    twin = model.duplicate_node(at(model, "number_2"))
    assert twin.data() == "number_4" and twin.row() == 2
    assert model.is_valid(), model.problems()
    model.add_node(NodeKind.GROUP, at(model, "choice"))
    model.add_node(NodeKind.GROUP, at(model, "choice"))
    assert names(model, at(model, "choice")) == ["a", "b", "branch", "branch_2"]


def test_only_groups_become_branches_and_leaves_take_no_children() -> None:
    model = make_model()
    with pytest.raises(SpaceEditError, match="optimizer: the branches of a choice of groups "
                                             "are groups, not a float"):
        model.add_node(NodeKind.NUMBER, at(model, "optimizer"))
    with pytest.raises(SpaceEditError, match="lr: a float has no children"):
        model.add_node(NodeKind.NUMBER, at(model, "lr"))
    with pytest.raises(ValueError, match=r"row 99 is outside 0\.\.2 of first_dense"):
        model.add_node(NodeKind.NUMBER, at(model, "first_dense"), 99)
    assert model.undo_stack.count() == 0


def test_first_branch_of_an_empty_choice_becomes_its_default() -> None:
    model = make_model(doc())
    choice = model.add_node(NodeKind.CHOICE_OF_GROUPS)
    for branch in ("a", "b"):
        model.remove_node(at(model, f"choice.{branch}"))
    assert not model.is_valid()
    model.add_node(NodeKind.GROUP, choice)
    assert model.node(choice).default == "branch"  # type: ignore[union-attr]
    assert model.is_valid()


def test_renaming_the_default_branch_renames_the_default_in_one_undo_step() -> None:
    model = make_model()
    assert model.set_fields(at(model, "optimizer.adam"), name="adamw")
    assert model.space().find("optimizer").default == "adamw"  # type: ignore[union-attr]
    model.undo_stack.undo()
    assert model.space().find("optimizer").default == "adam"  # type: ignore[union-attr]
    assert names(model, at(model, "optimizer")) == ["sgd", "adam"]


def test_rename_to_an_invalid_or_taken_name_is_refused(qtbot: QtBot) -> None:
    model = make_model()
    lr = at(model, "lr")
    with qtbot.waitSignal(model.editRefused) as refused:
        assert not model.setData(lr, "2fast")
    assert refused.args == ["lr: invalid name '2fast': use letters, digits and _, "
                            "starting with a letter"]
    with qtbot.waitSignal(model.editRefused) as refused:
        assert not model.setData(lr, "dropout")
    assert refused.args == ["lr: name 'dropout' is taken by a sibling"]
    assert lr.data() == "lr" and model.undo_stack.count() == 0
    assert model.setData(lr, "learning_rate")
    assert at(model, "learning_rate").row() == lr.row()


def test_bad_values_are_refused_with_the_node_and_field(qtbot: QtBot) -> None:
    model = make_model()
    cases = [
        (at(model, "lr"), {"min": "abc"}, "lr: min: expected a number, got 'abc'"),
        (at(model, "lr"), {"min": float("inf")}, "lr: min: must be finite, got inf"),
        (at(model, "lr"), {"distribution": "cauchy"}, "lr: distribution: expected one of "),
        (at(model, "tag"), {"auto": True}, "tag: a string has no editable field 'auto'"),
        (at(model, "batch"), {"default": 48}, "batch: default: 48 is not among the values "
                                              "(16, 32, 64)"),
        (at(model, "batch"), {"values": [16, "big"]}, "batch: values: expected a number, "
                                                      "got 'big'"),
        (at(model, "use_bn"), {"default": "maybe"}, "use_bn: default: expected true or false"),
        (at(model, "optimizer"), {"values": []}, "optimizer: a choice of groups has no "
                                                 "editable field 'values'"),
    ]
    for index, changes, message in cases:
        with pytest.raises(SpaceEditError) as caught:
            model.set_fields(index, **changes)
        assert str(caught.value).startswith(message)
    with qtbot.waitSignal(model.editRefused) as refused:
        assert not model.setData(at(model, "lr", Column.SEARCH), 42)
    assert refused.args[0].startswith("lr: expected the distribution and its parameters")
    with qtbot.waitSignal(model.editRefused) as refused:  # text is a range typed as text
        assert not model.setData(at(model, "lr", Column.SEARCH), "not a range")
    assert refused.args[0].startswith("lr: range: 'not' is not a number")
    assert model.undo_stack.count() == 0


def test_min_above_max_marks_the_node_red_and_reports_invalid(qtbot: QtBot) -> None:
    model = make_model()
    cell = at(model, "optimizer.sgd.lr", Column.SEARCH)
    with qtbot.waitSignal(model.validityChanged) as signal:
        assert model.setData(cell, {"distribution": Distribution.LOGUNIFORM, "min": 5.0,
                                    "max": 1.0})
    assert signal.args == [False, "optimizer.sgd.lr: min 5.0 > max 1.0"]
    assert cell.data(Role.BackgroundRole) == INVALID_BACKGROUND
    assert cell.data(Role.ToolTipRole) == "optimizer.sgd.lr: min 5.0 > max 1.0"
    assert at(model, "lr", Column.SEARCH).data(Role.BackgroundRole) is None
    assert [str(p) for p in model.problems()] == ["optimizer.sgd.lr: min 5.0 > max 1.0"]
    with qtbot.waitSignal(model.validityChanged) as signal:
        model.undo_stack.undo()
    assert signal.args == [True, ""]
    assert cell.data(Role.BackgroundRole) is None


def test_data_changed_carries_only_the_roles_that_changed(qtbot: QtBot) -> None:
    model = make_model()
    seen: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), b.column(), roles)))
    model.set_fields(at(model, "dropout"), default=0.2)
    row = at(model, "dropout").row()
    assert seen == [(row, Column.SEARCH, [Role.DisplayRole, Role.EditRole,
                                          Role.CheckStateRole])]
    seen.clear()
    model.set_fields(at(model, "dropout"), min=0.9)  # now min 0.9 > max 0.5
    assert (row, Column.SEARCH, [Role.BackgroundRole, Role.ForegroundRole, Role.ToolTipRole,
                                 Role.DecorationRole]) in seen


def test_number_edits_are_completed_sensibly() -> None:
    model = make_model(doc(number("x", default=2.5)))
    x = at(model, "x")
    model.setData(at(model, "x", Column.AUTO), Qt.CheckState.Checked.value, Role.CheckStateRole)
    node = model.node(x)
    assert isinstance(node, NumberParam)
    assert (node.auto, node.distribution, node.min, node.max) == (
        True, Distribution.UNIFORM, 0, 3.5)
    model.setData(at(model, "x", Column.SEARCH), {"distribution": "normal"})
    # normal ignores min and max, which validation refuses: switching drops them
    assert (node.mu, node.sigma, node.min, node.max) == (2.5, 3.5 / 4, None, None)
    assert model.is_valid(), model.problems()
    model.setData(at(model, "x", Column.TYPE), "int")
    assert (node.integer, node.default, node.mu) == (True, 2, 2)
    model.setData(at(model, "x", Column.SEARCH), {"distribution": "quniform"})
    assert (node.min, node.max, node.mu, node.sigma) == (0, 3, None, None)
    assert node.step is None and node.effective_step() == 1
    assert model.is_valid(), model.problems()
    model.setData(at(model, "x", Column.SEARCH), {"distribution": "randint", "step": 2})
    assert model.problems()[0].message.startswith("step 2 has no effect on randint")
    model.setData(at(model, "x", Column.SEARCH), {"distribution": None})
    assert (node.auto, node.distribution, node.min, node.max, node.step) == (
        False, None, None, None, None)
    assert at(model, "x", Column.SEARCH).data() == "fixed"
    assert model.is_valid(), model.problems()


@pytest.mark.parametrize(("fields", "node"), [
    ({"sigma": 0.1}, number("drop", "uniform", min=0, max=0.5, sigma=0.1, default=0.2)),
    ({"distribution": "randint", "min": 1, "max": 8, "step": 2, "default": 2},
     number("drop", "randint", min=1, max=8, step=2, default=2)),
])
def test_the_editor_refuses_what_the_file_check_refuses(fields: dict[str, Any],
                                                        node: dict[str, Any]) -> None:
    """Issue 15.1: one validation function for both, so the same message."""
    model = make_model(doc(number("drop", "uniform", min=0, max=0.5, default=0.2)))
    assert model.is_valid()
    model.set_fields(at(model, "drop"), **fields)
    with pytest.raises(SpaceError) as caught:
        space_from_dict(doc(node))
    assert [str(p) for p in model.problems()] == [str(p) for p in caught.value.problems]
    assert "has no effect on" in model.problems()[0].message
    assert at(model, "drop", Column.SEARCH).data(Qt.ItemDataRole.ToolTipRole)


def test_choice_values_edit_keeps_the_default_among_them() -> None:
    model = make_model()
    assert model.setData(at(model, "act", Column.SEARCH), ["elu", "gelu"])
    node = model.space().find("act")
    assert node.values == ["elu", "gelu"] and node.default == "elu"  # type: ignore[union-attr]
    assert model.setData(at(model, "batch", Column.SEARCH), "8, 16, 32.5")
    node = model.space().find("batch")
    # numbers: the middle value, as a number's default moves to the middle of its range
    assert node.values == [8, 16, 32.5] and node.default == 16  # type: ignore[union-attr]
    assert model.setData(at(model, "batch", Column.DEFAULT), "32.5")
    assert node.default == 32.5  # type: ignore[union-attr]


def drag(model: SpaceTreeModel, *paths: str) -> Any:
    return model.mimeData([at(model, p, c) for p in paths for c in Column])


def test_drag_and_drop_reorders_and_reparents_with_suffixes_and_undo() -> None:
    model = make_model()
    before = space_to_dict(model.space())
    move = Qt.DropAction.MoveAction
    data = drag(model, "optimizer.sgd.lr")
    assert model.canDropMimeData(data, move, -1, 0, QModelIndex())
    assert model.dropMimeData(data, move, 0, 0, QModelIndex())
    assert names(model)[:2] == ["lr_2", "tag"]  # a top-level lr exists
    assert names(model, at(model, "optimizer.sgd")) == ["momentum"]

    data = drag(model, "first_dense")
    sgd = at(model, "optimizer.sgd", Column.DEFAULT)  # any column of the target row
    assert model.dropMimeData(data, move, -1, 0, sgd)
    assert names(model, at(model, "optimizer.sgd")) == ["momentum", "first_dense"]

    data = drag(model, "tag")  # reorder within the top level: after wd
    assert model.dropMimeData(data, move, 4, 0, QModelIndex())
    assert names(model)[:4] == ["lr_2", "lr", "wd", "tag"]

    for _ in range(3):
        model.undo_stack.undo()
    assert space_to_dict(model.space()) == before


def test_drops_that_break_the_invariants_are_refused() -> None:
    model = make_model()
    move = Qt.DropAction.MoveAction
    optimizer, lr = at(model, "optimizer"), at(model, "lr")
    assert not model.canDropMimeData(drag(model, "dropout"), move, -1, 0, optimizer)
    assert not model.canDropMimeData(drag(model, "dropout"), move, -1, 0, lr)
    assert not model.canDropMimeData(drag(model, "first_dense"), move, -1, 0,
                                     at(model, "first_dense.inner"))
    assert not model.dropMimeData(drag(model, "first_dense"), move, 0, 0,
                                  at(model, "first_dense"))
    assert model.canDropMimeData(drag(model, "first_dense"), move, -1, 0, optimizer)
    other = make_model()
    assert not other.canDropMimeData(drag(model, "lr"), move, -1, 0, QModelIndex())
    assert model.undo_stack.count() == 0
    with pytest.raises(SpaceEditError, match="cannot move a node into itself"):
        model.move_node(at(model, "first_dense"), at(model, "first_dense.inner"))


def test_the_views_clean_up_after_a_move_drop_removes_nothing() -> None:
    # After a drop with MoveAction, QAbstractItemView calls removeRows on the
    # dragged rows; the move is already done, so the model must not remove them.
    model = make_model()
    before = space_to_dict(model.space())
    assert model.removeRows(0, 1, QModelIndex()) is False
    assert space_to_dict(model.space()) == before


def test_dropping_a_node_where_it_is_changes_nothing() -> None:
    model = make_model()
    row = at(model, "dropout").row()
    for target in (row, row + 1):
        assert model.dropMimeData(drag(model, "dropout"), Qt.DropAction.MoveAction, target, 0,
                                  QModelIndex())
    assert model.undo_stack.count() == 0 and at(model, "dropout").row() == row


def test_set_space_resets_the_model_and_clears_undo(qtbot: QtBot) -> None:
    model = make_model(doc())
    model.add_node(NodeKind.NUMBER)
    model.set_fields(at(model, "number"), min=5)
    assert not model.is_valid()
    with qtbot.waitSignal(model.validityChanged) as signal:
        model.set_space(space_from_dict(EVERY_KIND))
    assert signal.args == [True, ""]
    assert model.undo_stack.count() == 0 and "optimizer" in names(model)
