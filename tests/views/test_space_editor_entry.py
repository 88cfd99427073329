"""Issue 17.5: the quick entry paths of the space editor, with real key and mouse events:
a node added by its name, Enter on to the next row, Ctrl+Enter and Ctrl+Shift+Enter,
names completed; each one undo step, bad input refused with a message, nothing lost."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QToolButton
from pytestqt.qtbot import QtBot

from app.engine.space import space_from_dict
from app.engine.space.nodes import (
    BooleanParam,
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    NumberParam,
    StringParam,
)
from app.views.space_editor import NodeKind, SpaceEditError, SpaceEditor
from app.views.space_editor.cells import Column, number_range_text
from app.views.space_editor.editors import NumberRangeEditor
from app.views.space_editor.fields import parse_range_text
from app.views.space_editor.tree import kind_for_name
from tests.engine.spaces import EVERY_KIND
from tests.views.hands import Hands, Key, active_space_editor

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def editor(qtbot: QtBot) -> SpaceEditor:
    return active_space_editor(qtbot)


@pytest.fixture
def hands(qtbot: QtBot) -> Hands:
    return Hands(qtbot)


def editing(editor: SpaceEditor, column: Column) -> bool:
    current = editor.tree.currentIndex()
    return current.column() == column and editor.tree.indexWidget(current) is not None


def name_line(editor: SpaceEditor) -> QLineEdit:
    widget = editor.tree.indexWidget(editor.tree.currentIndex())
    assert isinstance(widget, QLineEdit)
    return widget


def add_button(editor: SpaceEditor) -> QToolButton:
    return next(b for b in editor.findChildren(QToolButton) if b.text() == "+ Add")


def test_a_click_on_add_gives_the_node_the_kind_its_name_says(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    assert "name" in add_button(editor).toolTip() and "Ctrl+Enter" in add_button(
        editor).toolTip()
    expected = {"use_bn": BooleanParam, "tag": StringParam, "lr": NumberParam,
                "activation": Choice, "optimizer": Choice}
    for name in expected:
        hands.click(add_button(editor))
        qtbot.waitUntil(lambda: editing(editor, Column.NAME))
        assert name_line(editor).text().startswith("param")
        hands.type(name)
        if name_line(editor).text() != name:
            hands.key(Key.Key_Delete)  # a completion it does not want
        hands.key(Key.Key_Tab)  # Tab commits it and goes on (to a number's type)
        qtbot.waitUntil(lambda n=name: editor.model.space().find(n) is not None)
        hands.key(Key.Key_Escape)
        qtbot.waitUntil(lambda: editor.tree.indexWidget(editor.tree.currentIndex()) is None)
    space = editor.model.space()
    names = [n.name for n in space.children]
    assert names == list(expected)
    for name in names:
        assert isinstance(space.find(name), expected[name])
    activation, optimizer = space.find("activation"), space.find("optimizer")
    assert isinstance(activation, Choice) and activation.kind is ChoiceKind.STRINGS
    assert isinstance(optimizer, Choice) and optimizer.kind is ChoiceKind.GROUPS
    lr = space.find("lr")
    assert isinstance(lr, NumberParam) and lr.distribution is not None \
        and lr.distribution.is_log  # its range from its name, as before

    # naming is one undo step: back to the number it was, then the add goes
    steps = editor.undo_stack.count()
    editor.undo_action.trigger()
    assert isinstance(editor.model.space().children[4], NumberParam)
    assert editor.model.space().children[4].name.startswith("param")
    editor.undo_action.trigger()
    assert editor.undo_stack.index() == steps - 2 and len(editor.model.space().children) == 4
    editor.redo_action.trigger()
    editor.redo_action.trigger()
    assert isinstance(editor.model.space().find("optimizer"), Choice)


def test_kinds_from_names() -> None:
    assert [kind_for_name(n) for n in ("use_bn", "is_training", "bias_enabled", "tag",
                                       "run_name", "data_dir", "activation", "loss",
                                       "optimizer", "scheduler", "lr", "epochs", "username")
            ] == [NodeKind.BOOLEAN] * 3 + [NodeKind.STRING] * 3 + [
        NodeKind.CHOICE_OF_STRINGS] * 2 + [NodeKind.CHOICE_OF_GROUPS] * 2 + [
        NodeKind.NUMBER] * 3


def test_a_node_added_from_the_menu_keeps_its_kind_whatever_its_name(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    number = next(a for a in editor.add_menu.actions() if a.text() == "number")
    number.trigger()
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.type("use_gpu")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: editor.model.space().find("use_gpu") is not None)
    assert isinstance(editor.model.space().find("use_gpu"), NumberParam)


def test_enter_at_the_end_of_the_row_goes_on_into_groups_and_branches(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    group = next(a for a in editor.add_menu.actions() if a.text() == "group")
    group.trigger()
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.type("dense")
    hands.key(Key.Key_Return)  # a group's row ends at its name: on into the group
    qtbot.waitUntil(lambda: editing(editor, Column.NAME)
                    and editor.current_index().parent() == editor.model.index_for_path(
                        "dense"))
    hands.type("width")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: editing(editor, Column.DEFAULT))
    hands.key(Key.Key_Escape)
    qtbot.waitUntil(lambda: not editing(editor, Column.DEFAULT))
    assert [n.name for n in editor.model.space().children] == ["dense"]
    dense = editor.model.space().find("dense")
    assert isinstance(dense, Group) and [c.name for c in dense.children] == ["width"]

    # a click elsewhere leaves the new row unnamed: it goes
    hands.key(Key.Key_Return, CTRL)  # Ctrl+Enter: a node after this one
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    assert len(dense.children) == 2
    hands.click_cell(editor.tree, editor.model.index_for_path("dense"))
    qtbot.waitUntil(lambda: len(dense.children) == 1)
    assert not editor.undo_stack.canRedo()

    hands.key(Key.Key_Return, CTRL)  # after the group, at the top level
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.type("optim")  # completes to optimizer: a choice of groups by its name
    assert name_line(editor).text() == "optimizer"
    hands.key(Key.Key_Return)  # -> default
    qtbot.waitUntil(lambda: editing(editor, Column.DEFAULT))
    hands.key(Key.Key_Return)  # -> branch names
    qtbot.waitUntil(lambda: editing(editor, Column.SEARCH))
    hands.key(Key.Key_Return)  # the row's end: on into its first branch
    qtbot.waitUntil(lambda: editing(editor, Column.NAME)
                    and editor.current_index().parent() == editor.model.index_for_path(
                        "optimizer.a"))
    hands.type("lr")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: editor.model.space().find("optimizer.a.lr") is not None)


def test_ctrl_shift_enter_adds_inside_and_says_why_it_cannot(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add(NodeKind.GROUP)
    editor.model.set_fields(editor.current_index(), name="block")
    editor.tree.setFocus()
    hands.key(Key.Key_Return, CTRL_SHIFT)
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.type("units")
    hands.key(Key.Key_Return, CTRL)  # also while typing: the name is kept, a row added
    qtbot.waitUntil(lambda: editing(editor, Column.NAME)
                    and editor.current_index().row() == 1)
    block = editor.model.space().find("block")
    assert isinstance(block, Group) and block.children[0].name == "units"
    units = block.children[0]
    assert isinstance(units, NumberParam) and units.integer
    hands.key(Key.Key_Escape)
    qtbot.waitUntil(lambda: len(block.children) == 1)

    editor.select("block.units")
    before = editor.model.space()
    count = editor.undo_stack.count()
    hands.key(Key.Key_Return, CTRL_SHIFT)  # a number takes no children
    assert "Not done" in editor.status.text() and "no children" in editor.status.text()
    assert editor.undo_stack.count() == count and editor.model.space() is before
    assert [c.name for c in block.children] == ["units"]


def test_a_taken_name_is_refused_with_a_message_and_the_row_stays(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add(NodeKind.STRING)
    editor.model.set_fields(editor.current_index(), name="tag", default="x")
    editor.tree.setFocus()
    hands.key(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.type("tag")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: "taken" in editor.status.text())
    assert "tag" in editor.status.text()
    space = editor.model.space()
    first = space.children[0]
    assert isinstance(first, StringParam) and (first.name, first.default) == ("tag", "x")
    assert len(space.children) == 2 and space.children[1].name.startswith("param")


def test_names_complete_from_common_names_and_the_space(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add(NodeKind.NUMBER)
    editor.model.set_fields(editor.current_index(), name="my_rate")
    editor.tree.setFocus()
    hands.key(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    line = name_line(editor)
    hands.type("my")
    assert line.text() == "my_rate"  # a name of the space
    hands.key(Key.Key_A, CTRL)
    hands.type("ba")
    assert line.text() == "batch_size" and line.selectedText() == "tch_size"
    hands.key(Key.Key_Delete)  # refuses the completion
    assert line.text() == "ba"
    hands.key(Key.Key_A, CTRL)
    hands.type("pa")  # the names the editor makes up are not offered (param...)
    assert line.text() == "patience"
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: editor.model.space().find("patience") is not None)


def test_help_tells_the_keys(qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    shown: list[str] = []

    def read() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            shown.append(box.text())
            box.accept()
        else:
            qtbot.wait(10)
            read()

    QTimer.singleShot(0, read)
    editor.help_action.trigger()
    assert shown and all(k in shown[0] for k in ("Ctrl+Enter", "Ctrl+Shift+Enter",
                                                  "Delete", "use_", "optimizer"))
    assert "1e-5..0.1 log" in shown[0]
    # the keyboard's adds carry their keys (shown in the tree's context menu) and say so
    assert editor.add_after_action.shortcut().toString() == "Ctrl+Return"
    assert editor.add_inside_action.shortcut().toString() == "Ctrl+Shift+Return"
    assert "Ctrl+Enter" in editor.add_after_action.toolTip()


def test_a_range_typed_as_text_is_one_step_and_bad_text_stays_to_be_fixed(
        qtbot: QtBot, editor: SpaceEditor, hands: Hands) -> None:
    editor.add(NodeKind.NUMBER)
    editor.model.set_fields(editor.current_index(), name="lr")
    lr = editor.model.space().find("lr")
    assert isinstance(lr, NumberParam)
    range_editor = hands.double_click_cell(editor.tree,
                                           editor.model.index_for_path("lr", Column.SEARCH))
    assert isinstance(range_editor, NumberRangeEditor)
    steps = editor.undo_stack.count()
    hands.type("1e-4..abc log")  # a digit switches the range to one line of text
    assert range_editor.typed_text() == "1e-4..abc log"
    hands.key(Key.Key_Return)
    assert range_editor.problem.isVisible() and "'abc' is not a number" in \
        range_editor.problem.text()
    assert editor.tree.indexWidget(editor.model.index_for_path("lr", Column.SEARCH)) \
        is range_editor and range_editor.typed_text() == "1e-4..abc log"  # nothing lost
    assert editor.undo_stack.count() == steps
    for _ in "abc log":
        hands.key(Key.Key_Backspace)
    hands.type("0.1 log")
    hands.key(Key.Key_Return)  # the row added last: on to a new row, left with Escape
    qtbot.waitUntil(lambda: editing(editor, Column.NAME))
    hands.key(Key.Key_Escape)
    qtbot.waitUntil(lambda: editor.model.rowCount() == 1)
    assert (lr.distribution, lr.min, lr.max, lr.step) == (Distribution.LOGUNIFORM, 1e-4,
                                                         0.1, None)
    assert editor.undo_stack.count() == steps + 1  # the whole range: one step
    editor.undo_action.trigger()
    assert (lr.min, lr.max) == (1e-5, 0.1)

    editor.select("lr")
    units = hands.double_click_cell(editor.tree,
                                    editor.model.index_for_path("lr", Column.SEARCH))
    hands.type("16..128 step 16 int")
    hands.key(Key.Key_Return)
    qtbot.waitUntil(lambda: lr.integer)
    assert units is not None
    assert (lr.distribution, lr.min, lr.max, lr.step) == (Distribution.UNIFORM, 16, 128, 16)
    assert 16 <= lr.default <= 128 and isinstance(lr.default, int)  # moved inside
    assert editor.validity() == (True, "")


def test_range_text_reads_what_the_range_column_shows() -> None:
    space = space_from_dict(EVERY_KIND)
    for path, node in space.walk():
        if isinstance(node, NumberParam) and node.distribution is not None:
            fields = parse_range_text(number_range_text(node), path)
            for key, value in fields.items():
                assert getattr(node, key) == value or (
                    key == "step" and value is None), (path, key)
    with pytest.raises(SpaceEditError, match="two numbers"):
        parse_range_text("0.1", "lr: range")
    with pytest.raises(SpaceEditError, match="'step' needs a number"):
        parse_range_text("1..2 step", "lr: range")
